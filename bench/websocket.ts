// WebSocket cases: JSON-RPC `add` through our WebSocket transport and Peer,
// against a raw Deno WebSocket echo measured in the same run, each server in
// its own process, and against a hand-written minimal JSON-RPC over the same
// raw WebSocket (parse, answer, send; no library). Reports ratio_to_raw and
// ratio_to_min_jsonrpc for ours.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/websocket.ts";
import { MinWebSocketJsonRpcClient, RawWebSocketClient } from "./_raw_websocket.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio, startServer } from "./_server_process.ts";

const RAW_MESSAGE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

export async function websocketCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rawServer = await startServer("ws-raw");
    const raw = await RawWebSocketClient.connect(`ws://127.0.0.1:${rawServer.port}/`);
    const rawResult = await measure(
      `websocket raw echo, ${inFlight} in flight`,
      () => raw.call(RAW_MESSAGE),
      { inFlight },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const minServer = await startServer("ws-min-jsonrpc");
    const min = await MinWebSocketJsonRpcClient.connect(`ws://127.0.0.1:${minServer.port}/`);
    const minResult = await measure(
      `websocket hand-written minimal jsonrpc add, ${inFlight} in flight`,
      () => min.add(1, 2),
      { inFlight },
    );
    await min.close();
    await minServer.stop();
    minResult.ratio_to_raw = ratio(minResult, rawResult);
    results.push(minResult);

    const server = await startServer("ws-jsonrpc");
    const client = new Peer(await connect(`ws://127.0.0.1:${server.port}/`), {
      logger: silentLogger,
    });
    const params = { a: 1, b: 2 };
    const ours = await measure(
      `websocket jsonrpc add, ${inFlight} in flight`,
      () => client.call("add", params),
      { inFlight },
    );
    await client.close();
    await server.stop();
    ours.ratio_to_raw = ratio(ours, rawResult);
    ours.ratio_to_min_jsonrpc = ratio(ours, minResult);
    results.push(ours);
  }
  return results;
}
