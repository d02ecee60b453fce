// Scale-out of the mesh: (1) competing consumers — 1, 2 and 4 instances of
// one service (each its own broker connection, as separate processes would
// have) on one queue, each taking one request at a time (prefetch 1, nuropb's
// default) whose handler awaits a 1 ms timer. An awaited timer, not a busy
// wait: the instances share this process's one JavaScript thread (and the
// machine has 2 CPUs), so a busy handler would measure the CPU, not the mesh;
// a timer measures how well the mesh keeps each instance busy, which is what
// adding instances buys. (2) Fan-out — one publisher's events to 1, 10 and
// 100 subscribing meshes (each its own connection and queue): events/s
// delivered, and this process's and the broker's CPU per delivery.

import process from "node:process";
import { silentLogger } from "../mod.ts";
import { connectMesh, type Mesh } from "../transports/amqp.ts";

function elapsedMs(): number {
  return Number(Deno.env.get("BENCH_MS") ?? 2000);
}

/** Keeps `inFlight` calls going for `ms`; the calls completed. */
export async function closedLoop(call: () => Promise<unknown>, inFlight: number, ms: number) {
  const deadline = performance.now() + ms;
  let calls = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await call();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return calls;
}

const sleep1 = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

/** Competing consumers: throughput with 1, 2 and 4 instances of a 1 ms service. */
export async function competingConsumers(url: string): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  const client = await connectMesh(url, { logger: silentLogger, timeout: 30_000 });
  const instances: Mesh[] = [];
  const inFlight = 32;
  let one = 0;
  try {
    for (const count of [1, 2, 4]) {
      while (instances.length < count) {
        const mesh = await connectMesh(url, { logger: silentLogger });
        await mesh.serve("scale", { work: sleep1 }, { prefetch: 1 });
        instances.push(mesh);
      }
      const call = () => client.request("scale", "work", {});
      await closedLoop(call, inFlight, elapsedMs() / 4);
      const started = performance.now();
      const calls = await closedLoop(call, inFlight, elapsedMs());
      const perS = Math.round(calls / ((performance.now() - started) / 1000));
      if (count === 1) one = perS;
      results.push({
        bench: `amqp mesh scale-out, ${count} instance(s) of a 1 ms service`,
        instances: count,
        prefetch: 1,
        in_flight: inFlight,
        handler: "await a 1 ms timer",
        calls_per_s: perS,
        speedup_vs_1: Math.round(perS / one * 100) / 100,
        ideal_per_s: count * 1000,
      });
    }
  } finally {
    for (const mesh of instances) await mesh.close();
    await client.close();
  }
  return results;
}

/** Fan-out: one publisher's events to 1, 10 and 100 subscribers. */
export async function fanOut(
  url: string,
  brokerCpuMs?: () => Promise<number>,
): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  const publisher = await connectMesh(url, { logger: silentLogger });
  const subscribers: Mesh[] = [];
  let delivered = 0;
  /** Resolved at the next delivery: what waits for the readers waits on it. */
  let gate: PromiseWithResolvers<void> | undefined;
  const onEvent = () => {
    delivered++;
    const open = gate;
    gate = undefined;
    open?.resolve();
  };
  const nextDelivery = () => (gate ??= Promise.withResolvers<void>()).promise;
  try {
    for (const count of [1, 10, 100]) {
      while (subscribers.length < count) {
        const mesh = await connectMesh(url, { logger: silentLogger });
        await mesh.subscribe("bench.fanout", onEvent);
        subscribers.push(mesh);
      }
      // Bounded in time: a case whose deliveries stop for a minute fails.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`fan-out to ${count}: deliveries stalled`)),
          60_000 + elapsedMs() * 2,
        );
      });
      stalled.catch(() => {});
      const waitDelivery = () => Promise.race([nextDelivery(), stalled]);
      try {
        // The publisher keeps 16 events unconfirmed and at most 256 events
        // ahead of the slowest reader, so queues do not grow without bound.
        let published = 0;
        const publish = async () => {
          while ((published - 256) * count > delivered) await waitDelivery();
          published++;
          await publisher.publish("bench.fanout", { n: published });
        };
        await closedLoop(publish, 16, elapsedMs() / 4);
        const delivered0 = delivered;
        const cpu0 = process.cpuUsage();
        const broker0 = await brokerCpuMs?.();
        const started = performance.now();
        await closedLoop(publish, 16, elapsedMs());
        const seconds = (performance.now() - started) / 1000;
        const deliveries = delivered - delivered0;
        const cpu = process.cpuUsage(cpu0);
        const brokerMs = broker0 === undefined ? undefined : await brokerCpuMs!() - broker0;
        results.push({
          bench: `amqp mesh events fan-out to ${count} subscriber(s)`,
          subscribers: count,
          delivered_per_s: Math.round(deliveries / seconds),
          events_per_s: Math.round(deliveries / seconds / count),
          deno_us_per_delivery: Math.round((cpu.user + cpu.system) / deliveries * 10) / 10,
          broker_us_per_delivery: brokerMs === undefined
            ? null
            : Math.round(brokerMs * 1000 / deliveries * 10) / 10,
        });
        // What is still queued is read before the next case.
        while (delivered < published * count) await waitDelivery();
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    for (const mesh of subscribers) await mesh.close();
    await publisher.close();
  }
  return results;
}
