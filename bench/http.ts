// HTTP cases: JSON-RPC `add` over HTTP POST, measured the way a deployment
// runs (as bench/tcp.ts does): for each case the server and the client each
// start in a fresh process of their own (loading only their own code), pinned
// where the OS allows (taskset: client on CPU 0, server on CPU 1); the
// measuring loop runs in the client process and keeps exactly N calls in
// flight, the same loop for every case:
//   min-jsonrpc  a hand-written Deno.serve handler (parse, add, answer)
//                called with a plain fetch (bench/_min_http.ts)
//   min-guarded  the same pair with the guards every JSON-RPC over HTTP
//                endpoint and client here must keep, written out plainly
//                (path, method, Host, Origin, content type and length,
//                a JSON-RPC check; an AbortController per call, the
//                reply's length checked, its id matched): what the wire
//                costs with them, before any library (ratio_to_min_guarded)
//   handler      ours: a Peer on our fetch client, against httpHandler in Deno.serve
//   listen       ours: the same client against our own listen()
// and, at 1 in flight, one side of ours against the hand-written other side,
// so each process's CPU per call compares with min-jsonrpc's alone (the
// client's work does not depend on which server answers, nor the server's
// on which client asks):
//   client-only  our client against the hand-written Deno.serve handler
//   server-only  httpHandler in Deno.serve called with the plain fetch
// The cases run interleaved, BENCH_RUNS times (default 5), each BENCH_MS
// (default 2000) after a 2 s warm-up. One JSON line per case and in-flight
// count: medians over the runs with the spread (min, max), the ratio to the
// hand-written one per run (median and range), each process's CPU time per
// call and peak RSS (VmHWM), as bench/tcp.ts says. BENCH_IN_FLIGHT (say `1`,
// or `1,32`, the default) picks the in-flight counts.

import { cpuPinning, startServer } from "./_server_process.ts";
import { runClient } from "./_client_process.ts";
import { type Run, summary } from "./tcp.ts";

/** The cases, in the order they run within each run: server mode, client kind, name. */
const CASES = [
  [
    "min-jsonrpc",
    "http-min-jsonrpc",
    "http-min-jsonrpc",
    "hand-written Deno.serve jsonrpc add + plain fetch",
  ],
  [
    "min-guarded",
    "http-min-guarded",
    "http-min-guarded",
    "hand-written Deno.serve jsonrpc add + plain fetch, both with the guards",
  ],
  [
    "handler",
    "http-handler",
    "http-jsonrpc",
    "jsonrpc add, httpHandler in Deno.serve + our client",
  ],
  ["listen", "http-listen", "http-jsonrpc", "jsonrpc add, our listen() + our client"],
  [
    "client-only",
    "http-min-jsonrpc",
    "http-jsonrpc",
    "jsonrpc add, hand-written Deno.serve + our client (our client alone)",
  ],
  [
    "server-only",
    "http-handler",
    "http-min-jsonrpc",
    "jsonrpc add, httpHandler in Deno.serve + plain fetch (our server alone)",
  ],
] as const;

type Case = typeof CASES[number][0];

/** The cases that isolate one side run at 1 in flight only (the case the issue is about). */
function casesAt(inFlight: number): typeof CASES[number][] {
  return CASES.filter(([name]) => inFlight === 1 || !name.endsWith("-only"));
}

export async function httpCases(): Promise<Record<string, unknown>[]> {
  const runs = Math.max(1, Number(Deno.env.get("BENCH_RUNS") ?? 5));
  const pinned = (await cpuPinning()).note;
  const results: Record<string, unknown>[] = [];
  const counts = (Deno.env.get("BENCH_IN_FLIGHT") ?? "1,32").split(",").map(Number);
  for (const inFlight of counts) {
    const cases = casesAt(inFlight);
    const byCase = new Map<Case, Run[]>(cases.map(([name]) => [name, []]));
    for (let run = 0; run < runs; run++) {
      for (const [name, mode, kind, label] of cases) {
        const server = await startServer(mode, undefined, true);
        let client;
        try {
          client = await runClient(
            kind,
            `http://127.0.0.1:${server.port}/`,
            inFlight,
            `http ${label}, ${inFlight} in flight`,
          );
        } catch (error) {
          await server.stop();
          throw error;
        }
        byCase.get(name)!.push({ client, server: await server.stop() });
      }
    }
    for (const [name] of cases) {
      const bases: [Case, string][] = name === "min-jsonrpc"
        ? []
        : name === "handler" || name === "listen"
        ? [["min-jsonrpc", "min_jsonrpc"], ["min-guarded", "min_guarded"]]
        : [["min-jsonrpc", "min_jsonrpc"]];
      results.push(summary(name, byCase, bases, "min-jsonrpc", { runs, pinned }));
    }
  }
  return results;
}
