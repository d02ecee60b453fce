// TCP cases, measured the way a deployment runs: for each case the server and
// the client each start in a fresh process of their own (loading only their
// own code), pinned to separate CPUs where the OS allows (taskset: client on
// CPU 0, server on CPU 1); the measuring loop runs in the client process and
// keeps exactly N calls in flight, the same loop for all three kinds:
//   raw            a raw newline echo, no JSON (the limit of the socket)
//   min-jsonrpc    a hand-written minimal JSON-RPC client and server
//   jsonrpc        ours: Peer + transports/tcp.ts against Server
// The kinds run interleaved, BENCH_RUNS times (default 3), each BENCH_MS
// (default 2000) after a warm-up. One JSON line per kind and in-flight count:
// medians over the runs with the spread (min, max), ratios per run (median
// and range), and each process's peak RSS (VmHWM) with its ratio to the
// minimal's; *_start_mib is the RSS once connected (listening), before any call;
// *_cpu_us_per_call the CPU time (user + system) each process spent per call.

import {
  cpuPinning,
  type ServerMemory,
  type ServerProcess,
  startServer,
} from "./_server_process.ts";
import { type ClientResult, runClient } from "./_client_process.ts";

/** Where the three servers of the line-framed cases listen: TCP on 127.0.0.1, or unix sockets. */
export interface LineWire {
  /** The prefix of every case name (`tcp`, `unix`). */
  name: string;
  /** Starts the server of `kind` (`raw`, `min-jsonrpc`, `jsonrpc`) in its own pinned process. */
  start(kind: string): Promise<ServerProcess>;
  /** What the client process connects to: a port, or `unix:PATH`. */
  address(server: ServerProcess): string;
}

const TCP: LineWire = {
  name: "tcp",
  start: (kind) => startServer(`tcp-${kind}`, undefined, true),
  address: (server) => String(server.port),
};

/** The kinds, in the order they run within each run, and how their lines are named. */
const KINDS = [
  ["raw", "raw newline echo"],
  ["min-jsonrpc", "hand-written minimal jsonrpc add"],
  ["jsonrpc", "jsonrpc add"],
] as const;

type Kind = typeof KINDS[number][0];

/** One case's result in one run: its client's, and its server's memory and CPU. */
export interface Run {
  client: ClientResult;
  server: ServerMemory | undefined;
}

export function tcpCases(): Promise<Record<string, unknown>[]> {
  return lineCases(TCP);
}

/** Raw echo, hand-written minimal JSON-RPC and ours, 1 and 100 in flight, over `wire`. */
export async function lineCases(wire: LineWire): Promise<Record<string, unknown>[]> {
  const runs = Math.max(1, Number(Deno.env.get("BENCH_RUNS") ?? 3));
  const pinned = (await cpuPinning()).note;
  const results: Record<string, unknown>[] = [];
  for (const inFlight of [1, 100]) {
    const byKind = new Map<Kind, Run[]>(KINDS.map(([kind]) => [kind, []]));
    for (let run = 0; run < runs; run++) {
      for (const [kind, label] of KINDS) {
        const server = await wire.start(kind);
        const name = `${wire.name} ${label}, ${inFlight} in flight`;
        let client: ClientResult;
        try {
          client = await runClient(kind, wire.address(server), inFlight, name);
        } catch (error) {
          await server.stop();
          throw error;
        }
        byKind.get(kind)!.push({ client, server: await server.stop() });
      }
    }
    for (const [kind] of KINDS) {
      const bases: [Kind, string][] = kind === "raw"
        ? []
        : kind === "min-jsonrpc"
        ? [["raw", "raw"]]
        : [["raw", "raw"], ["min-jsonrpc", "min_jsonrpc"]];
      results.push(summary(kind, byKind, bases, "min-jsonrpc", { runs, pinned }));
    }
  }
  return results;
}

/**
 * One line for `kind`: medians, spread, per-run ratios to each of `bases`
 * (kind, label), memory (with its ratio to `minimal`'s, the hand-written
 * minimal JSON-RPC, unless it is that one).
 */
export function summary<K extends string>(
  kind: K,
  byKind: Map<K, Run[]>,
  bases: [K, string][],
  minimal: K,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const runs = byKind.get(kind)!;
  const rates = runs.map((run) => run.client.calls_per_s);
  const line: Record<string, unknown> = {
    bench: runs[0]!.client.bench,
    calls_per_s: Math.round(median(rates)),
    calls_per_s_min: Math.min(...rates),
    calls_per_s_max: Math.max(...rates),
    p50_us: Math.round(median(runs.map((run) => run.client.p50_us))),
    p99_us: Math.round(median(runs.map((run) => run.client.p99_us))),
    calls: Math.round(median(runs.map((run) => run.client.calls))),
  };
  for (const [base, label] of bases) {
    // Ratios within each run (interleaved: the same load on the machine), then their median.
    const ratios = runs.map((run, i) =>
      run.client.calls_per_s / byKind.get(base)![i]!.client.calls_per_s
    );
    line[`ratio_to_${label}`] = round2(median(ratios));
    line[`ratio_to_${label}_range`] = [round2(Math.min(...ratios)), round2(Math.max(...ratios))];
  }
  // CPU per call of each process: what the rate would be bound by were the
  // two fully overlapped (the larger), or in lock step (the sum).
  line.client_cpu_us_per_call = round2(
    median(runs.map((run) => run.client.cpu_us_per_call ?? NaN)),
  );
  line.server_cpu_us_per_call = round2(median(runs.map((run) => {
    const { calls, warmup_calls } = run.client;
    return (run.server?.cpu_ms ?? NaN) * 1000 / (calls + warmup_calls);
  })));
  line.client_peak_mib = round1(median(runs.map((run) => run.client.peak_mib)));
  line.server_peak_mib = round1(median(runs.map((run) => run.server?.peak_mib ?? NaN)));
  line.client_start_mib = round1(median(runs.map((run) => run.client.rss_start_mib)));
  line.server_start_mib = round1(median(runs.map((run) => run.server?.rss_start_mib ?? NaN)));
  if (kind !== minimal) {
    const min = byKind.get(minimal)!;
    const minClient = median(min.map((run) => run.client.peak_mib));
    const minServer = median(min.map((run) => run.server?.peak_mib ?? NaN));
    line.client_peak_ratio_to_min_jsonrpc = round2((line.client_peak_mib as number) / minClient);
    line.server_peak_ratio_to_min_jsonrpc = round2((line.server_peak_mib as number) / minServer);
  }
  return { ...line, ...extra };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
