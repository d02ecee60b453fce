// mushroom cases: `add` through a mushroom session over a WebSocket, against
// our plain JSON-RPC over the same WebSocket (the gap is what the session
// layer costs: numbering, the outbox, acknowledgements, Python's JSON) and
// the raw Deno WebSocket echo; and over long polling, where a call's round
// trip is a send and a poll. Each server runs in its own process, started
// once; the cases are measured in turn, BENCH_ROUNDS times (default 6) for
// BENCH_MS / 2 each (default 1 s), in an order that alternates from one
// round to the next, so the machine's drift falls on every case alike. Each
// line gives the median of the rounds and every round's figures; the
// mushroom lines give the ratio to plain JSON-RPC per round, measured back
// to back (calls/s, and p99 latency: below 1.1 is within 10%), and their
// median: the figure to read.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/websocket.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { RawWebSocketClient } from "./_raw_websocket.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { type ServerProcess, startServer } from "./_server_process.ts";

const RAW_MESSAGE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

/** One case: a client already connected to its own server process. */
interface Case {
  name: string;
  call: () => Promise<unknown>;
  close: () => Promise<void>;
  server: ServerProcess;
  runs: BenchResult[];
}

export async function mushroomCases(): Promise<BenchResult[]> {
  const rounds = Math.max(1, Number(Deno.env.get("BENCH_ROUNDS") ?? 6));
  const durationMs = Number(Deno.env.get("BENCH_MS") ?? 2000) / 2;
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const cases = await openCases(inFlight);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? cases : [...cases].reverse();
      for (const one of order) {
        one.runs.push(await measure(one.name, one.call, { inFlight, durationMs }));
      }
    }
    for (const one of cases) {
      await one.close();
      await one.server.stop();
    }
    const [raw, plain] = cases as [Case, Case, ...Case[]];
    for (const one of cases) {
      const result = summary(one);
      if (one !== raw) result.ratio_to_raw = medianRatio(one, raw, "calls_per_s");
      if (one !== raw && one !== plain) {
        result.ratio_to_websocket_jsonrpc = medianRatio(one, plain, "calls_per_s");
        result.ratios_to_websocket_jsonrpc = ratios(one, plain, "calls_per_s");
        result.p99_ratio_to_websocket_jsonrpc = medianRatio(one, plain, "p99_us");
        result.p99_ratios_to_websocket_jsonrpc = ratios(one, plain, "p99_us");
      }
      results.push(result);
    }
  }
  return results;
}

async function openCases(inFlight: number): Promise<Case[]> {
  const params = { a: 1, b: 2 };
  const rawServer = await startServer("ws-raw");
  const raw = await RawWebSocketClient.connect(`ws://127.0.0.1:${rawServer.port}/`);
  const plainServer = await startServer("ws-jsonrpc");
  const plain = new Peer(await connect(`ws://127.0.0.1:${plainServer.port}/`), {
    logger: silentLogger,
  });
  const cases: Case[] = [
    {
      name: `websocket raw echo, ${inFlight} in flight (mushroom run)`,
      call: () => raw.call(RAW_MESSAGE),
      close: () => raw.close(),
      server: rawServer,
      runs: [],
    },
    {
      name: `websocket jsonrpc add, ${inFlight} in flight (mushroom run)`,
      call: () => plain.call("add", params),
      close: () => plain.close(),
      server: plainServer,
      runs: [],
    },
  ];
  for (const transport of ["ws", "poll"] as const) {
    const server = await startServer("mushroom");
    const session = await connectMushroom(`http://127.0.0.1:${server.port}/`, {
      transports: [transport],
      logger: silentLogger,
    });
    const client = new Peer(session, { logger: silentLogger });
    cases.push({
      name: `mushroom add over ${
        transport === "ws" ? "WebSocket" : "long polling"
      }, ${inFlight} in flight`,
      call: () => client.call("add", params),
      close: () => client.close(),
      server,
      runs: [],
    });
  }
  return cases;
}

/** The median of each figure over the rounds, and every round's. */
function summary(one: Case): BenchResult {
  return {
    bench: one.name,
    calls_per_s: Math.round(median(one.runs.map((r) => r.calls_per_s))),
    p50_us: Math.round(median(one.runs.map((r) => r.p50_us))),
    p99_us: Math.round(median(one.runs.map((r) => r.p99_us))),
    calls: one.runs.reduce((sum, r) => sum + r.calls, 0),
    rounds: one.runs.length,
    runs_calls_per_s: one.runs.map((r) => r.calls_per_s),
    runs_p99_us: one.runs.map((r) => r.p99_us),
  };
}

/** `one`'s figure over `base`'s, round by round (each pair measured back to back). */
function ratios(one: Case, base: Case, key: "calls_per_s" | "p99_us"): number[] {
  return one.runs.map((run, i) => Math.round((run[key] / base.runs[i]![key]) * 100) / 100);
}

function medianRatio(one: Case, base: Case, key: "calls_per_s" | "p99_us"): number {
  return median(ratios(one, base, key));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : Math.round(((sorted[middle - 1]! + sorted[middle]!) / 2) * 100) / 100;
}
