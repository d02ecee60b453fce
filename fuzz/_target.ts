// The server `deno task fuzz` attacks, in its own process so that a crash
// shows as the process dying:
//   deno run --allow-net=127.0.0.1 fuzz/_target.ts DIALECT
// DIALECT: jsonrpc | jsonrpc-tagged | simplerpc | quickrpc | quickrpc-terse | quickrpc-hmac |
// websocket | mushroom, or `amqp URL`: the service "fuzz" on the nuropb mesh at URL (events "fuzz.#").
// Prints its URL on the first line, then serves until stdin closes.

import { type Handler, jsonRpcTagged, RpcError, Server, silentLogger } from "../mod.ts";
import {
  hmacSecurity,
  quickRpc,
  quickRpcTerse,
  secureListener,
} from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { listen } from "../transports/tcp.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";

export const FUZZ_KEY = "a fuzzing key, shared by both ends";

/** The API under attack; results are objects so that simplerpc can carry them. */
export function targetHandlers(): Record<string, Handler> {
  return {
    echo: (params) => ({ echo: params }),
    add: ({ a, b }) => {
      if (typeof a !== "number" || typeof b !== "number") {
        throw new RpcError(-32602, "a and b must be numbers");
      }
      return { sum: a + b };
    },
    sleep: ({ ms }, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => resolve({ slept: ms }),
          Math.max(0, Math.min(Number(ms) || 0, 50)),
        );
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        }, { once: true });
      }),
    fail: ({ message }) => {
      throw new RpcError(-32000, String(message));
    },
    rss: () => ({ rss: Deno.memoryUsage().rss }),
  };
}

if (import.meta.main && Deno.args[0] === "amqp") {
  const { connectMesh } = await import("../transports/amqp.ts");
  const mesh = await connectMesh(Deno.args[1]!, { logger: silentLogger });
  await mesh.serve("fuzz", targetHandlers(), { events: { "fuzz.#": () => {} } });
  console.log(Deno.args[1]);
  for await (const _ of Deno.stdin.readable) { /* serve until stdin closes */ }
  await mesh.close();
  Deno.exit(0);
} else if (import.meta.main) {
  const dialect = Deno.args[0] ?? "jsonrpc";
  const server = new Server({ logger: silentLogger, handlers: targetHandlers() });
  switch (dialect) {
    case "jsonrpc":
      server.serve(listen("tcp://127.0.0.1:0", { logger: silentLogger }));
      break;
    case "jsonrpc-tagged":
      server.serve(listen("tcp://127.0.0.1:0", { dialect: jsonRpcTagged, logger: silentLogger }));
      break;
    case "simplerpc":
      server.serve(listen("tcp://127.0.0.1:0", { dialect: simpleRpc, logger: silentLogger }));
      break;
    case "quickrpc":
      server.serve(listen("tcp://127.0.0.1:0", { dialect: quickRpc, logger: silentLogger }));
      break;
    case "quickrpc-terse":
      server.serve(listen("tcp://127.0.0.1:0", { dialect: quickRpcTerse, logger: silentLogger }));
      break;
    case "quickrpc-hmac":
      server.serve(secureListener(
        listen("tcp://127.0.0.1:0", { dialect: quickRpc, logger: silentLogger }),
        hmacSecurity({ key: FUZZ_KEY, user: "target" }),
        { logger: silentLogger },
      ));
      break;
    case "websocket":
      server.serve(listenWebSocket("ws://127.0.0.1:0/", { logger: silentLogger }));
      break;
    case "mushroom":
      // Short polls and sessions: each case is a session that is dropped.
      server.serve(listenMushroom("http://127.0.0.1:0/", {
        logger: silentLogger,
        pollTimeout: 20,
        sessionTimeout: 2000,
        // Every case is a new session from this one address.
        maxHandshakesPerSecondPerSource: 1000,
      }));
      break;
    default:
      throw new Error(`unknown dialect ${dialect}`);
  }
  console.log(server.addr);
  for await (const _ of Deno.stdin.readable) { /* serve until stdin closes */ }
  await server.close();
  Deno.exit(0);
}
