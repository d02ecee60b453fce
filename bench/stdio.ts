// stdio cases: calls to a child process over its stdin and stdout, newline
// framing, 1 and 100 in flight, each client writing the requests of one
// turn in one write. Three kinds, over the same kind of pipes: a raw
// newline echo (the child writes back what it reads; the client counts
// lines, no JSON), a hand-written minimal JSON-RPC (the child splits lines,
// parses and answers them; the client keeps a Map of pending ids), and ours
// (spawn + serveStdio). The client of every kind runs in this process.
//
// Each kind's child is started afresh, answers one call (it is up, its code
// loaded), is warmed up (WARMUP_MS at a time until WARMUP_CALLS calls, at
// most WARMUP_MAX_MS: ours settles after some 40 000 calls at 100 in flight,
// where 500 ms gave it 24 000 and the minimal 57 000), then measured for
// BENCH_MS. Rounds
// (BENCH_ROUNDS, default 5) take the three kinds in turn, the first kind
// rotating from round to round so none always follows the same other. Per
// kind and in-flight count: the best round's rate and latency; the medians
// over the rounds of the CPU time (user + system) per call of the client
// (this process) and of the child (/proc/<pid>/stat), of the two together,
// and of the busier; and the calls per read and per write of each
// (/proc/<pid>/io), which say how whole the batches stayed. At 100 in flight
// they stay whole (about 100 calls a read on both sides): the two processes
// take turns, so the rate follows the two's CPU together, not the busier's.
// ratio_to_* is the median of the rounds' rate ratios, *_spread their lowest
// and highest; cpu_ratio_to_* the same for the two's CPU per call together
// (theirs over ours: above 1, ours costs less). On a shared machine the CPU
// ratios hold better than the rates.
//
// The same file is the children: `deno run bench/stdio.ts serve-raw|serve-min|serve-ours`;
// and, for `strace -c -f`, `deno run -A bench/stdio.ts count raw|min|ours IN_FLIGHT CALLS`
// makes exactly CALLS calls (run it with CALLS 0 too, and subtract: start-up).

import { type Peer, silentLogger } from "../mod.ts";
import { serveStdio, spawn } from "../transports/stdio.ts";
import { type BenchResult, measure } from "./_measure.ts";

const WARMUP_MS = 500;
const WARMUP_CALLS = 60_000;
const WARMUP_MAX_MS = 2000;
const SELF = new URL(import.meta.url).pathname;
const encoder = new TextEncoder();

/** A child started with `serve-<kind>`, and requests written the way ours are: one write per turn. */
abstract class PipeClient {
  protected readonly child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #out = "";
  #scheduled = false;
  #reading: Promise<void>;

  constructor(kind: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", SELF, `serve-${kind}`],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reading = this.read();
  }

  protected send(line: string): void {
    this.#out += line + "\n";
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#scheduled = false;
    const out = this.#out;
    this.#out = "";
    this.#writer.write(encoder.encode(out));
  };

  /** The child's process id. */
  get pid(): number {
    return this.child.pid;
  }

  protected abstract read(): Promise<void>;

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#reading;
    await this.child.status;
  }
}

/** A raw newline echo client: no JSON at all; each line echoed resolves the oldest call. */
class RawStdioClient extends PipeClient {
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor() {
    super("raw");
  }

  call(line: string): Promise<void> {
    this.send(line);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  protected async read(): Promise<void> {
    for await (const chunk of this.child.stdout) {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
        this.#waiting[this.#head++]!();
      }
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
    }
  }
}

/** A hand-written newline JSON-RPC client: a Map of pending ids, each reply line parsed. */
class MinStdioClient extends PipeClient {
  #pending = new Map<number, (result: number) => void>();
  #nextId = 0;

  constructor() {
    super("min");
  }

  add(a: number, b: number): Promise<number> {
    const id = ++this.#nextId;
    this.send(`{"jsonrpc":"2.0","method":"add","params":{"a":${a},"b":${b}},"id":${id}}`);
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  protected async read(): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of this.child.stdout) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const reply = JSON.parse(line) as { result: number; id: number };
        const resolve = this.#pending.get(reply.id)!;
        this.#pending.delete(reply.id);
        resolve(reply.result);
      }
    }
  }
}

