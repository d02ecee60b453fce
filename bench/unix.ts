// Unix socket cases: the TCP cases (a raw newline echo, a hand-written
// minimal JSON-RPC, and ours) over a unix socket, each server in its own
// process. Deno allows a unix socket by its exact path only, so the group
// runs in a child process allowed the sockets of a fresh temp dir; it prints
// one JSON line per case, as bench/main.ts does.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/tcp.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import { MinJsonRpcClient } from "./_min_jsonrpc.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio, startServer } from "./_server_process.ts";

const RAW_LINE = '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}';
const SOCKETS = ["raw.sock", "min.sock", "rpc.sock"] as const;

/** Runs the unix cases in a child allowed exactly their sockets. */
export async function unixCases(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-bench-unix-" });
  try {
    const net = SOCKETS.map((name) => `unix:${dir}/${name}`).join(",");
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-net=${net}`,
        "--allow-read",
        `--allow-write=${dir}`,
        `--allow-run=${Deno.execPath()}`,
        "--allow-env=BENCH_MS",
        new URL(import.meta.url).pathname,
        dir,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (code !== 0) throw new Error(`the unix bench exited with status ${code}`);
    return new TextDecoder().decode(stdout).trim().split("\n").map((line) => JSON.parse(line));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function cases(dir: string): Promise<BenchResult[]> {
  const [rawPath, minPath, rpcPath] = SOCKETS.map((name) => `${dir}/${name}`);
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const rawServer = await startServer("unix-raw", rawPath);
    const raw = await RawEchoClient.connectUnix(rawPath!);
    const rawResult = await measure(
      `unix raw newline echo, ${inFlight} in flight`,
      () => raw.call(RAW_LINE),
      { inFlight },
    );
    await raw.close();
    await rawServer.stop();
    results.push(rawResult);

    const minServer = await startServer("unix-min-jsonrpc", minPath);
    const min = await MinJsonRpcClient.connectUnix(minPath!);
    const minResult = await measure(
      `unix hand-written minimal jsonrpc add, ${inFlight} in flight`,
      () => min.add(1, 2),
      { inFlight },
    );
    await min.close();
    await minServer.stop();
    minResult.ratio_to_raw = ratio(minResult, rawResult);
    results.push(minResult);

    const server = await startServer("unix-jsonrpc", rpcPath);
    const client = new Peer(await connect(`unix://${rpcPath}`), { logger: silentLogger });
    const params = { a: 1, b: 2 };
    const ours = await measure(
      `unix jsonrpc add, ${inFlight} in flight`,
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

if (import.meta.main) {
  for (const result of await cases(Deno.args[0]!)) console.log(JSON.stringify(result));
}
