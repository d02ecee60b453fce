// Unix socket cases: the TCP cases (a raw newline echo, a hand-written
// minimal JSON-RPC, and ours) over a unix socket, each server in its own
// process. Deno allows a unix socket by its exact path only, so the group
// runs in a child process allowed the sockets of a fresh temp dir; it prints
// one JSON line per case, as bench/main.ts does.

import { RawEchoClient } from "./_raw_echo.ts";
import { MinJsonRpcClient } from "./_min_jsonrpc.ts";
import type { BenchResult } from "./_measure.ts";
import { startServer } from "./_server_process.ts";
import { lineCases } from "./tcp.ts";

/** One socket per server kind, `<dir>/<kind>.sock`. */
const KINDS = ["raw", "min-jsonrpc", "jsonrpc"] as const;

/** Runs the unix cases in a child allowed exactly their sockets. */
export async function unixCases(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-bench-unix-" });
  try {
    const net = KINDS.map((kind) => `unix:${dir}/${kind}.sock`).join(",");
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

function cases(dir: string): Promise<BenchResult[]> {
  return lineCases({
    name: "unix",
    start: (kind) => startServer(`unix-${kind}`, `${dir}/${kind}.sock`),
    raw: (server) => RawEchoClient.connectUnix(server.line),
    min: (server) => MinJsonRpcClient.connectUnix(server.line),
    url: (server) => `unix://${server.line}`,
  });
}

if (import.meta.main) {
  for (const result of await cases(Deno.args[0]!)) console.log(JSON.stringify(result));
}
