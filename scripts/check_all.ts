// `deno task test`: every check CI runs, then a one-line summary.
//
//   - deno fmt --check, deno lint, deno check --doc (entrypoints, examples,
//     bench, scripts, fuzz, tests and the files with examples: all type-checked
//     here, once, in one program, and run with --no-check), deno doc --lint
//     (entrypoints), deno publish --dry-run (once deno check ended: it reuses
//     that type-check cache)
//   - every test file in its own `deno test --doc` process, and the JSDoc and
//     Markdown examples outside tests/ (the same examples `deno test --doc`
//     runs, each its own test; see _test_files.ts), many to a test module
//     (_doc_examples.ts), in EXAMPLE_JOBS processes; sanitizers on
//
// The steps and test files run side by side on a pool of TEST_JOBS processes
// (default: 2 per CPU; most tests wait on sockets and timers), longest first
// (scripts/test_timings.json; a file not listed there weighs 5 s), at most
// TEST_CPU_JOBS (default: 1 per CPU) of the CPU-bound ones at once. A separate
// process per file keeps the tests that measure their own process (RSS, open
// fds) valid. Each job's output is printed in one piece when it ends, so
// nothing interleaves; a table of the slowest jobs follows.
//
// The AMQP test files share one RabbitMQ node (tests/_rabbitmq.ts, started
// here and handed over in SEED_RPC_SHARED_RABBITMQ, stopped once the last of
// them ended), each on its own vhosts;
// a file with a test that restarts the broker (`{ restart: true }`) starts its
// own private node, as does any file run directly with `deno test`.
//
// Every step runs even when another failed, so one run shows every problem.
// The last line is `tests: N passed, N failed, N skipped`: the test counts
// from the junit reports; each failed check step (or test process that wrote
// no report) adds one failure. A test skips itself only when a service it
// needs is missing (a browser, a broker), and says which; in CI (CI=true) a
// skipped test counts as a failure. Exit status is 0 only when all passed.
//
// A job still running after TEST_JOB_TIMEOUT seconds (default 900) is
// killed, with what it started, and counted as failed.
//
// TEST_LIST=1 lists the jobs, heaviest first, without running them.
//
// Extra arguments are passed to deno test: files or directories under test
// (each file in its own process) and flags (--filter ...); with them, only the
// tests run (with flags only: every test file and the examples), and the
// named test files are type-checked.

import { SHARED_RABBITMQ_ENV } from "../tests/_rabbitmq.ts";
import { writeExampleModules } from "./_doc_examples.ts";
import { docFiles, testFilesUnder } from "./_test_files.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
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

/** What a test file not in the timings table is taken to weigh, in seconds. */
const DEFAULT_WEIGHT = 5;

interface Job {
  name: string;
  args: string[];
  /** Expected seconds (longest first). */
  weight: number;
  /** A test job's junit report. */
  junit?: string;
  /** Runs only once the shared RabbitMQ node is up (its URL in the env). */
  sharedBroker?: boolean;
  /** Keeps a CPU busy (see CPU_JOBS). */
  cpuBound?: boolean;
  /** Starts only once the job of this name ended (when there is one). */
  after?: string;
}

interface Done {
  job: Job;
  code: number;
  seconds: number;
  /** User + system CPU seconds, where /usr/bin/time measured them. */
  cpu?: number;
  output: string;
}

/**
 * scripts/test_timings.json: `seconds`, what a job took (wall time, on 2
 * CPUs), and `cpuBound`, the jobs that keep a CPU busy most of their time:
 * no more than CPU_JOBS of those run at once (their calls time out when they
 * crowd each other out), the rest fill the other workers.
 */
const table: { seconds?: Record<string, number>; cpuBound?: string[] } = JSON.parse(
  await Deno.readTextFile(`${ROOT}/scripts/test_timings.json`).catch(() => "{}"),
);
const timings = table.seconds ?? {};
const cpuBound = new Set(table.cpuBound ?? []);
const tmp = await Deno.makeTempDir({ prefix: "deno-test-" });

async function isPath(arg: string): Promise<boolean> {
  if (arg.startsWith("-")) return false;
  try {
    await Deno.stat(arg);
    return true;
  } catch {
    return false;
  }
}

// Positional arguments that exist on disk are what to test; the rest are flags.
const targets: string[] = [];
const flags: string[] = [];
for (const arg of Deno.args) {
  if (!(await isPath(arg))) flags.push(arg);
  else if ((await Deno.stat(arg)).isDirectory) targets.push(...await testFilesUnder(arg));
  else targets.push(arg);
}
const testFiles = targets.length > 0
  ? targets
  : (await testFilesUnder(`${ROOT}/tests`)).map((path) => path.slice(ROOT.length + 1));

