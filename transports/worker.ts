/**
 * Workers and MessagePorts: a {@linkcode Peer} over a `Worker`, a worker's
 * `self`, a `MessagePort` or a `BroadcastChannel`. {@linkcode connect}
 * returns the channel a `Peer` talks through.
 *
 * - Messages cross as structured-clone objects (JSON-RPC 2.0 messages as
 *   objects, no JSON text): a `Uint8Array`, an `ArrayBuffer`, a `Date`, a
 *   `Map` in params or results arrives as itself. `transfer: true` moves
 *   buffers instead of copying them (the sender's copy is detached).
 * - Anything that arrives is checked: a value that is not a JSON-RPC
 *   message is answered or logged as invalid, as on every wire; a message
 *   that cannot be deserialized (`messageerror`) is counted and answered
 *   with a parse error.
 * - Closing the channel posts an `rpc.close` notification, so the peer on
 *   the other side closes too, and (by default) closes the endpoint: a port
 *   is closed, a Worker terminated, a worker's `self` closed. A worker that
 *   fails with an uncaught exception closes its channel (code `failed`).
 *   A worker terminated by someone else cannot be seen from outside in
 *   Deno: calls to it fail when they time out (a browser fires `close` on a
 *   `MessagePort` whose other end is gone, which closes the channel).
 * - A `BroadcastChannel` reaches every other listener of its name, so it
 *   carries notifications only: a call rejects with a `TypeError`, and a
 *   call or junk that arrives is logged and dropped (an answer would reach
 *   them all).
 * - `postMessage` has no backpressure: what arrives waits in the channel
 *   while the peer's own limits (`maxConcurrentHandlers`) pace the handlers;
 *   past `maxQueued` messages or `maxQueuedBytes` unread, the channel closes
 *   (`CloseCode.Refused`) and tells the other side.
 *
 * @example Two peers over a MessageChannel
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer } from "@seed/rpc";
 * import { connect } from "@seed/rpc/worker";
 *
 * const { port1, port2 } = new MessageChannel();
 * const server = new Peer(connect(port1), {
 *   handlers: { reverse: ([bytes]: [Uint8Array]) => bytes.toReversed() },
 * });
 * const client = new Peer(connect(port2));
 * const reversed = await client.call("reverse", [new Uint8Array([1, 2, 3])]);
 * assertEquals(reversed, new Uint8Array([3, 2, 1])); // bytes stay bytes
 * await client.close(); // the server's peer closes too
 * await server.closed;
 * ```
 *
 * @module
 */

import { type Endpoint, PortChannel, type PortOptions } from "./worker/_port_channel.ts";

export {
  CLOSE_METHOD,
  type Endpoint,
  PortChannel,
  type PortOptions,
} from "./worker/_port_channel.ts";
export { type CloneFrame, StructuredCloneCodec } from "../protocol/dialects/structured_clone.ts";

/**
 * A channel over `endpoint` (a `Worker`, a worker's `self`, a
 * `MessagePort`, a `BroadcastChannel`), to give to `new Peer(...)` or
 * `server.add(...)`. It listens at once (a port is started).
 *
 * @param endpoint Where messages are posted and received.
 * @param options Transfer, whether closing closes the endpoint, logging.
 *
 * @example A call whose buffer is transferred, not copied
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer } from "@seed/rpc";
 * import { connect } from "@seed/rpc/worker";
 *
 * const { port1, port2 } = new MessageChannel();
 * const server = new Peer(connect(port1), {
 *   handlers: { size: ([buffer]: [ArrayBuffer]) => buffer.byteLength },
 * });
 * const client = new Peer(connect(port2, { transfer: true }));
 * const buffer = new ArrayBuffer(1024);
 * assertEquals(await client.call("size", [buffer]), 1024);
 * assertEquals(buffer.byteLength, 0); // moved to the other side
 * await client.close();
 * await server.closed;
 * ```
 */
export function connect(
  endpoint: Endpoint | typeof globalThis,
  options?: PortOptions,
): PortChannel {
  // `self` inside a worker is typed as the window's global unless a module
  // opts into the worker lib; it is accepted as it is, no lib line needed.
  return new PortChannel(endpoint as Endpoint, options);
}
