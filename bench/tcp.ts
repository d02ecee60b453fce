// TCP cases: JSON-RPC `add` through our transport and Peer, against a raw
// newline echo measured in the same run, both with the server in its own
// process. Reports ratio_to_raw for ours.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/tcp.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import { MinJsonRpcClient } from "./_min_jsonrpc.ts";
import { type BenchResult, measure } from "./_measure.ts";

interface ServerProcess {
  port: number;
  stop(): Promise<void>;
}

async function startServer(mode: "raw" | "min-jsonrpc" | "jsonrpc"): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./tcp_server.ts", import.meta.url).pathname,
      mode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the benchmark server exited before printing its port");
    text += decoder.decode(value, { stream: true });
  }
  return {
    port: Number(text.trim()),
    stop: async () => {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}

// A JSON-RPC request line of about 60 bytes, like the one our client sends.
const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';

export async function tcpCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rawServer = await startServer("raw");
    const raw = await RawEchoClient.connect(rawServer.port);
    const rawResult = await measure(
      `tcp raw newline echo, ${inFlight} in flight`,
      () => raw.call(RAW_LINE),
      {
        inFlight,
      },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const minServer = await startServer("min-jsonrpc");
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

    const server = await startServer("jsonrpc");
    const client = new Peer(await connect(`tcp://127.0.0.1:${server.port}`), {
      logger: silentLogger,
    });
    const params = { a: 1, b: 2 };
    const ours = await measure(
      `tcp jsonrpc add, ${inFlight} in flight`,
      () => client.call("add", params),
      {
        inFlight,
      },
    );
    await client.close();
    await server.stop();
    ours.ratio_to_raw = ratio(ours, rawResult);
    ours.ratio_to_min_jsonrpc = ratio(ours, minResult);
    results.push(ours);
  }
  return results;
}

function ratio(ours: BenchResult, base: BenchResult): number {
  return Math.round((ours.calls_per_s / base.calls_per_s) * 100) / 100;
}
