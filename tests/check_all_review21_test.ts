// scripts/check_all.ts bounds a hung test file: killed after
// TEST_JOB_TIMEOUT, counted as failed, its output shown; it runs the JSDoc
// and Markdown examples many to a module, as deno test --doc runs them.

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertStringIncludes,
} from "./_assert.ts";
import { writeExampleModules } from "../scripts/_doc_examples.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("check_all: a test file that hangs is killed after TEST_JOB_TIMEOUT and fails the run", async () => {
  const started = performance.now();
  // Without the bound the run never ends: stop it here instead, as a failure.
  const abort = new AbortController();
  const bound = setTimeout(() => abort.abort(), 90_000);
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/check_all.ts", "tests/fixtures/check_all/hangs.ts"],
    cwd: ROOT,
    env: { TEST_JOB_TIMEOUT: "5" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: abort.signal,
  }).output().finally(() => clearTimeout(bound));
  const output = new TextDecoder().decode(stdout);
  assertNotEquals(code, 0, output);
  assertStringIncludes(output, "killed: still running after 5 s");
  // The file is among the failures (on a busy machine its type check may
  // pass the 5 s bound too and be listed beside it).
  assertMatch(output, /^failed: .*tests\/fixtures\/check_all\/hangs\.ts/m);
  assert(performance.now() - started < 60_000, "the run ended soon after the timeout");
});

/** Runs check_all.ts on `files`; its status and stdout. */
async function checkAll(files: string[], env: Record<string, string> = {}) {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/check_all.ts", ...files],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, output: new TextDecoder().decode(stdout) };
}

Deno.test("check_all: a test file that exits before its tests run fails, though deno test passed it", async () => {
  const { code, output } = await checkAll(["tests/fixtures/check_all/exits_early.ts"]);
  assertNotEquals(code, 0, output);
  assertStringIncludes(output, "ran no test");
  assertStringIncludes(output, "tests: 0 passed, 1 failed");
});

Deno.test("check_all: a skipped test is listed by its own name, and fails the run in CI", async () => {
  const { code, output } = await checkAll(["tests/fixtures/check_all/skips.ts"], { CI: "true" });
  assertNotEquals(code, 0, output);
  assertStringIncludes(output, '  needs a "broker" <here>\n');
  assertStringIncludes(output, "in CI a skipped test is a failure");
});

/** Each test's name in a junit report, and whether it failed. */
function junitResults(xml: string): Record<string, "ok" | "failed"> {
  const results: Record<string, "ok" | "failed"> = {};
  for (
    const [, name, body] of xml.matchAll(
      /<testcase\b[^>]*\bname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g,
    )
  ) {
    results[name!] = /<(?:failure|error)\b/.test(body!) ? "failed" : "ok";
  }
  return results;
}

/** Runs deno test with `args` in the root, junit into `dir`; the results by test name. */
async function denoTest(args: string[], dir: string): Promise<Record<string, "ok" | "failed">> {
  const junit = `${dir}/${crypto.randomUUID()}.xml`;
  await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", "--allow-read", `--junit-path=${junit}`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return junitResults(await Deno.readTextFile(junit));
}

/**
 * The fixtures' examples, each group packed on its own by writeExampleModules
 * as check_all.ts packs them; one group per test below.
 */
const GROUPS = [
  ["tests/fixtures/check_all/examples.ts", "tests/fixtures/check_all/examples.md"],
  ["tests/fixtures/check_all/globals.ts"],
  ["tests/fixtures/check_all/exports.ts"],
  ["tests/fixtures/check_all/side_effects.ts"],
  ["tests/fixtures/check_all/strings.ts"],
];

/** Each group's modules, and every example's result packed (`ours`) and under deno test --doc. */
interface Runs {
  modules: number[];
  ours: Record<string, "ok" | "failed">;
  deno: Record<string, "ok" | "failed">;
}
let runs: Promise<Runs> | undefined;

/**
 * The packed modules of every group in one deno test run, and every fixture
 * in one deno test --doc run (each module, and each example under --doc, has
 * an isolate of its own in either; test names hold the file's URL): two
 * processes instead of two per test.
 */
function allRuns(): Promise<Runs> {
  runs ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "check-all-examples-" });
    try {
      const modules: Array<{ path: string }[]> = [];
      for (const [index, files] of GROUPS.entries()) {
        const groupDir = `${dir}/${index}`;
        await Deno.mkdir(groupDir);
        modules.push(await writeExampleModules(ROOT.replace(/\/$/, ""), files, groupDir));
      }
      const [ours, deno] = await Promise.all([
        denoTest(modules.flat().map(({ path }) => path), dir),
        denoTest(["--doc", ...GROUPS.flat()], dir),
      ]);
      return { modules: modules.map((group) => group.length), ours, deno };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return runs;
}

/** Group `index`'s examples, packed and under deno test --doc: each one's result by name. */
async function packedAndDeno(index: number) {
  const { ours, deno } = await allRuns();
  const urls = GROUPS[index]!.map((file) => new URL(file, `file://${ROOT}`).href);
  const of = (results: Record<string, "ok" | "failed">) =>
    Object.fromEntries(
      Object.entries(results).filter(([name]) => urls.some((url) => name.startsWith(`${url}#`))),
    );
  return { ours: of(ours), deno: of(deno) };
}

Deno.test("check_all: examples packed into shared modules run, pass and fail as under deno test --doc, by the same names", async () => {
  // The two examples binding `check` to different assertions cannot share a module.
  assertEquals((await allRuns()).modules[0], 2);
  const { ours, deno } = await packedAndDeno(0);
  assertEquals(Object.keys(deno).length, 5);
  assertEquals(Object.values(deno).filter((result) => result === "failed").length, 1);
  assertEquals(ours, deno);
});

Deno.test("check_all: an example that sets a global does not share it with the next example, as under deno test --doc", async () => {
  const { ours, deno } = await packedAndDeno(1);
  // Each example has an isolate of its own there: the second one fails.
  assertEquals(Object.values(deno).filter((result) => result === "failed").length, 1);
  assertEquals(ours, deno);
});

Deno.test("check_all: an example that exports types, an enum or an abstract class runs packed, and so do the examples beside it", async () => {
  const { ours, deno } = await packedAndDeno(2);
  assertEquals(Object.values(deno), ["ok", "ok"]);
  assertEquals(ours, deno);
});

Deno.test("check_all: a module one example imports for its effect does not change the examples beside it, as under deno test --doc", async () => {
  const { ours, deno } = await packedAndDeno(3);
  assertEquals(Object.values(deno).filter((result) => result === "failed").length, 1);
  assertEquals(ours, deno);
});

Deno.test("check_all: an import line inside an example's template string stays in the string, as under deno test --doc", async () => {
  const { ours, deno } = await packedAndDeno(4);
  assertEquals(Object.values(deno), ["ok"]);
  assertEquals(ours, deno);
});
