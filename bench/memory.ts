// In-memory pair: the cost of the core alone (codec, Peer, no sockets).

import { memoryPair, Peer, silentLogger } from "../mod.ts";
import { type BenchResult, measure } from "./_measure.ts";

export async function memoryCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const [a, b] = memoryPair();
    const server = new Peer(a, {
      logger: silentLogger,
      handlers: { add: (p: { a: number; b: number }) => p.a + p.b },
    });
    const client = new Peer(b, { logger: silentLogger });
    const params = { a: 1, b: 2 };
    results.push(
      await measure(`memory jsonrpc add, ${inFlight} in flight`, () => client.call("add", params), {
        inFlight,
      }),
    );
    await client.close();
    await server.closed;
  }
  return results;
}