function relative(path: string): string {
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return absolute.startsWith(`${ROOT}/`) ? absolute.slice(ROOT.length + 1) : path;
}

async function usesSharedBroker(file: string): Promise<boolean> {
  const text = await Deno.readTextFile(file);
  return /from "\.\/_amqp\.ts"/.test(text) && !/\brestart: true\b/.test(text);
}

/**
 * Processes the examples run in (TEST_EXAMPLE_JOBS); _doc_examples.ts packs
 * them into as few modules as their imports allow.
 */
const EXAMPLE_JOBS = Number(Deno.env.get("TEST_EXAMPLE_JOBS") ?? 0) || 1;
/** What the examples weigh, in seconds, when the timings table does not say. */
const EXAMPLES_WEIGHT = 30;
let reports = 0;
function testJob(name: string, args: string[], weight: number, doc = true): Job {
  const junit = `${tmp}/${++reports}.xml`;
  return {
    name,
    args: [
      "test",
      ...(doc ? ["--doc"] : []),
      ...TEST_PERMISSIONS,
      `--junit-path=${junit}`,
      ...flags,
      ...args,
    ],
    weight,
    junit,
  };
}

const step = (name: string, args: string[]): Job => ({ name, args, weight: timings[name] ?? 10 });
const jobs: Job[] = [];
for (const file of testFiles) {
  // Type-checked once, all together, by the "deno check" step: a process per
  // file checking its own module graph would repeat most of that work.
  const job = testJob(file, ["--no-check", file], timings[relative(file)] ?? DEFAULT_WEIGHT);
  job.sharedBroker = await usesSharedBroker(file);
  jobs.push(job);
}
const exampleFiles = targets.length === 0 ? await docFiles(ROOT) : [];
if (targets.length === 0) {
  // The JSDoc and Markdown examples everywhere but tests/, each its own test
  // as under deno test --doc, written many to a module (deno test gives each
  // module a fresh isolate: one per example cost ~0.5 s of CPU each) and run
  // in EXAMPLE_JOBS processes; type-checked by the "deno check" step (--doc).
  const modules = await writeExampleModules(
    ROOT,
    exampleFiles.map(([file]) => file),
    await Deno.makeTempDir({ dir: tmp, prefix: "examples-" }),
  );
  const total = modules.reduce((sum, { examples }) => sum + examples, 0);
  const shards = Math.min(EXAMPLE_JOBS, modules.length);
  let shard: string[] = [];
  let examples = 0;
  for (const [index, module] of modules.entries()) {
    shard.push(module.path);
    examples += module.examples;
    if (examples >= total / shards || index === modules.length - 1) {
      const weight = (timings["examples"] ?? EXAMPLES_WEIGHT) * examples / total;
      const name = `examples (${examples} in ${shard.length} modules)`;
      jobs.push(testJob(name, ["--no-check", ...shard], weight, false));
      shard = [];
      examples = 0;
    }
  }
}
if (Deno.args.length > 0) {
  jobs.push(
    step("deno check (the test files)", ["check", ...(targets.length > 0 ? targets : ["tests/"])]),
  );
}
if (Deno.args.length === 0) {
  jobs.push(
    step("deno fmt --check", ["fmt", "--check"]),
    step("deno lint", ["lint"]),
    step("deno check", [
      "check",
      "--doc",
      ...entrypoints,
      "examples/",
      "bench/",
      "scripts/",
      "fuzz/",
      "tests/",
      ...exampleFiles.map(([file]) => file),
    ]),
    step("deno doc --lint", ["doc", "--lint", ...entrypoints]),
    // After deno check: its type-check cache saves the dry run about 3.4 of
    // its 8.9 s of CPU (a cold cache, measured alone).
    {
      ...step("deno publish --dry-run", ["publish", "--dry-run", "--allow-dirty"]),
      after: "deno check",
    },
  );
}
for (const job of jobs) {
  job.cpuBound = cpuBound.has(job.name.startsWith("examples ") ? "examples" : relative(job.name));
}
jobs.sort((a, b) => b.weight - a.weight);
if (Deno.env.get("TEST_LIST")) {
  // TEST_LIST=1: the jobs, heaviest first, and nothing run.
  for (const job of jobs) console.log(`${job.weight.toFixed(1).padStart(6)} s  ${job.name}`);
  await Deno.remove(tmp, { recursive: true });
  Deno.exit(0);
}

