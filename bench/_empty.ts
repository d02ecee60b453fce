// An empty script: what `deno run` costs before any code of ours runs.
