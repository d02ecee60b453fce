// scripts/check_all.ts bounds a hung test file: killed after
// TEST_JOB_TIMEOUT, counted as failed, its output shown.

import { assert, assertMatch, assertNotEquals, assertStringIncludes } from "./_assert.ts";

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
