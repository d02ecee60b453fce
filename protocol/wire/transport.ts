/**
 * The two interfaces every byte or text wire implements:
 * {@linkcode Transport} (one connection carrying frames) and
 * {@linkcode Listener} (accepts connections).
 *
 * A transport knows nothing of messages: it moves frames (a line of text, a
 * WebSocket message). {@linkcode framed} joins a transport and a codec into a
 * {@linkcode Channel}, which is what a {@linkcode Peer} talks through.
 *
 * @example Read every frame a transport receives
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, type Transport } from "@seed/rpc";
 *
 * async function collect(transport: Transport<string>): Promise<unknown[]> {
 *   const frames: unknown[] = [];
 *   for await (const frame of transport.frames) frames.push(frame);
 *   return frames;
 * }
 * const [a, b] = memoryPair();
 * const done = collect(b);
 * await a.send("hello");
 * await a.close();
 * assertEquals(await done, ["hello"]);
 * ```
 *
 * @module
 */

import type { Channel } from "./channel.ts";
import type { CloseReason } from "./close.ts";
import type { Dialect } from "./dialect.ts";

/**
 * The promise a {@linkcode Transport} or {@linkcode Channel} returns from
 * `send` when the frame was accepted at once. Returning this shared value,
 * rather than a new resolved promise, lets the caller skip waiting on it
 * (the peer's hot path does), so nothing is allocated for a send that needed
 * no wait. Any other promise is awaited as usual.
 *
 * @example A send the transport accepted at once
 * ```ts
 * import { assertStrictEquals } from "@std/assert";
 * import { ACCEPTED, memoryPair } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * assertStrictEquals(a.send("hello"), ACCEPTED);
 * await a.close();
 * await b.closed;
 * ```
 */
export const ACCEPTED: Promise<void> = Promise.resolve();

/**
 * A frame a transport received but could not read (bytes that are not UTF-8
 * text on a text wire). It takes the frame's place in `frames`, so the
 * channel can answer it as input it cannot parse, and reading goes on.
 */
export class InvalidFrame {
  /** What was wrong with it. */
  readonly reason: string;
  /** Its size in bytes. */
  readonly bytes: number;

  /**
   * Makes the marker for an unreadable frame.
   *
   * @param reason What was wrong with it.
   * @param bytes Its size in bytes.
   */
  constructor(reason: string, bytes: number) {
    this.reason = reason;
    this.bytes = bytes;
  }
}

/**
 * One connection that carries frames of type `F` both ways.
 *
 * @typeParam F The frame type (`string` for text wires).
 *
 * @example Frames through a transport
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * await a.send("ping");
 * assertEquals(b.take(), "ping");
 * await a.close();
 * ```
 */
export interface Transport<F> {
  /**
   * Hands one frame to the wire. Resolves when it is accepted; while the
   * other side is not reading and buffers are full, it waits (backpressure).
   * Rejects with `ConnectionClosed` once the connection is closed. Returns
   * {@linkcode ACCEPTED} when the frame was accepted at once.
   */
  send(frame: F): Promise<void>;
  /**
   * The frames received, in order; ends when the connection ends. It may
   * throw {@linkcode FrameTooLarge} after the last whole frame. A frame that
   * could not be read is an {@linkcode InvalidFrame} in its place.
   */
  readonly frames: AsyncIterable<F | InvalidFrame>;
  /**
   * Takes the next frame that has already arrived, without waiting, or
   * returns `undefined` when none has. It reads from the same queue as
   * `frames`, so a reader may mix the two: take what is there, then await
   * the iterator. Optional; transports that cannot offer it leave it out.
   */
  take?(): F | InvalidFrame | undefined;
  /** Closes the connection (both directions). Safe to call more than once. */
  close(reason?: string | CloseReason): Promise<void>;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** Who is at the other end, for logs (`127.0.0.1:50123`, `memory`). */
  readonly remote?: string;
  /** Why the connection ended, once it has. */
  readonly closeReason?: CloseReason;
  /**
   * Whether every frame costs a write and a packet of its own (a WebSocket
   * message): a stream's items then go several to a frame.
   *
   * @default {false}
   */
  readonly framePerWrite?: boolean;
  /**
   * The dialect this connection was opened for (`connect(url, { dialect })`),
   * which a peer or server on it speaks unless told otherwise.
   */
  readonly dialect?: Dialect;
}

/**
 * Accepts connections: iterate it to receive each new {@linkcode Transport}.
 * A {@linkcode Server} serves one with `server.serve(listener)`.
 *
 * @typeParam F The frame type of the connections.
 *
 * @example Accept one connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Listener } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const listener: Listener<string> = listen("tcp://127.0.0.1:0");
 * const client = await connect(listener.addr);
 * for await (const connection of listener) {
 *   assertEquals(connection.remote?.startsWith("127.0.0.1:"), true);
 *   await connection.close();
 *   break;
 * }
 * await client.close();
 * await listener.close();
 * ```
 */
export interface Listener<F> extends AsyncIterable<Transport<F> | Channel> {
  /** Where it listens (a URL string, such as `tcp://127.0.0.1:4000`). */
  readonly addr: string;
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>;
  /**
   * Given by `Server.serve`: whether the server would take a connection
   * now, so a listener can refuse one (a 503 before a WebSocket upgrade)
   * instead of accepting it for the server to close.
   */
  admit?(accepting: () => boolean): void;
}
