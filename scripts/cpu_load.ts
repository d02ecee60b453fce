// Keeps the CPUs busy for a while, so the tests can be run on a loaded
// machine (a test that passes only on an idle machine is a flaky test):
//
//   deno task cpu-load [seconds] [workers]      # defaults: 600 s, one worker per CPU
//   deno task cpu-load 900 & deno task test; deno task test; deno task test
//
// Each worker is a thread spinning on arithmetic until the deadline; the
// process exits by itself when the time is up (or on SIGINT/SIGTERM), and a
// watchdog ends it even if a worker never yields.

const USAGE = "usage: deno task cpu-load [seconds] [workers]";

function wholeNumber(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(
      `cpu_load: ${what} must be a whole number of at least 1, got '${text}'\n${USAGE}`,
    );
    Deno.exit(2);
  }
  return value;
}

const seconds = wholeNumber(Deno.args[0], 600, "seconds");
const workers = wholeNumber(Deno.args[1], navigator.hardwareConcurrency || 2, "workers");
const until = Date.now() + seconds * 1000;

// A worker spins until `until`, checking the clock every 100,000 steps.
const source = `
  self.onmessage = ({ data: until }) => {
    let x = 0;
    while (Date.now() < until) {
      for (let i = 0; i < 100000; i++) x = (x * 1103515245 + 12345) % 2147483648;
    }
    self.postMessage(x);
  };
`;
const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
const started: Worker[] = [];
const done: Promise<unknown>[] = [];
for (let i = 0; i < workers; i++) {
  const worker = new Worker(url, { type: "module" });
  done.push(new Promise((resolve) => worker.onmessage = resolve));
  worker.postMessage(until);
  started.push(worker);
}
console.error(`cpu_load: ${workers} busy workers for ${seconds} s (pid ${Deno.pid})`);

const stop = (why: string) => {
  console.error(`cpu_load: ${why}, stopping`);
  for (const worker of started) worker.terminate();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
// The watchdog: the process ends a little after the deadline whatever the workers do.
setTimeout(() => stop("time is up"), seconds * 1000 + 2000);
await Promise.all(done);
stop("time is up");
