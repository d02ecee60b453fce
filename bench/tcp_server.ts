// The server side of the TCP benchmark, run in its own process so client and
// server each get a core:  deno run --allow-net=127.0.0.1 bench/tcp_server.ts raw|min-jsonrpc|jsonrpc
// Prints the port on the first line of stdout, then serves until stdin closes.

import { Peer, silentLogger } from "../mod.ts";
import { listen } from "../transports/tcp.ts";
import { serveRawEcho } from "./_raw_echo.ts";
import { serveMinJsonRpc } from "./_min_jsonrpc.ts";

const mode = Deno.args[0] ?? "jsonrpc";
let close: () => Promise<void>;
if (mode === "raw" || mode === "min-jsonrpc") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((listener.addr as Deno.NetAddr).port);
  if (mode === "raw") serveRawEcho(listener);
  else serveMinJsonRpc(listener);
  close = () => Promise.resolve(listener.close());
} else {
  const listener = listen("tcp://127.0.0.1:0");
  console.log(new URL(listener.addr).port);
  (async () => {
    for await (const connection of listener) {
      new Peer(connection, {
        logger: silentLogger,
        handlers: { add: (p: { a: number; b: number }) => p.a + p.b },
      });
    }
  })();
  close = () => listener.close();
}
// Serve until the parent closes our stdin.
for await (const _ of Deno.stdin.readable) { /* wait */ }
await close();
Deno.exit(0);
