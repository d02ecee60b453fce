// The JSDoc and Markdown examples `deno test --doc` runs, written as test
// modules that hold many examples each: deno test loads every module in a
// fresh isolate, and one module per example made the examples cost most of
// the suite's CPU. Each example is still its own `Deno.test`, named as deno
// names it (`file:///path/file.ts#12-30.ts`), its code in its own function
// scope; its imports are hoisted to the module (as deno does), and the names
// it uses from the file it documents are imported from there (deno's
// auto-import). Two examples whose imports bind one name to different things
// go to different modules; one that may change what the next would see (a
// global, a prototype, an import for its effect) gets a module of its own. The modules are run with --no-check: the examples
// are type-checked, one by one, by `deno check --doc`.

import { EXAMPLE_LANGS } from "./_test_files.ts";

/** One example: where it is and its code. */
export interface Example {
  /** The file it is in, relative to the root. */
  file: string;
  /** The test's name, as deno test --doc names it. */
  name: string;
  /** Its code, as deno runs it. */
  code: string;
}

/** The examples deno test --doc runs in `file` (relative to `root`). */
export async function examplesIn(root: string, file: string): Promise<Example[]> {
  const markdown = file.endsWith(".md");
  const url = new URL(`file://${root}/${file}`).href;
  const lines = (await Deno.readTextFile(`${root}/${file}`)).split("\n");
  const found: Example[] = [];
  let open = -1;
  let runs = false;
  let code: string[] = [];
  for (const [index, line] of lines.entries()) {
    const fence = line.match(/^\s*(?:\*\s*)?```(.*)$/);
    if (fence === null) {
      // In JSDoc the leading `*` and one space are the comment's, not the code's.
      if (open >= 0) code.push(markdown ? line : line.replace(/^\s*\*\s?/, ""));
      continue;
    }
    if (open < 0) {
      const [lang = "", ...attributes] = fence[1]!.trim().split(/\s+/);
      runs = (EXAMPLE_LANGS.has(lang) || (lang === "" && !markdown)) &&
        !attributes.includes("ignore");
      open = index + 1;
      code = [];
      continue;
    }
    // deno names an example by its opening fence's line and the line after its closing one.
    if (runs) found.push({ file, name: `${url}#${open}-${index + 2}.ts`, code: code.join("\n") });
    open = -1;
  }
  return found;
}

/** One hoisted import: what a local name is bound to. */
interface Binding {
  local: string;
  /** `specifier|imported name` (`*`: the namespace, `default`); equal keys bind the same thing. */
  key: string;
  statement: string;
}

/**
 * An import statement at the start of a line. Its clause holds no quote or
 * `;`: else `import "a";` followed by `import { b } from "c";` would read
 * as one statement.
 */
const IMPORT =
  /^import\s+(?:([^"';]*?)\s+from\s+)?(["'])([^"']+)\2\s*(with\s*\{[^}]*\})?\s*;?[ \t]*$/gm;

/**
 * Whether an offset of `code` is in the text of a template string or in a
 * block comment, where a line that starts with `import` is no import.
 * (Quoted strings end with their line; regular expressions are not told
 * apart, as they seldom hold a quote or a backtick.)
 */
function textAt(code: string): (offset: number) => boolean {
  const spans: Array<[number, number]> = [];
  /** Each open `{`: true for a template's `${`. */
  const braces: boolean[] = [];
  /** In a template's text since this offset; -1: in code. */
  let text = -1;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (text >= 0) {
      if (c === "\\") i++;
      else if (c === "`" || (c === "$" && code[i + 1] === "{")) {
        spans.push([text, i]);
        text = -1;
        if (c === "$") {
          braces.push(true);
          i++;
        }
      }
    } else if (c === "`") text = i + 1;
    else if (c === "{") braces.push(false);
    else if (c === "}" && braces.pop() === true) text = i + 1;
    else if (c === '"' || c === "'") {
      while (++i < code.length && code[i] !== c && code[i] !== "\n") {
        if (code[i] === "\\") i++;
      }
    } else if (c === "/" && (code[i + 1] === "/" || code[i + 1] === "*")) {
      const block = code[i + 1] === "*";
      const end = code.indexOf(block ? "*/" : "\n", i + 2);
      const stop = end < 0 ? code.length : end + (block ? 2 : 0);
      if (block) spans.push([i, stop]);
      i = stop - 1;
    }
  }
  if (text >= 0) spans.push([text, code.length]);
  return (offset) => spans.some(([from, to]) => offset >= from && offset < to);
}

