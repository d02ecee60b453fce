// Where a mesh request's time goes, next to the bare client's RPC: calls/s,
// and CPU per call of this process (caller + service) and of the broker,
// and heap bytes allocated per call of this process (both sides),
// interleaved over several rounds (order swapped each round) so the noise of a
// shared machine lands on both. `deno run -A bench/_amqp_cost.ts [rounds] [ms]`
// (add --cpu-prof for a profile; args: rounds, ms, the cases (default "bare,mesh"; also
// "forget": the mesh to a service that remembers no answers, "bare+<feature>", "before"),
// in-flight list "1,100").
// With MESH_BEFORE=<another checkout>, the case "before" is that checkout's
// mesh, on the same broker in the same process: a change's before and after
// measured side by side (e.g. `git archive <commit> | tar -x -C /tmp/before`).
// With MESH_HEAP_PROFILE=<prefix>, each measured loop's sampled heap profile
// (garbage included) goes to <prefix>.<case>.<in flight> (sum selfSize by frame).

import process from "node:process";
import { silentLogger } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";
import { startBroker } from "../tests/_rabbitmq.ts";
import { bareRpc, MESH_WIRE, WIRE_FEATURES } from "./amqp.ts";
import { closedLoop } from "./_amqp_scale.ts";
import { allocated, heapProfile, inspect, profiling } from "./_cpu_alloc.ts";

const rounds = Number(Deno.args[0] ?? 3);
const ms = Number(Deno.args[1] ?? 2000);
/** Only this case ("bare" or "mesh"), for a profile of one. */
const only = Deno.args[2];
const inFlights = (Deno.args[3] ?? "1,100").split(",").map(Number);

function brokerCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
}

const broker = await startBroker();
if (typeof broker === "string") throw new Error(broker);
try {
  const pid = broker.private
    ? Number((await broker.ctl("eval", "os:getpid().")).replace(/[^0-9]/g, ""))
    : undefined;
  const url = broker.url("/");
  const bare = await bareRpc(url);
  const server = await connectMesh(url, { logger: silentLogger });
  await server.serve("bench", { add: ({ a, b }) => a + b }, { prefetch: 16 });
  // The case "forget": the same service remembering no answers (what keeping them costs).
  await server.serve("bench-forget", { add: ({ a, b }) => a + b }, {
    prefetch: 16,
    rememberAnswers: 0,
  });
  const client = await connectMesh(url, { logger: silentLogger, timeout: 30_000 });
  const params = { a: 1, b: 2 };
  const beforeDir = Deno.env.get("MESH_BEFORE");
  const before: typeof import("../transports/amqp.ts") | undefined = beforeDir === undefined
    ? undefined
    : await import(new URL(`file://${beforeDir}/transports/amqp.ts`).href);
  const beforeServer = await before?.connectMesh(url, { logger: silentLogger });
  await beforeServer?.serve("bench-before", { add: ({ a, b }) => a + b }, { prefetch: 16 });
  const beforeClient = await before?.connectMesh(url, { logger: silentLogger, timeout: 30_000 });
  const variants: Record<string, Awaited<ReturnType<typeof bareRpc>>> = Object.fromEntries(
    await Promise.all(
      [...WIRE_FEATURES.map((f) => f.feature), "all"].map(async (v) => [
        v,
        await bareRpc(url, v === "all" ? MESH_WIRE : { [v]: true }),
      ]),
    ),
  );
  const cases: Record<string, () => Promise<unknown>> = {
    bare: () => bare.call(params),
    ...Object.fromEntries(
      Object.entries(variants).map(([v, rpc]) => [`bare+${v}`, () => rpc.call(params)]),
    ),
    mesh: () => client.request("bench", "add", params),
    forget: () => client.request("bench-forget", "add", params),
    ...beforeClient && { before: () => beforeClient.request("bench-before", "add", params) },
  };
  const seen: Record<string, Record<string, number[]>> = {};
  for (let round = 0; round < rounds; round++) {
    for (const inFlight of inFlights) {
      // The order turned each round: the noise of a busy machine lands on every case alike.
      const names = only ? only.split(",") : ["bare", "mesh"];
      if (round % 2 === 1) names.reverse();
      const line: Record<string, unknown> = { round, inFlight };
      for (const name of names) {
        await closedLoop(cases[name]!, inFlight, ms / 4);
        const cpu0 = process.cpuUsage();
        const heap0 = allocated();
        const broker0 = brokerCpuMs(pid);
        const t0 = performance.now();
        if (profiling) {
          await inspect("HeapProfiler.startSampling", {
            samplingInterval: 256,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          });
        }
        const calls = await closedLoop(cases[name]!, inFlight, ms);
        if (profiling) {
          const { profile } = await inspect("HeapProfiler.stopSampling");
          Deno.writeTextFileSync(`${heapProfile}.${name}.${inFlight}`, JSON.stringify(profile));
        }
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const heap = allocated() - heap0;
        line[`${name}_per_s`] = Math.round(calls / wall * 1000);
        line[`${name}_deno_us`] = Math.round((cpu.user + cpu.system) / calls);
        line[`${name}_alloc_kb`] = Math.round(heap / calls / 102.4) / 10;
        line[`${name}_broker_us`] = Math.round((brokerCpuMs(pid) - broker0) * 1000 / calls);
      }
      for (const name of names) {
        const ratio = (line[`${name}_per_s`] as number) / (line.bare_per_s as number);
        for (
          const [what, value] of Object.entries({
            per_s: line[`${name}_per_s`],
            deno_us: line[`${name}_deno_us`],
            alloc_kb: line[`${name}_alloc_kb`],
            broker_us: line[`${name}_broker_us`],
            ratio_to_bare: ratio,
          })
        ) {
          ((seen[`${name} ${inFlight}`] ??= {})[what] ??= []).push(value as number);
        }
      }
      console.log(JSON.stringify(line));
    }
  }
  for (const [key, values] of Object.entries(seen)) {
    const [name, inFlight] = key.split(" ");
    const summary: Record<string, unknown> = { case: name, inFlight: Number(inFlight), rounds };
    for (const [what, list] of Object.entries(values)) {
      const sorted = list.filter(Number.isFinite).sort((a, b) => a - b);
      const round2 = (n: number) => Math.round(n * 100) / 100;
      summary[`${what}_median`] = round2(sorted[Math.floor(sorted.length / 2)] ?? NaN);
      summary[`${what}_range`] = [round2(sorted[0] ?? NaN), round2(sorted.at(-1) ?? NaN)];
    }
    console.log(JSON.stringify(summary));
  }
  await client.close();
  await server.close();
  await beforeClient?.close();
  await beforeServer?.close();
  await bare.close();
  for (const rpc of Object.values(variants)) await rpc.close();
} finally {
  await broker.stop();
}
