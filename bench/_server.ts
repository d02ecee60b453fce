// The server side of the TCP and WebSocket benchmarks, run in its own process
// so client and server each get a core:
//   deno run --allow-net=127.0.0.1 bench/_server.ts MODE
// MODE: tcp-raw | tcp-min-jsonrpc | tcp-jsonrpc | ws-raw | ws-min-jsonrpc | ws-jsonrpc | mushroom,
// or unix-raw | unix-min-jsonrpc | unix-jsonrpc PATH (on the unix socket at PATH; run with
// net, read and write permission for it).
// Prints the port (the path) on the first line of stdout, then serves until stdin closes.

import { Server, silentLogger } from "../mod.ts";
import { listen as listenTcp } from "../transports/tcp.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";
import { serveRawEcho } from "./_raw_echo.ts";
import { serveMinJsonRpc } from "./_min_jsonrpc.ts";
import { serveMinWebSocketJsonRpc, serveRawWebSocketEcho } from "./_raw_websocket.ts";

const handlers = { add: (p: { a: number; b: number }) => p.a + p.b };
const mode = Deno.args[0] ?? "tcp-jsonrpc";
let close: () => Promise<void>;
if (mode === "unix-raw" || mode === "unix-min-jsonrpc") {
  const path = Deno.args[1]!;
  const listener = Deno.listen({ transport: "unix", path });
  console.log(path);
  if (mode === "unix-raw") serveRawEcho(listener);
  else serveMinJsonRpc(listener);
  close = async () => {
    listener.close();
    // Closing with an accept pending leaves the file: remove it for the next case.
    await Deno.remove(path).catch(() => {});
  };
} else if (mode === "unix-jsonrpc") {
  const listener = listenTcp(`unix://${Deno.args[1]}`);
  console.log(Deno.args[1]);
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  close = () => server.close();
} else if (mode === "tcp-raw" || mode === "tcp-min-jsonrpc") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((listener.addr as Deno.NetAddr).port);
  if (mode === "tcp-raw") serveRawEcho(listener);
  else serveMinJsonRpc(listener);
  close = () => Promise.resolve(listener.close());
} else if (mode === "ws-raw" || mode === "ws-min-jsonrpc") {
  const stop = new AbortController();
  const http = mode === "ws-raw"
    ? serveRawWebSocketEcho(stop.signal)
    : serveMinWebSocketJsonRpc(stop.signal);
  console.log(http.addr.port);
  close = async () => {
    stop.abort();
    await http.finished;
  };
} else {
  const listener = mode === "ws-jsonrpc"
    ? listenWebSocket("ws://127.0.0.1:0/")
    : mode === "mushroom"
    ? listenMushroom("http://127.0.0.1:0/", { logger: silentLogger })
    : listenTcp("tcp://127.0.0.1:0");
  console.log(new URL(listener.addr).port);
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  close = () => server.close();
}
// Serve until the parent closes our stdin.
for await (const _ of Deno.stdin.readable) { /* wait */ }
await close();
Deno.exit(0);
