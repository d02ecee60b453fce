// What the in-process cost benches (_amqp_cost.ts, _amqp_caller_cost.ts,
// _amqp_service_cost.ts) share: heap bytes allocated so far, an optional
// sampled heap profiler (MESH_HEAP_PROFILE=<file>: garbage included), and
// the closing lines of medians and ranges per case.

import { getHeapStatistics } from "node:v8";
import { Session } from "node:inspector";

/** Heap bytes this isolate allocated so far (Deno's V8 reports it; @types/node does not know it). */
export const allocated = (): number =>
  (getHeapStatistics() as unknown as { total_allocated_bytes: number }).total_allocated_bytes;

/** The file prefix MESH_HEAP_PROFILE names, when heap profiles are asked for. */
export const heapProfile: string | undefined = Deno.env.get("MESH_HEAP_PROFILE");

const inspector = heapProfile === undefined ? undefined : new Session();
inspector?.connect();

/** Sends an inspector command (only when MESH_HEAP_PROFILE is set). */
export const inspect = (method: string, params: object = {}): Promise<{ profile?: unknown }> =>
  new Promise((resolve, reject) =>
    inspector!.post(
      method,
      params,
      (error, result) => error ? reject(error) : resolve(result ?? {}),
    )
  );
if (inspector !== undefined) await inspect("HeapProfiler.enable");

/** Whether heap profiles are taken. */
export const profiling: boolean = inspector !== undefined;

/** Per "<case> <in flight>": CPU us and KB allocated per call, one entry per round. */
export type Seen = Record<string, { us: number[]; kb: number[] }>;

/** Prints one JSON line per case: median and range of CPU us and KB allocated per call. */
export function printSummary(seen: Seen, rounds: number): void {
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const range = (list: number[]) =>
    [Math.min(...list), Math.max(...list)].map((n) => +n.toFixed(2));
  for (const [key, { us, kb }] of Object.entries(seen)) {
    const [name, inFlight] = key.split(" ");
    console.log(JSON.stringify({
      case: name,
      inFlight: Number(inFlight),
      rounds,
      cpu_us_per_call_median: +median(us).toFixed(1),
      cpu_us_per_call_range: range(us),
      alloc_kb_per_call_median: +median(kb).toFixed(2),
      alloc_kb_per_call_range: range(kb),
    }));
  }
}
