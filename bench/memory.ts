// In-memory pair: the cost of the core alone (codec, Peer, no sockets), and
// what the optional features cost on top: latency measurement, and one
// pass-through interceptor on each side.

import { type Interceptor, memoryPair, Peer, type PeerOptions, silentLogger } from "../mod.ts";
import { type BenchResult, measure } from "./_measure.ts";

const passThrough: Interceptor = (_call, next) => next();

const VARIANTS: [string, PeerOptions][] = [
  ["", {}],
  [", latency on", { latency: true }],
  [", one interceptor", { interceptors: [passThrough] }],
];

export async function memoryCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const [suffix, options] of VARIANTS) {
    for (const inFlight of [1, 100]) {
      const [a, b] = memoryPair();
      const server = new Peer(a, {
        ...options,
        logger: silentLogger,
        handlers: { add: (p: { a: number; b: number }) => p.a + p.b },
      });
      const client = new Peer(b, { ...options, logger: silentLogger });
      const params = { a: 1, b: 2 };
      const name = `memory jsonrpc add, ${inFlight} in flight${suffix}`;
      const result = await measure(name, () => client.call("add", params), { inFlight });
      if (suffix !== "") {
        const plain = results.find((r) => r.bench === `memory jsonrpc add, ${inFlight} in flight`);
        if (plain !== undefined) {
          result.ratio_to_plain = Math.round(result.calls_per_s / plain.calls_per_s * 100) / 100;
        }
      }
      results.push(result);
      await client.close();
      await server.closed;
    }
  }
  return results;
}
