// HTTP cases: JSON-RPC `add` over HTTP POST. Ours (a Peer on our fetch
// client, against httpHandler in Deno.serve, and against our own listen())
// and a hand-written minimal baseline (a Deno.serve handler that parses the
// body and answers, called with a plain fetch), each server in its own
// process, measured in the same run. Each pair runs ROUNDS times,
// alternating, and reports the median ratio and its spread (min..max).
//
// This file is also its own server process: `bench/http.ts serve MODE`
// (MODE: min | handler | listen) prints the port and serves until stdin closes.

import { Peer, Server, silentLogger } from "../mod.ts";
import { connect, httpHandler, listen } from "../transports/http.ts";
import { type BenchResult, measure } from "./_measure.ts";

const ROUNDS = 5;
const params = { a: 1, b: 2 };

/** The hand-written baseline: parse, add, answer. */
async function minimal(request: Request): Promise<Response> {
  const call = await request.json() as { params: { a: number; b: number }; id: number };
  return new Response(
    `{"jsonrpc":"2.0","result":${call.params.a + call.params.b},"id":${call.id}}`,
    { headers: { "content-type": "application/json" } },
  );
}

async function serveMode(mode: string): Promise<void> {
  const handlers = { add: (p: { a: number; b: number }) => p.a + p.b };
  let close: () => Promise<void>;
  if (mode === "listen") {
    const server = new Server({ logger: silentLogger, handlers })
      .serve(listen("http://127.0.0.1:0/", { logger: silentLogger }));
    console.log(new URL(server.addr).port);
    close = () => server.close();
  } else {
    const server = new Server({ logger: silentLogger, handlers });
    const handle = mode === "min" ? minimal : httpHandler(server, { logger: silentLogger });
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
    console.log(http.addr.port);
    close = async () => {
      await http.shutdown();
      await server.close();
    };
  }
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  await close();
  Deno.exit(0);
}

interface Child {
  port: number;
  stop(): Promise<void>;
}

async function start(mode: string): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", new URL(import.meta.url).pathname, "serve", mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the benchmark server exited before printing its port");
    text += decoder.decode(value, { stream: true });
  }
  return {
    port: Number(text.trim()),
    stop: async () => {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}

/** One case: a server process of `mode`, and `client` calling it. */
async function run(
  name: string,
  mode: string,
  inFlight: number,
  client: (url: string) => Promise<{ call(): Promise<unknown>; close(): Promise<void> }>,
): Promise<BenchResult> {
  const server = await start(mode);
  const caller = await client(`http://127.0.0.1:${server.port}/`);
  try {
    // A longer warm-up than the other groups': a fresh process per case, and
    // our path has more code for the JIT to settle than the baseline's.
    return await measure(name, () => caller.call(), { inFlight, warmupMs: 2000 });
  } finally {
    await caller.close();
    await server.stop();
  }
}

/** A plain fetch client, an id per call. */
function plainFetch(url: string) {
  let id = 0;
  return Promise.resolve({
    async call() {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "add", params, id: ++id }),
      });
      return (await response.json()).result;
    },
    close: () => Promise.resolve(),
  });
}

/** Our Peer on our fetch client. */
async function ours(url: string) {
  const peer = new Peer(await connect(url), { logger: silentLogger });
  return { call: () => peer.call("add", params), close: () => peer.close() };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export async function httpCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 32]) {
    const runs: Record<string, BenchResult[]> = { min: [], handler: [], listen: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.min!.push(
        await run("http hand-written Deno.serve jsonrpc + fetch", "min", inFlight, plainFetch),
      );
      runs.handler!.push(await run("http ours, httpHandler", "handler", inFlight, ours));
      runs.listen!.push(await run("http ours, listen()", "listen", inFlight, ours));
    }
    const base = runs.min!;
    for (
      const [mode, label] of [
        ["min", "http hand-written Deno.serve jsonrpc add + plain fetch"],
        ["handler", "http jsonrpc add, httpHandler in Deno.serve + our client"],
        ["listen", "http jsonrpc add, our listen() + our client"],
      ] as const
    ) {
      const rounds = runs[mode]!;
      const rates = rounds.map((r) => r.calls_per_s);
      const result: BenchResult = {
        bench: `${label}, ${inFlight} in flight`,
        calls_per_s: median(rates),
        p50_us: median(rounds.map((r) => r.p50_us)),
        p99_us: median(rounds.map((r) => r.p99_us)),
        calls: rounds.reduce((sum, r) => sum + r.calls, 0),
        rounds: rates,
      };
      if (mode !== "min") {
        // Each round against the baseline measured just before it.
        const ratios = rounds.map((r, i) => r.calls_per_s / base[i]!.calls_per_s);
        result.ratio_to_min_jsonrpc = round2(median(ratios));
        result.spread = [round2(Math.min(...ratios)), round2(Math.max(...ratios))];
      }
      results.push(result);
    }
  }
  return results;
}

if (import.meta.main && Deno.args[0] === "serve") await serveMode(Deno.args[1] ?? "min");
