// mushroom cases: `add` through a mushroom session over a WebSocket, against
// the raw Deno WebSocket echo and our plain JSON-RPC over WebSocket, measured
// in the same run (each server in its own process): the gap to the latter is
// what the session layer costs (numbering, the outbox, heartbeats, Python
// JSON). And over long polling: a call's round trip is a send and a poll.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/websocket.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { RawWebSocketClient } from "./_raw_websocket.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio, startServer } from "./_server_process.ts";

const RAW_MESSAGE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

export async function mushroomCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const params = { a: 1, b: 2 };
  for (const inFlight of [1, 100]) {
    const rawServer = await startServer("ws-raw");
    const raw = await RawWebSocketClient.connect(`ws://127.0.0.1:${rawServer.port}/`);
    const rawResult = await measure(
      `websocket raw echo, ${inFlight} in flight (mushroom run)`,
      () => raw.call(RAW_MESSAGE),
      { inFlight },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const wsServer = await startServer("ws-jsonrpc");
    const wsClient = new Peer(await connect(`ws://127.0.0.1:${wsServer.port}/`), {
      logger: silentLogger,
    });
    const plain = await measure(
      `websocket jsonrpc add, ${inFlight} in flight (mushroom run)`,
      () => wsClient.call("add", params),
      { inFlight },
    );
    await wsClient.close();
    await wsServer.stop();
    plain.ratio_to_raw = ratio(plain, rawResult);
    results.push(plain);

    for (const transport of ["ws", "poll"] as const) {
      const server = await startServer("mushroom");
      const session = await connectMushroom(`http://127.0.0.1:${server.port}/`, {
        transports: [transport],
        logger: silentLogger,
      });
      const client = new Peer(session, { logger: silentLogger });
      const ours = await measure(
        `mushroom add over ${
          transport === "ws" ? "WebSocket" : "long polling"
        }, ${inFlight} in flight`,
        () => client.call("add", params),
        { inFlight },
      );
      await client.close();
      await server.stop();
      ours.ratio_to_raw = ratio(ours, rawResult);
      ours.ratio_to_websocket_jsonrpc = ratio(ours, plain);
      results.push(ours);
    }
  }
  return results;
}
