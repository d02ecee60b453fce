// `deno task test`: every check CI runs, in order, then a one-line summary.
//
//   1. deno fmt --check
//   2. deno lint
//   3. deno check on every entrypoint (deno.json "exports"), examples, bench, scripts
//   4. deno doc --lint on every entrypoint
//   5. deno publish --dry-run --allow-dirty
//   6. deno test --doc (tests/ and every JSDoc example), sanitizers on (deno.json)
//
// Every step runs even when an earlier one failed, so one run shows every
// problem. The last line is `tests: N passed, N failed, N skipped`: the test
// counts from deno test; each failed check step adds one failure. A test
// skips itself only when a service it needs is missing (a browser, a broker),
// and says which; in CI (CI=true) a skipped test counts as a failure. Exit
// status is 0 only when everything passed.
//
// Extra arguments are passed to deno test (a file, --filter ...); with them,
// only the test step runs.

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))) as {
  exports: string | Record<string, string>;
};
const entrypoints = typeof config.exports === "string"
  ? [config.exports]
  : Object.values(config.exports);

const TEST_PERMISSIONS = [
  // 127.255.255.255: UDP broadcast tests bind and send there, on loopback.
  "--allow-net=127.0.0.1,localhost,127.255.255.255",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-sys",
];

interface Step {
  name: string;
  args: string[];
}

const junit = await Deno.makeTempFile({ prefix: "deno-test-", suffix: ".xml" });
const testStep: Step = {
  name: "deno test",
  args: ["test", "--doc", ...TEST_PERMISSIONS, `--junit-path=${junit}`, ...Deno.args],
};
const steps: Step[] = Deno.args.length > 0 ? [testStep] : [
  { name: "deno fmt --check", args: ["fmt", "--check"] },
  { name: "deno lint", args: ["lint"] },
  {
    name: "deno check",
    args: ["check", ...entrypoints, "examples/", "bench/", "scripts/", "fuzz/"],
  },
  { name: "deno doc --lint", args: ["doc", "--lint", ...entrypoints] },
  { name: "deno publish --dry-run", args: ["publish", "--dry-run", "--allow-dirty"] },
  testStep,
];

const failedSteps: string[] = [];
for (const step of steps) {
  console.log(`\n=== ${step.name}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: step.args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failedSteps.push(step.name);
}

let passed = 0;
let failed = 0;
const skipped: string[] = [];
try {
  const xml = await Deno.readTextFile(junit);
  const head = xml.match(/<testsuites\b[^>]*>/)?.[0] ?? "";
  const count = (name: string) => Number(head.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
  for (const match of xml.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*>\s*<skipped\b/g)) {
    skipped.push(match[1]!);
  }
  failed = count("failures") + count("errors");
  passed = count("tests") - failed - skipped.length;
} catch {
  // deno test did not get as far as writing a report; its step failed.
}
if (skipped.length > 0) {
  console.log(`\nskipped (a service they need is missing; see their output):`);
  for (const name of skipped) console.log(`  ${name}`);
  if (Deno.env.get("CI") === "true") {
    console.log("in CI a skipped test is a failure");
    failedSteps.push("skipped tests in CI");
  }
}
await Deno.remove(junit).catch(() => {});

// A failing step that deno test did not count (fmt, lint, a type error that
// stopped the run) counts as one failure.
const uncounted = failedSteps.filter((name) => name !== testStep.name || failed === 0);
failed += uncounted.length;
if (failedSteps.length > 0) console.log(`\nfailed steps: ${failedSteps.join(", ")}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
Deno.exit(failedSteps.length === 0 && failed === 0 ? 0 : 1);