/** An example's import statements, parsed; its code without them. */
function splitImports(
  example: Example,
): { bindings: Binding[]; sideEffects: string[]; body: string } {
  const bindings: Binding[] = [];
  const sideEffects: string[] = [];
  const base = example.name.replace(/#[^#]*$/, "");
  const inText = textAt(example.code);
  const body = example.code.replace(
    IMPORT,
    (all, clause: string | undefined, _q, spec, attrs, at) => {
      if (inText(at)) return all; // a line of a template string or a comment
      // Relative specifiers are relative to the documented file, not to the generated module.
      const specifier = spec.startsWith(".") ? new URL(spec, base).href : spec;
      const from = `${JSON.stringify(specifier)}${attrs ? ` ${attrs}` : ""}`;
      if (clause === undefined) {
        sideEffects.push(`import ${from};`);
        return "";
      }
      clause = clause.trim();
      if (/^type\s/.test(clause)) return ""; // types only: nothing at run time
      const named = clause.match(/\{([\s\S]*)\}/);
      const rest = clause.replace(/\{[\s\S]*\}/, "").split(",").map((part) => part.trim())
        .filter((part) => part !== "");
      for (const part of rest) {
        const namespace = part.match(/^\*\s+as\s+(\w+)$/);
        if (namespace !== null) {
          const local = namespace[1]!;
          bindings.push({
            local,
            key: `${from}|*`,
            statement: `import * as ${local} from ${from};`,
          });
        } else if (/^[\w$]+$/.test(part)) {
          bindings.push({
            local: part,
            key: `${from}|default`,
            statement: `import ${part} from ${from};`,
          });
        } else {
          throw new Error(`${example.name}: cannot hoist the import of ${clause}`);
        }
      }
      for (const item of (named?.[1] ?? "").split(",").map((part) => part.trim())) {
        if (item === "" || /^type\s/.test(item)) continue;
        const [imported, local = imported] = item.split(/\s+as\s+/).map((part) => part.trim());
        bindings.push({
          local: local!,
          key: `${from}|${imported}`,
          statement: `import { ${
            imported === local ? local : `${imported} as ${local}`
          } } from ${from};`,
        });
      }
      return "";
    },
  );
  return { bindings, sideEffects, body };
}

/** A generated test module: its examples and its hoisted imports by local name. */
interface Module {
  examples: Array<{ name: string; body: string }>;
  bindings: Map<string, Binding>;
  sideEffects: Set<string>;
  /** Holds one example that must run on its own. */
  alone: boolean;
}

/**
 * Code that may change state the next example would see: a global
 * (`globalThis`, `window.`, `self.`), a prototype, or process-wide
 * registrations (`setGlobal...`). Under deno test --doc each example has an
 * isolate of its own.
 */
const GLOBAL_STATE = /\bsetGlobal\w*\(|\bglobalThis\b|\b(?:window|self)\s*\.|\.prototype\b/;

/**
 * Test modules (their source) holding `examples`, as few as the examples'
 * imports allow, at most `perModule` each; `exported` lists the value names
 * each documented file exports (what deno imports into its examples when
 * they use them).
 */
export function exampleModules(
  examples: Example[],
  exported: Map<string, string[]>,
  perModule = Infinity,
): string[] {
  const modules: Module[] = [];
  for (const example of examples) {
    const { bindings, sideEffects, body } = splitImports(example);
    // deno's auto-import: the documented file's exports the example uses and does not import.
    const own = new Set(bindings.map(({ local }) => local));
    const file = example.name.replace(/#[^#]*$/, "");
    for (const name of exported.get(example.file) ?? []) {
      if (
        own.has(name) || !new RegExp(`(?<![\\w$.])${name.replace("$", "\\$")}(?![\\w$])`).test(body)
      ) {
        continue;
      }
      const from = JSON.stringify(file);
      bindings.push({
        local: name,
        key: `${from}|${name}`,
        statement: `import { ${name} } from ${from};`,
      });
    }
    // An example that sets process-wide state (OpenTelemetry's global tracer
    // provider, context manager, a global), or imports a module for its
    // effect, would leak it into the next: it runs alone.
    const alone = sideEffects.length > 0 || GLOBAL_STATE.test(body);
    const fits = (module: Module) =>
      !alone && !module.alone && module.examples.length < perModule &&
      bindings.every(({ local, key }) => (module.bindings.get(local)?.key ?? key) === key);
    let module = modules.find(fits);
    if (module === undefined) {
      module = { examples: [], bindings: new Map(), sideEffects: new Set(), alone };
      modules.push(module);
    }
    for (const binding of bindings) module.bindings.set(binding.local, binding);
    for (const statement of sideEffects) module.sideEffects.add(statement);
    module.examples.push({ name: example.name, body: rewriteBody(example, body) });
  }
  return modules.map((module) =>
    [
      "// Generated by scripts/_doc_examples.ts: examples, each its own test.",
      ...module.sideEffects,
      ...[...module.bindings.values()].map(({ statement }) => statement),
      ...module.examples.map(({ name, body }) =>
        `Deno.test(${JSON.stringify(name)}, async () => {\n${body}\n});`
      ),
      "",
    ].join("\n")
  );
}

/**
 * The example's code as a function body: `export` dropped from its
 * declarations (values and types: in a function it is a syntax error),
 * `import.meta.url` its own URL.
 */
function rewriteBody(example: Example, body: string): string {
  const rewritten = body
    .replace(
      /^export\s+(?=(?:declare\s+)?(?:(?:const|let|var|function|async|class|abstract)\b|(?:interface|type|enum|namespace)\s+[\w$]))/gm,
      "",
    )
    .replaceAll("import.meta.url", JSON.stringify(example.name));
  const other = rewritten.match(/import\.meta\.(?!main\b)\w+/);
  if (other !== null) throw new Error(`${example.name}: ${other[0]} is not supported here`);
  return rewritten;
}

const DECLARED =
  /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(function\*?|class|const|let|var|enum|namespace|interface|type)\s+([\w$]+)/gm;
const LISTED = /^export\s+(type\s+)?\{([^}]*)\}/gm;

/** The names `source` exports that may be values (types are left out: they are not run). */
export function exportedValues(source: string): string[] {
  const names = new Set<string>();
  for (const [, kind, name] of source.matchAll(DECLARED)) {
    if (kind !== "interface" && kind !== "type") names.add(name!);
  }
  for (const [, typeOnly, list] of source.matchAll(LISTED)) {
    if (typeOnly !== undefined) continue;
    for (const item of list!.split(",").map((part) => part.trim())) {
      if (item === "" || /^type\s/.test(item)) continue;
      const name = item.split(/\s+as\s+/).at(-1)!.trim();
      if (name !== "default") names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * Writes the test modules for the examples in `files` (relative to `root`),
 * at most `perModule` examples each, into `dir`; resolves with each module's
 * path and how many examples it holds.
 */
export async function writeExampleModules(
  root: string,
  files: string[],
  dir: string,
  perModule = Infinity,
): Promise<Array<{ path: string; examples: number }>> {
  const examples: Example[] = [];
  const exported = new Map<string, string[]>();
  for (const file of files) {
    examples.push(...await examplesIn(root, file));
    // A Markdown file exports nothing.
    if (!file.endsWith(".md")) {
      exported.set(file, exportedValues(await Deno.readTextFile(`${root}/${file}`)));
    }
  }
  const written: Array<{ path: string; examples: number }> = [];
  for (const [index, source] of exampleModules(examples, exported, perModule).entries()) {
    const path = `${dir}/examples_${index}.ts`;
    await Deno.writeTextFile(path, source);
    written.push({ path, examples: (source.match(/^Deno\.test\(/gm) ?? []).length });
  }
  return written;
}
