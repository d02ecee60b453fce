// stdio cases: calls to a child process over its stdin and stdout, newline
// framing, 1 and 100 in flight, each client writing the requests of one
// turn in one write. Three kinds, over the same kind of pipes: a raw
// newline echo (the child writes back what it reads; the client counts
// lines, no JSON), a hand-written minimal JSON-RPC (the child splits lines,
// parses and answers them; the client keeps a Map of pending ids), and ours
// (spawn + serveStdio). Rounds alternate the three; each line is the best
// round, ratio_to_* the median of the rounds' ratios, *_spread their lowest
// and highest.
//
// The same file is the children: `deno run bench/stdio.ts serve-raw|serve-min|serve-ours`.

import { type Peer, silentLogger } from "../mod.ts";
import { serveStdio, spawn } from "../transports/stdio.ts";
import { type BenchResult, measure } from "./_measure.ts";

const ROUNDS = 5;
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

/** The best of the rounds, with the median and spread of ours over `base`, round by round. */
function summary(
  ours: BenchResult[],
  bases: Record<string, BenchResult[]>,
): BenchResult {
  const best = ours.reduce((a, b) => (b.calls_per_s > a.calls_per_s ? b : a));
  const result: BenchResult = { ...best, rounds: ours.length };
  for (const [name, base] of Object.entries(bases)) {
    const ratios = ours.map((o, i) => o.calls_per_s / base[i]!.calls_per_s);
    result[`ratio_to_${name}`] = round2(median(ratios));
    result[`ratio_to_${name}_spread`] = [round2(Math.min(...ratios)), round2(Math.max(...ratios))];
  }
  return result;
}

/** Raw echo, hand-written JSON-RPC and ours, alternating rounds, 1 and 100 in flight. */
export async function stdioCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const raw: BenchResult[] = [];
    const min: BenchResult[] = [];
    const ours: BenchResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const rawClient = new RawStdioClient();
      raw.push(
        await measure(
          `stdio raw newline echo, ${inFlight} in flight`,
          () => rawClient.call(RAW_LINE),
          { inFlight },
        ),
      );
      await rawClient.close();
      const minClient = new MinStdioClient();
      min.push(
        await measure(
          `stdio hand-written minimal jsonrpc add, ${inFlight} in flight`,
          () => minClient.add(1, 2),
          { inFlight },
        ),
      );
      await minClient.close();
      const child = spawn(Deno.execPath(), ["run", SELF, "serve-ours"], {
        logger: silentLogger,
      });
      const params = { a: 1, b: 2 };
      const peer: Peer = child.peer;
      ours.push(
        await measure(
          `stdio jsonrpc add (spawn), ${inFlight} in flight`,
          () => peer.call("add", params),
          { inFlight },
        ),
      );
      await child.close();
    }
    results.push(
      summary(raw, {}),
      summary(min, { raw }),
      summary(ours, { raw, min_jsonrpc: min }),
    );
  }
  return results;
}

if (import.meta.main) {
  if (Deno.args[0] === "serve-raw") await serveRaw();
  else if (Deno.args[0] === "serve-min") await serveMin();
  else if (Deno.args[0] === "serve-ours") {
    await serveStdio({ add: ({ a, b }: { a: number; b: number }) => a + b }, {
      logger: silentLogger,
    }).closed;
  } else for (const result of await stdioCases()) console.log(JSON.stringify(result));
}
