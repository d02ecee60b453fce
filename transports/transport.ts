/**
 * The two interfaces every wire implements: {@linkcode Transport} (one
 * connection carrying frames) and {@linkcode Listener} (accepts connections).
 *
 * A transport knows nothing of messages: it moves frames (a line of text, a
 * WebSocket message, an AMQP delivery). Codecs turn frames into messages.
 *
 * @example Print every frame a transport receives
 * ```ts
 * import { memoryPair, type Transport } from "@seed/rpc";
 *
 * async function dump(transport: Transport<string>): Promise<void> {
 *   for await (const frame of transport.frames) console.log(frame);
 * }
 * const [a, b] = memoryPair();
 * const done = dump(b);
 * await a.send("hello");
 * await a.close();
 * await done;
 * ```
 *
 * @module
 */

/**
 * One connection that carries frames of type `F` both ways.
 *
 * @typeParam F The frame type (`string` for text wires).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * await a.send("ping");
 * for await (const frame of b.frames) {
 *   assertEquals(frame, "ping");
 *   break;
 * }
 * await a.close();
 * ```
 */
export interface Transport<F> {
  /**
   * Hands one frame to the wire. Resolves when it is accepted; while the
   * other side is not reading and buffers are full, it waits (backpressure).
   * Rejects with `ConnectionClosed` once the connection is closed.
   */
  send(frame: F): Promise<void>;
  /** The frames received, in order; ends when the connection ends. */
  readonly frames: AsyncIterable<F>;
  /** Closes the connection (both directions). Safe to call more than once. */
  close(reason?: string): Promise<void>;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** Who is at the other end, for logs (`127.0.0.1:50123`, `memory`). */
  readonly remote?: string;
  /** Why the connection ended, once it has (a timeout, the other side, a failed write). */
  readonly closeReason?: string;
}

/**
 * Accepts connections: iterate it to receive each new {@linkcode Transport}.
 *
 * @typeParam F The frame type of the connections.
 *
 * @example Accept connections until the listener closes
 * ```ts
 * import type { Listener } from "@seed/rpc";
 *
 * async function acceptAll(listener: Listener<string>): Promise<void> {
 *   for await (const connection of listener) {
 *     console.log("connected:", connection.remote);
 *   }
 * }
 * console.log(typeof acceptAll);
 * ```
 */
export interface Listener<F> extends AsyncIterable<Transport<F>> {
  /** Where it listens (a URL string, such as `tcp://127.0.0.1:4000`). */
  readonly addr: string;
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>;
}
