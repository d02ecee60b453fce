// What the in-process cost benches (_amqp_cost.ts, _amqp_caller_cost.ts,
// _amqp_service_cost.ts) share: heap bytes allocated so far, an optional
// sampled heap profiler (MESH_HEAP_PROFILE=<file>: garbage included), the
// interleaved rounds of the two stand-in benches, and the closing lines of
// medians and ranges per case.

import process from "node:process";
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

/** A case of a stand-in bench: `calls` calls with `inFlight` at once, and its end. */
export interface CostCase {
  call(calls: number, inFlight: number): Promise<unknown>;
  close(): Promise<unknown> | void;
}

/**
 * Runs `cases` interleaved (the order reversed every other round), `rounds`
 * times at 1 and 100 in flight, each after a warm-up of a quarter of `calls`;
 * prints a line per round (CPU us and KB allocated per call of each case),
 * then the summary, and closes the cases.
 */
export async function runRounds(
  cases: Record<string, CostCase>,
  rounds: number,
  calls: number,
): Promise<void> {
  const seen: Seen = {};
  for (let round = 0; round < rounds; round++) {
    for (const inFlight of [1, 100]) {
      const names = Object.keys(cases);
      if (round % 2 === 1) names.reverse();
      const line: Record<string, unknown> = { round, inFlight };
      for (const name of names) {
        const run = cases[name]!;
        await run.call(calls / 4, inFlight);
        const cpu0 = process.cpuUsage();
        const heap0 = allocated();
        if (profiling) {
          await inspect("HeapProfiler.startSampling", {
            samplingInterval: 256,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          });
        }
        await run.call(calls, inFlight);
        const cpu = process.cpuUsage(cpu0);
        if (profiling) {
          const { profile } = await inspect("HeapProfiler.stopSampling");
          Deno.writeTextFileSync(`${heapProfile}.${name}.${inFlight}`, JSON.stringify(profile));
        }
        const us = (cpu.user + cpu.system) / calls;
        const kb = (allocated() - heap0) / calls / 1024;
        line[`${name}_us`] = Math.round(us * 10) / 10;
        line[`${name}_kb`] = Math.round(kb * 100) / 100;
        const entry = seen[`${name} ${inFlight}`] ??= { us: [], kb: [] };
        entry.us.push(us);
        entry.kb.push(kb);
      }
      console.log(JSON.stringify(line));
    }
  }
  printSummary(seen, rounds);
  for (const run of Object.values(cases)) await run.close();
}

/** Runs `call` `n` times with `inFlight` of them under way at once (a closed loop). */
export async function closedLoop(
  n: number,
  inFlight: number,
  call: () => Promise<unknown>,
): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
