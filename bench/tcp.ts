// TCP cases: JSON-RPC `add` through our transport and Peer, against a raw
// newline echo and a hand-written minimal JSON-RPC, measured in the same run,
// each server in its own process. Reports ratio_to_raw and
// ratio_to_min_jsonrpc for ours.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/tcp.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import { MinJsonRpcClient } from "./_min_jsonrpc.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio, startServer } from "./_server_process.ts";

// A JSON-RPC request line of about 60 bytes, like the one our client sends.
const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

export async function tcpCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rawServer = await startServer("tcp-raw");
    const raw = await RawEchoClient.connect(rawServer.port);
    const rawResult = await measure(
      `tcp raw newline echo, ${inFlight} in flight`,
      () => raw.call(RAW_LINE),
      { inFlight },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const minServer = await startServer("tcp-min-jsonrpc");
    const min = await MinJsonRpcClient.connect(minServer.port);
    const minResult = await measure(
      `tcp hand-written minimal jsonrpc add, ${inFlight} in flight`,
      () => min.add(1, 2),
      { inFlight },
    );
    await min.close();
    await minServer.stop();
    minResult.ratio_to_raw = ratio(minResult, rawResult);
    results.push(minResult);

    const server = await startServer("tcp-jsonrpc");
    const client = new Peer(await connect(`tcp://127.0.0.1:${server.port}`), {
      logger: silentLogger,
    });
    const params = { a: 1, b: 2 };
    const ours = await measure(
      `tcp jsonrpc add, ${inFlight} in flight`,
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