/** The raw echo server: every chunk of stdin written back to stdout as it is. */
async function serveRaw(): Promise<void> {
  const writer = Deno.stdout.writable.getWriter();
  for await (const chunk of Deno.stdin.readable) await writer.write(chunk);
  await writer.close();
}

/** The hand-written server: split lines, parse, answer the lines of one read in one write. */
async function serveMin(): Promise<void> {
  const decoder = new TextDecoder();
  const writer = Deno.stdout.writable.getWriter();
  let rest = "";
  for await (const chunk of Deno.stdin.readable) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    let out = "";
    for (const line of lines) {
      const request = JSON.parse(line) as { params: { a: number; b: number }; id: number };
      out += `{"jsonrpc":"2.0","result":${
        request.params.a + request.params.b
      },"id":${request.id}}\n`;
    }
    await writer.write(encoder.encode(out));
  }
  await writer.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

/** The kinds, in the order of the first round, and how their lines are named. */
const KINDS = [
  ["raw", "stdio raw newline echo"],
  ["min", "stdio hand-written minimal jsonrpc add"],
  ["ours", "stdio jsonrpc add (spawn)"],
] as const;

type Kind = typeof KINDS[number][0];

/** A child of one kind, and the call that the measuring loop makes to it. */
interface Running {
  pid: number;
  call: () => Promise<unknown>;
  close(): Promise<unknown>;
}

function start(kind: Kind): Running {
  if (kind === "raw") {
    const client = new RawStdioClient();
    return { pid: client.pid, call: () => client.call(RAW_LINE), close: () => client.close() };
  }
  if (kind === "min") {
    const client = new MinStdioClient();
    return { pid: client.pid, call: () => client.add(1, 2), close: () => client.close() };
  }
  const child = spawn(Deno.execPath(), ["run", SELF, "serve-ours"], { logger: silentLogger });
  const params = { a: 1, b: 2 };
  const peer: Peer = child.peer;
  return { pid: child.pid, call: () => peer.call("add", params), close: () => child.close() };
}

/** What process `pid` has used so far: CPU time (user + system, all threads) and system calls. */
interface ProcessCost {
  /** CPU time, ms (10 ms ticks). */
  cpuMs: number;
  /** Read-like and write-like system calls (/proc/<pid>/io syscr, syscw). */
  reads: number;
  writes: number;
}

function costOf(pid: number): ProcessCost {
  // Deno reads /proc only with --allow-all: `cat` reads it.
  const { stdout } = new Deno.Command("cat", { args: [`/proc/${pid}/stat`, `/proc/${pid}/io`] })
    .outputSync();
  const text = new TextDecoder().decode(stdout);
  // The fields after the command name (in parentheses); utime and stime are 14 and 15.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const io = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return {
    cpuMs: (Number(fields[11]) + Number(fields[12])) * 10,
    reads: io("syscr"),
    writes: io("syscw"),
  };
}

/** One round of `kind`: a fresh child, up, warmed up, then measured, its CPU too. */
async function measureKind(kind: Kind, label: string, inFlight: number): Promise<BenchResult> {
  const running = start(kind);
  try {
    await running.call();
    const name = `${label}, ${inFlight} in flight`;
    let warmupCalls = 1;
    const warmupStart = performance.now();
    do {
      const warmup = await measure(name, running.call, {
        inFlight,
        durationMs: WARMUP_MS,
        warmupMs: 0,
        maxCalls: 1_000_000,
      });
      warmupCalls += warmup.calls;
    } while (warmupCalls < WARMUP_CALLS && performance.now() - warmupStart < WARMUP_MAX_MS);
    const childBefore = costOf(running.pid);
    const clientBefore = costOf(Deno.pid);
    const result = await measure(name, running.call, { inFlight, warmupMs: 0, cpu: true });
    const clientAfter = costOf(Deno.pid);
    const childAfter = costOf(running.pid);
    const child = (childAfter.cpuMs - childBefore.cpuMs) * 1000 / result.calls;
    const client = result.cpu_us_per_call as number;
    delete result.cpu_us_per_call;
    // Calls per read and per write: how whole the batches stayed.
    const per = (n: number) => round2(result.calls / n);
    return {
      ...result,
      warmup_calls: warmupCalls,
      client_cpu_us_per_call: client,
      child_cpu_us_per_call: round2(child),
      total_cpu_us_per_call: round2(client + child),
      busier_cpu_us_per_call: round2(Math.max(client, child)),
      // The client's reads include a few of measure's and ours around it (`cat`'s output).
      client_calls_per_read: per(clientAfter.reads - clientBefore.reads),
      client_calls_per_write: per(clientAfter.writes - clientBefore.writes),
      child_calls_per_read: per(childAfter.reads - childBefore.reads),
      child_calls_per_write: per(childAfter.writes - childBefore.writes),
    };
  } finally {
    await running.close();
  }
}