/** GNU time, to report each job's CPU seconds beside its wall time. */
const TIME = await Deno.stat("/usr/bin/time").then(() => "/usr/bin/time", () => undefined);
const CPU_LINE = /^seed-rpc-cpu: ([\d.]+) ([\d.]+)\n?/m;

/** Seconds a job may run before it is killed and counted as failed. */
const JOB_TIMEOUT = Number(Deno.env.get("TEST_JOB_TIMEOUT") ?? 0) || 900;

/** Kills `pid` and its descendants (the deno under /usr/bin/time, and what it started). */
function killTree(pid: number): void {
  let children: string[] = [];
  try {
    children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/);
  } catch {
    // No /proc: the process alone.
  }
  for (const child of children) if (child !== "") killTree(Number(child));
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** Runs `job` to its end (or JOB_TIMEOUT), its stdout and stderr collected in one piece. */
async function run(job: Job, env: Record<string, string>): Promise<Done> {
  const started = performance.now();
  const command = TIME ?? Deno.execPath();
  const prefix = TIME ? ["-f", "seed-rpc-cpu: %U %S", Deno.execPath()] : [];
  const child = new Deno.Command(command, {
    args: [...prefix, ...job.args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output += text;
  };
  // A hung job (a test waiting for ever) is killed, and fails, after JOB_TIMEOUT.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child.pid);
  }, JOB_TIMEOUT * 1000);
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  clearTimeout(timer);
  const code = timedOut && status.code === 0 ? 1 : status.code;
  if (timedOut) output += `\nkilled: still running after ${JOB_TIMEOUT} s (TEST_JOB_TIMEOUT)\n`;
  const seconds = (performance.now() - started) / 1000;
  const cpu = output.match(CPU_LINE);
  if (cpu === null) return { job, code, seconds, output };
  output = output.replace(CPU_LINE, "");
  return { job, code, seconds, cpu: Number(cpu[1]) + Number(cpu[2]), output };
}

/**
 * The shared RabbitMQ node: a `tests/_rabbitmq.ts` process that prints how to
 * reach it and stops it when its stdin closes (also when this script dies).
 */
async function startSharedBroker(): Promise<{ env: string; stop(): Promise<void> } | string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...TEST_PERMISSIONS, `${ROOT}/tests/_rabbitmq.ts`],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    await child.stdin.close().catch(() => {});
    await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const line = text.split("\n")[0]!;
  if (!line.startsWith("{")) {
    await stop();
    return line || "the shared RabbitMQ node did not start";
  }
  return { env: line, stop };
}

const workers = Number(Deno.env.get("TEST_JOBS") ?? 0) ||
  Math.max(2, 2 * (navigator.hardwareConcurrency ?? 1));
const began = performance.now();
const sharedNeeded = jobs.some((job) => job.sharedBroker);
const broker = sharedNeeded ? startSharedBroker() : undefined;
let brokerEnv: Record<string, string> | undefined;
broker?.then((started) => {
  if (typeof started === "string") console.log(`shared RabbitMQ: ${started}`);
  // Without it, each file falls back to a node of its own.
  brokerEnv = { [SHARED_RABBITMQ_ENV]: typeof started === "string" ? "" : started.env };
});

/** Jobs on the shared node not ended yet; at 0 the node stops (not at the end of the run). */
let sharedLeft = jobs.filter((job) => job.sharedBroker).length;
let brokerStopped: Promise<void> | undefined;
const stopBroker = () =>
  brokerStopped ??= broker!.then((started) =>
    typeof started === "string" ? undefined : started.stop()
  );

const cpuJobs = Number(Deno.env.get("TEST_CPU_JOBS") ?? 0) ||
  Math.max(1, navigator.hardwareConcurrency ?? 1);
let cpuRunning = 0;
/** Resolves when a job ends or the shared node is up: what a waiting worker may start changed. */
let changed = Promise.withResolvers<void>();
const change = () => {
  changed.resolve();
  changed = Promise.withResolvers<void>();
};
broker?.then(change);

