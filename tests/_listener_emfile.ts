// Run by tests/websocket_listener_test.ts under `ulimit -n 400`: a listener
// (ws or mushroom, the argument) runs out of file descriptors by connections
// to itself, they close, and it must still serve. Prints one JSON line.

import { type Channel, Peer, Server, type Transport } from "../mod.ts";
import { connect as connectWebSocket } from "../transports/websocket.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";

const wire = Deno.args[0];
const logger = recordingLogger();
const server = new Server({ logger, handlers: { ping: () => "pong" } }).serve(
  wire === "ws"
    ? listenWebSocket("ws://127.0.0.1:0/rpc", { logger })
    : listenMushroom("http://127.0.0.1:0/", { logger }),
);
const { hostname, port } = new URL(server.addr);
const conns: Deno.Conn[] = [];
let refused = "";
const started = performance.now();
while (conns.length < 2000 && performance.now() - started < 20_000) {
  try {
    conns.push(await Deno.connect({ hostname, port: Number(port) }));
  } catch (error) {
    refused = (error as Error).message;
    break;
  }
}
// The listener met the limit (it logs that once) ...
await waitFor(() => logger.messages("warn").some((m) => /fail/.test(m)), {
  timeout: 10_000,
  message: "the listener's accept failing",
});
for (const conn of conns) conn.close();
// ... and serves again once file descriptors are free.
const open = (): Promise<Transport<string> | Channel> =>
  wire === "ws" ? connectWebSocket(server.addr) : connectMushroom(server.addr);
const client = new Peer(
  await waitFor(() => open().catch(() => undefined), {
    timeout: 20_000,
    interval: 50,
    message: "a connection after the flood",
  }),
  { logger: recordingLogger() },
);
const answer = await within(client.call("ping"), 10_000, "an answer");
await client.close();
await server.shutdown();
console.log(
  JSON.stringify({ opened: conns.length, refused, answer, warnings: logger.messages("warn") }),
);