/** The best of the rounds, the medians of CPU per call, and ours over each of `bases`, round by round. */
function summary(
  ours: BenchResult[],
  bases: Record<string, BenchResult[]>,
): BenchResult {
  const best = ours.reduce((a, b) => (b.calls_per_s > a.calls_per_s ? b : a));
  const result: BenchResult = { ...best, rounds: ours.length };
  for (const field of ["client", "child", "total", "busier"]) {
    const key = `${field}_cpu_us_per_call`;
    result[key] = round2(median(ours.map((o) => o[key] as number)));
  }
  for (const side of ["client", "child"]) {
    for (const call of ["read", "write"]) {
      const key = `${side}_calls_per_${call}`;
      result[key] = round2(median(ours.map((o) => o[key] as number)));
    }
  }
  for (const [name, base] of Object.entries(bases)) {
    const ratios = ours.map((o, i) => o.calls_per_s / base[i]!.calls_per_s);
    result[`ratio_to_${name}`] = round2(median(ratios));
    result[`ratio_to_${name}_spread`] = [round2(Math.min(...ratios)), round2(Math.max(...ratios))];
    const total = (r: BenchResult) => r.total_cpu_us_per_call as number;
    const cpu = ours.map((o, i) => total(base[i]!) / total(o));
    result[`cpu_ratio_to_${name}`] = round2(median(cpu));
    result[`cpu_ratio_to_${name}_spread`] = [round2(Math.min(...cpu)), round2(Math.max(...cpu))];
  }
  return result;
}

/** Raw echo, hand-written JSON-RPC and ours, in rotating rounds, 1 and 100 in flight. */
export async function stdioCases(): Promise<BenchResult[]> {
  // Read here: the children run without --allow-env.
  const roundCount = Math.max(1, Number(Deno.env.get("BENCH_ROUNDS") ?? 5));
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rounds = new Map<Kind, BenchResult[]>(KINDS.map(([kind]) => [kind, []]));
    for (let round = 0; round < roundCount; round++) {
      for (let i = 0; i < KINDS.length; i++) {
        const [kind, label] = KINDS[(round + i) % KINDS.length]!;
        rounds.get(kind)!.push(await measureKind(kind, label, inFlight));
      }
    }
    const raw = rounds.get("raw")!;
    const min = rounds.get("min")!;
    results.push(
      summary(raw, {}),
      summary(min, { raw }),
      summary(rounds.get("ours")!, { raw, min_jsonrpc: min }),
    );
  }
  return results;
}

/** Exactly `calls` calls of `kind`, `inFlight` at a time (for strace's counts). */
async function count(kind: Kind, inFlight: number, calls: number): Promise<void> {
  const running = start(kind);
  let left = calls;
  const worker = async () => {
    while (left > 0) {
      left--;
      await running.call();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await running.close();
}

if (import.meta.main) {
  const [mode, kind, inFlight, calls] = Deno.args;
  if (mode === "serve-raw") await serveRaw();
  else if (mode === "serve-min") await serveMin();
  else if (mode === "serve-ours") {
    await serveStdio({ add: ({ a, b }: { a: number; b: number }) => a + b }, {
      logger: silentLogger,
    }).closed;
  } else if (mode === "count") await count(kind as Kind, Number(inFlight), Number(calls));
  else for (const result of await stdioCases()) console.log(JSON.stringify(result));
}
