// stdio cases: JSON-RPC `add` to a child process over its stdin and stdout,
// newline framing. Ours (spawn + serveStdio) against a hand-written minimal
// newline JSON-RPC over the same kind of pipes (a child that splits lines,
// parses and answers them; a client with a Map of pending ids that writes
// the requests of one turn in one write), 1 and 100 in flight. Rounds
// alternate baseline and ours; ratio is the median of the rounds' ratios,
// spread their lowest and highest.
//
// The same file is the children: `deno run bench/stdio.ts serve-ours|serve-min`.

import { Peer, silentLogger } from "../mod.ts";
import { serveStdio, spawn } from "../transports/stdio.ts";
import { type BenchResult, measure } from "./_measure.ts";

const ROUNDS = 5;
const SELF = new URL(import.meta.url).pathname;
const encoder = new TextEncoder();

/** A hand-written newline JSON-RPC client over a child's pipes. */
class MinStdioClient {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<number, (result: number) => void>();
  #nextId = 0;
  #out = "";
  #scheduled = false;
  #reading: Promise<void>;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", SELF, "serve-min"],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = this.#read();
  }

  add(a: number, b: number): Promise<number> {
    const id = ++this.#nextId;
    this.#out += `{"jsonrpc":"2.0","method":"add","params":{"a":${a},"b":${b}},"id":${id}}\n`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  #flush = (): void => {
    this.#scheduled = false;
    const out = this.#out;
    this.#out = "";
    this.#writer.write(encoder.encode(out));
  };

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of this.#child.stdout) {
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

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#reading;
    await this.#child.status;
  }
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

/** Hand-written and ours, alternating, 1 and 100 in flight. */
export async function stdioCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const ratios: number[] = [];
    let min: BenchResult | undefined;
    let ours: BenchResult | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const baseline = new MinStdioClient();
      const m = await measure(
        `stdio hand-written minimal jsonrpc add, ${inFlight} in flight`,
        () => baseline.add(1, 2),
        { inFlight },
      );
      await baseline.close();
      const child = spawn(Deno.execPath(), ["run", SELF, "serve-ours"], {
        logger: silentLogger,
      });
      const params = { a: 1, b: 2 };
      const peer: Peer = child.peer;
      const o = await measure(
        `stdio jsonrpc add (spawn), ${inFlight} in flight`,
        () => peer.call("add", params),
        { inFlight },
      );
      await child.close();
      ratios.push(o.calls_per_s / m.calls_per_s);
      if (min === undefined || m.calls_per_s > min.calls_per_s) min = m;
      if (ours === undefined || o.calls_per_s > ours.calls_per_s) ours = o;
    }
    ours!.ratio_to_min_jsonrpc = round2(median(ratios));
    ours!.ratio_spread = [round2(Math.min(...ratios)), round2(Math.max(...ratios))];
    ours!.rounds = ROUNDS;
    results.push(min!, ours!);
  }
  return results;
}

if (import.meta.main) {
  if (Deno.args[0] === "serve-min") await serveMin();
  else if (Deno.args[0] === "serve-ours") {
    await serveStdio({ add: ({ a, b }: { a: number; b: number }) => a + b }, {
      logger: silentLogger,
    }).closed;
  } else for (const result of await stdioCases()) console.log(JSON.stringify(result));
}