const finished: Done[] = [];
/** Names of the jobs that ended, or that are not in this run (what `after` waits for). */
const ended = new Set<string>();
for (const job of jobs) {
  if (job.after !== undefined && !jobs.some(({ name }) => name === job.after)) ended.add(job.after);
}
const queue = [...jobs];
async function worker(): Promise<void> {
  while (queue.length > 0) {
    // Jobs that need the shared node wait for it, CPU-bound ones for a CPU;
    // others go first meanwhile.
    const index = queue.findIndex((job) =>
      (!job.sharedBroker || brokerEnv !== undefined) && (!job.cpuBound || cpuRunning < cpuJobs) &&
      (job.after === undefined || ended.has(job.after))
    );
    if (index < 0) {
      await changed.promise;
      continue;
    }
    const [job] = queue.splice(index, 1);
    if (job!.cpuBound) cpuRunning++;
    const done = await run(job!, job!.sharedBroker ? brokerEnv! : {});
    if (job!.cpuBound) cpuRunning--;
    ended.add(job!.name);
    if (job!.sharedBroker && --sharedLeft === 0) stopBroker();
    change();
    const status = done.code === 0 ? "ok" : `FAILED (exit ${done.code})`;
    const cpu = done.cpu === undefined ? "" : ` (${done.cpu.toFixed(1)} s CPU)`;
    console.log(`\n=== ${done.job.name}: ${status} in ${done.seconds.toFixed(1)} s${cpu}`);
    console.log(done.output.trimEnd());
    finished.push(done);
  }
}
await Promise.all(Array.from({ length: workers }, worker));
if (broker !== undefined) await stopBroker();
const wall = (performance.now() - began) / 1000;

let passed = 0;
let failed = 0;
const skipped: string[] = [];
const failedSteps: string[] = [];
const XML_ENTITIES: Record<string, string> = {
  "&quot;": '"',
  "&apos;": "'",
  "&lt;": "<",
  "&gt;": ">",
  "&amp;": "&",
};
/** A junit attribute's text as written in the test. */
function unescapeXml(text: string): string {
  return text.replace(/&(?:quot|apos|lt|gt|amp);/g, (entity) => XML_ENTITIES[entity]!);
}

/** With --filter a file may rightly run no test; without, one that ran none exited early. */
const filtered = flags.some((flag) => flag.startsWith("--filter"));
for (const { job, code: exit, output } of finished) {
  let code = exit;
  let counted = 0;
  // Deno.exit(0) outside a test ends the file with status 0; deno test says
  // so, and reports a test it had started but not finished as skipped.
  const exited = code === 0 && !filtered && output.includes("The isolate was terminated");
  if (job.junit !== undefined) {
    try {
      const xml = await Deno.readTextFile(job.junit);
      const head = xml.match(/<testsuites\b[^>]*>/)?.[0] ?? "";
      const count = (name: string) =>
        Number(head.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
      let skips = 0;
      for (const match of xml.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*>\s*<skipped\b/g)) {
        if (!exited) skipped.push(unescapeXml(match[1]!));
        skips++;
      }
      counted = count("failures") + count("errors");
      failed += counted;
      const ran = count("tests") - counted - skips;
      passed += ran;
      // A file that ran no test, or was ended before its tests were.
      if ((count("tests") === 0 || exited) && !filtered && code === 0) {
        const what = ran + counted === 0 ? "ran no test" : `ended before ${skips} of its tests ran`;
        console.log(`\n${job.name}: ${what} (did something call Deno.exit?)`);
        code = 1;
      }
    } catch {
      // deno test did not get as far as writing a report.
      if (code === 0) {
        console.log(`\n${job.name}: wrote no test report`);
        code = 1;
      }
    }
  }
  if (code !== 0) {
    failedSteps.push(job.name);
    // A failing step that deno test did not count (fmt, lint, a type error
    // that stopped the run) counts as one failure.
    if (counted === 0) failed++;
  }
}
await Deno.remove(tmp, { recursive: true }).catch(() => {});

console.log(`\nslowest of ${finished.length} jobs on ${workers} workers (${wall.toFixed(1)} s):`);
for (
  const { job, seconds, cpu } of [...finished].sort((a, b) => b.seconds - a.seconds).slice(0, 15)
) {
  const used = cpu === undefined ? "" : `${cpu.toFixed(1).padStart(6)} s CPU`;
  console.log(`  ${seconds.toFixed(1).padStart(6)} s ${used}  ${job.name}`);
}
const cpuTotal = finished.reduce((sum, { cpu }) => sum + (cpu ?? 0), 0);
if (TIME) console.log(`  CPU of all jobs: ${cpuTotal.toFixed(1)} s`);
if (skipped.length > 0) {
  console.log(`\nskipped (a service they need is missing; see their output):`);
  for (const name of skipped) console.log(`  ${name}`);
  if (Deno.env.get("CI") === "true") {
    console.log("in CI a skipped test is a failure");
    failedSteps.push("skipped tests in CI");
    failed++;
  }
}
if (failedSteps.length > 0) console.log(`\nfailed: ${failedSteps.join(", ")}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
Deno.exit(failedSteps.length === 0 && failed === 0 ? 0 : 1);
