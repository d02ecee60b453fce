/**
 * JSON-RPC over HTTP POST, both sides: {@linkcode httpHandler} serves a
 * {@linkcode Server} from your own `Deno.serve`, {@linkcode listen} on a
 * socket of its own, and {@linkcode connect} is the client, on `fetch`
 * alone (Deno and browsers), with optional batching.
 *
 * A POST carries one message or a batch (a JSON array). It is answered 200
 * with the reply (or the array of replies), or 204 with no body when it
 * carried only notifications. Before its body is read it is checked: its
 * path (404), `Host` (403; on loopback, against DNS rebinding), `Origin`
 * (403; same origin by default, `origins` for others, which also get CORS
 * preflights), POST only (405), an `application/json` body (415),
 * `authorize` (401, 403), room (503 past `maxConcurrentPosts` or
 * `maxPendingBodyBytes`, with `Retry-After`); then the body,
 * up to `maxBodyBytes` (413), that is JSON (400, -32700) and JSON-RPC
 * (400, -32600). Every POST goes through the server's one dispatch path:
 * all of them share one connection of the server, told apart by exchange.
 *
 * The server cannot call or notify the client on this wire: a handler that
 * tries gets a `NotDelivered` error (from `@seed/rpc`) saying so.
 *
 * @example Serve from your own Deno.serve, call with batching
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect, httpHandler } from "@seed/rpc/http";
 *
 * const server = new Server({ handlers: { add: ([a, b]) => a + b } });
 * const rpc = httpHandler(server, { path: "/rpc" });
 * const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) =>
 *   new URL(request.url).pathname === "/rpc" ? rpc(request, info) : new Response("your app"));
 * const client = new Peer(
 *   await connect(`http://127.0.0.1:${http.addr.port}/rpc`, { batch: { maxDelay: 0 } }),
 * );
 * // Called in the same tick: one POST carries both.
 * assertEquals(await Promise.all([client.call("add", [1, 2]), client.call("add", [3, 4])]), [3, 7]);
 * await client.close();
 * await server.shutdown();
 * await http.shutdown();
 * ```
 *
 * @module
 */

export {
  connect,
  type HttpBatchOptions,
  HttpClientChannel,
  type HttpConnectOptions,
  HttpError,
} from "./http/_client.ts";
export {
  type HttpEndpointOptions,
  httpHandler,
  HttpListener,
  type HttpListenOptions,
  listen,
  parseHttpUrl,
} from "./http/_server.ts";
export type { HttpListenerOptions } from "./_http_listener.ts";
export type { BrowserAccessOptions } from "./_browser.ts";
