// TCP cases: JSON-RPC `add` through our transport and Peer, against a raw
// newline echo and a hand-written minimal JSON-RPC, measured in the same run,
// each server in its own process. Reports ratio_to_raw and
// ratio_to_min_jsonrpc for ours.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/tcp.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import { MinJsonRpcClient } from "./_min_jsonrpc.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio, type ServerProcess, startServer } from "./_server_process.ts";

// A JSON-RPC request line of about 60 bytes, like the one our client sends.
const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

/** Where the three servers of the line-framed cases listen: TCP on 127.0.0.1, or unix sockets. */
export interface LineWire {
  /** The prefix of every case name (`tcp`, `unix`). */
  name: string;
  /** Starts the server of `kind` (`raw`, `min-jsonrpc`, `jsonrpc`) in its own process. */
  start(kind: string): Promise<ServerProcess>;
  /** Connects the hand-written clients to a server it started. */
  raw(server: ServerProcess): Promise<RawEchoClient>;
  min(server: ServerProcess): Promise<MinJsonRpcClient>;
  /** The URL our transport connects to. */
  url(server: ServerProcess): string;
}

const TCP: LineWire = {
  name: "tcp",
  start: (kind) => startServer(`tcp-${kind}`),
  raw: (server) => RawEchoClient.connect(server.port),
  min: (server) => MinJsonRpcClient.connect(server.port),
  url: (server) => `tcp://127.0.0.1:${server.port}`,
};

export function tcpCases(): Promise<BenchResult[]> {
  return lineCases(TCP);
}

/** Raw echo, hand-written minimal JSON-RPC and ours, 1 and 100 in flight, over `wire`. */
export async function lineCases(wire: LineWire): Promise<BenchResult[]> {
  const { name } = wire;
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rawServer = await wire.start("raw");
    const raw = await wire.raw(rawServer);
    const rawResult = await measure(
      `${name} raw newline echo, ${inFlight} in flight`,
      () => raw.call(RAW_LINE),
      { inFlight },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const minServer = await wire.start("min-jsonrpc");
    const min = await wire.min(minServer);
    const minResult = await measure(
      `${name} hand-written minimal jsonrpc add, ${inFlight} in flight`,
      () => min.add(1, 2),
      { inFlight },
    );
    await min.close();
    await minServer.stop();
    minResult.ratio_to_raw = ratio(minResult, rawResult);
    results.push(minResult);

    const server = await wire.start("jsonrpc");
    const client = new Peer(await connect(wire.url(server)), { logger: silentLogger });
    const params = { a: 1, b: 2 };
    const ours = await measure(
      `${name} jsonrpc add, ${inFlight} in flight`,
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
