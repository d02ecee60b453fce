// Unix socket cases: the TCP cases (a raw newline echo, a hand-written
// minimal JSON-RPC, and ours; see bench/tcp.ts) over a unix socket, each
// client and server in a fresh pinned process of its own. Deno allows a unix
// socket by its exact path only: each process is allowed its socket in a
// fresh temp dir.

import { startServer } from "./_server_process.ts";
import { lineCases } from "./tcp.ts";

/** Runs the unix cases on sockets `<tmp dir>/<kind>.sock`. */
export async function unixCases(): Promise<Record<string, unknown>[]> {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-bench-unix-" });
  try {
    return await lineCases({
      name: "unix",
      start: (kind) => startServer(`unix-${kind}`, `${dir}/${kind}.sock`, true),
      address: (server) => `unix:${server.line}`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
