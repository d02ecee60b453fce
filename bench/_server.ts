// The server side of the TCP, unix socket and WebSocket benchmarks, run in its
// own process (as a deployment runs it), loading only the code of its mode:
//   deno run --allow-net=127.0.0.1 --allow-run=cat bench/_server.ts MODE
// MODE: tcp-raw | tcp-min-jsonrpc | tcp-jsonrpc | ws-raw | ws-min-jsonrpc | ws-jsonrpc | mushroom,
// http-min-jsonrpc | http-min-guarded | http-handler | http-listen (JSON-RPC over HTTP POST:
// hand-written, bare or with the guards, in
// Deno.serve, httpHandler in Deno.serve, our listen()),
// or unix-raw | unix-min-jsonrpc | unix-jsonrpc PATH (on the unix socket at PATH; run with
// net, read and write permission for it).
// Prints the port (the path) on the first line of stdout, then serves until
// stdin closes; then prints its memory (MiB) as one JSON line and exits:
//   {"rss_start_mib": N, "rss_end_mib": N, "peak_mib": N, "cpu_ms": N}
// (rss_start_mib: listening, before any connection; cpu_ms: CPU time used since.)

import { usage } from "./_measure.ts";

const handlers = { add: (p: { a: number; b: number }) => p.a + p.b };
const mode = Deno.args[0] ?? "tcp-jsonrpc";
let close: () => Promise<void>;
if (mode === "unix-raw" || mode === "unix-min-jsonrpc") {
  const path = Deno.args[1]!;
  const listener = Deno.listen({ transport: "unix", path });
  console.log(path);
  if (mode === "unix-raw") (await import("./_raw_echo.ts")).serveRawEcho(listener);
  else (await import("./_min_jsonrpc.ts")).serveMinJsonRpc(listener);
  close = async () => {
    listener.close();
    // Closing with an accept pending leaves the file: remove it for the next case.
    await Deno.remove(path).catch(() => {});
  };
} else if (mode === "tcp-raw" || mode === "tcp-min-jsonrpc") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((listener.addr as Deno.NetAddr).port);
  if (mode === "tcp-raw") (await import("./_raw_echo.ts")).serveRawEcho(listener);
  else (await import("./_min_jsonrpc.ts")).serveMinJsonRpc(listener);
  close = () => Promise.resolve(listener.close());
} else if (mode === "unix-jsonrpc" || mode === "tcp-jsonrpc") {
  // What a deployment of a TCP server imports: the Server and the TCP transport.
  const { Server, silentLogger } = await import("../mod.ts");
  const { listen } = await import("../transports/tcp.ts");
  const url = mode === "tcp-jsonrpc" ? "tcp://127.0.0.1:0" : `unix://${Deno.args[1]}`;
  const listener = listen(url);
  console.log(mode === "tcp-jsonrpc" ? new URL(listener.addr).port : Deno.args[1]);
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  close = () => server.close();
} else if (mode === "ws-raw" || mode === "ws-min-jsonrpc") {
  const { serveMinWebSocketJsonRpc, serveRawWebSocketEcho } = await import("./_raw_websocket.ts");
  const stop = new AbortController();
  const http = mode === "ws-raw"
    ? serveRawWebSocketEcho(stop.signal)
    : serveMinWebSocketJsonRpc(stop.signal);
  console.log(http.addr.port);
  close = async () => {
    stop.abort();
    await http.finished;
  };
} else if (mode === "http-min-jsonrpc" || mode === "http-min-guarded") {
  const { guardedHandler, minimalHandler, serveMinHttp } = await import("./_min_http.ts");
  const http = serveMinHttp(mode === "http-min-guarded" ? guardedHandler : minimalHandler);
  console.log(http.addr.port);
  close = () => http.shutdown();
} else if (mode === "http-handler") {
  // What a deployment of httpHandler imports: the Server and the HTTP transport.
  const { Server, silentLogger } = await import("../mod.ts");
  const { httpHandler } = await import("../transports/http.ts");
  const server = new Server({ logger: silentLogger, handlers });
  const handle = httpHandler(server, { logger: silentLogger });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  console.log(http.addr.port);
  close = async () => {
    await http.shutdown();
    await server.close();
  };
} else if (mode === "http-listen") {
  const { Server, silentLogger } = await import("../mod.ts");
  const { listen } = await import("../transports/http.ts");
  const listener = listen("http://127.0.0.1:0/", { logger: silentLogger });
  console.log(new URL(listener.addr).port);
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  close = () => server.close();
} else {
  const { Server, silentLogger } = await import("../mod.ts");
  const listener = mode === "ws-jsonrpc"
    ? (await import("../transports/websocket_server.ts")).listen("ws://127.0.0.1:0/")
    : (await import("../transports/mushroom_server.ts")).listen("http://127.0.0.1:0/", {
      logger: silentLogger,
    });
  console.log(new URL(listener.addr).port);
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  close = () => server.close();
}
const started = usage();
// Serve until the parent closes our stdin.
for await (const _ of Deno.stdin.readable) { /* wait */ }
const ended = usage();
const cpu = ended.cpu_ms - started.cpu_ms;
await close();
console.log(JSON.stringify({
  rss_start_mib: started.rss_mib,
  rss_end_mib: ended.rss_mib,
  peak_mib: ended.peak_mib,
  cpu_ms: Number.isNaN(cpu) ? undefined : cpu,
}));
Deno.exit(0);
