/**
 * The in-memory wire: {@linkcode memoryPair} makes two connected transports
 * in one process. Tests, examples and benchmarks use it; so can a program
 * that wants the RPC API between two parts of itself.
 *
 * Frames pass by reference (strings are immutable; other frame types are not
 * copied). Each direction holds at most `highWaterMark` unread frames, after
 * which `send` waits: the same backpressure a socket gives.
 *
 * @example Frames through an in-memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair } from "@seed/rpc";
 *
 * const [left, right] = memoryPair<string>();
 * await left.send("hello");
 * await left.close();
 * const frames: string[] = [];
 * for await (const frame of right.frames) frames.push(frame);
 * assertEquals(frames, ["hello"]);
 * ```
 *
 * @module
 */

import {
  CLOSED_LOCALLY,
  CLOSED_REMOTELY,
  type CloseReason,
  toCloseReason,
} from "../protocol/wire/close.ts";
import type { Dialect } from "../protocol/wire/dialect.ts";
import { ConnectionClosed } from "../protocol/wire/errors.ts";
import { ACCEPTED, type Transport } from "../protocol/wire/transport.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";

/**
 * Options for {@linkcode memoryPair}.
 *
 * @example Backpressure: a send waits while the other end has not read
 * ```ts
 * import { assertEquals, assertStrictEquals } from "@std/assert";
 * import { ACCEPTED, memoryPair } from "@seed/rpc";
 * const [a, b] = memoryPair({ highWaterMark: 1 });
 * assertStrictEquals(a.send("one"), ACCEPTED);
 * const second = a.send("two"); // waits: "one" is unread
 * assertEquals(b.take(), "one");
 * await second;
 * assertEquals(b.take(), "two");
 * await a.close();
 * await b.closed;
 * ```
 */
export interface MemoryPairOptions {
  /**
   * Unread frames each direction holds before `send` waits.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /** The dialect both ends speak; a peer on either end uses it. */
  dialect?: Dialect;
}

/**
 * One end of an in-memory connection. Made by {@linkcode memoryPair}.
 */
export class MemoryTransport<F> implements Transport<F> {
  /** Always `"memory"`. */
  readonly remote: string = "memory";
  /** The dialect given to {@linkcode memoryPair}. */
  readonly dialect: Dialect | undefined;
  #inbox: FrameQueue<F>;
  #other: MemoryTransport<F> | undefined;
  #closed: PromiseWithResolvers<void>;
  #reason: CloseReason | undefined;

  /** Use {@linkcode memoryPair}; a lone end has nobody to talk to. */
  constructor(highWaterMark = 1024, dialect?: Dialect) {
    this.#inbox = new FrameQueue<F>(highWaterMark);
    this.#closed = Promise.withResolvers<void>();
    this.dialect = dialect;
  }

  /** Frames the other end sent, in order. */
  get frames(): AsyncIterable<F> {
    return this.#inbox;
  }

  /** The next frame already received, or `undefined`. */
  take(): F | undefined {
    return this.#inbox.take();
  }

  /** Resolves once either end closed the connection. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }

  /** Delivers `frame` to the other end; waits while its inbox is full. */
  send(frame: F): Promise<void> {
    if (this.#reason !== undefined || this.#other === undefined) {
      return Promise.reject(new ConnectionClosed(this.#reason ?? CLOSED_LOCALLY));
    }
    return this.#other.#inbox.push(frame) ?? ACCEPTED;
  }

  /**
   * Closes both ends. This end drops what it has not read; the other end
   * still reads what was sent before the close.
   */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.#reason === undefined) {
      this.#shut(toCloseReason(reason), true);
      const other = this.#other;
      if (other !== undefined) other.#shut(CLOSED_REMOTELY, false);
    }
    return this.#closed.promise;
  }

  #shut(reason: CloseReason, discard: boolean): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#inbox.end(reason, discard);
    this.#closed.resolve();
  }

  /** @internal Connects two ends; used by {@linkcode memoryPair}. */
  static connect<F>(a: MemoryTransport<F>, b: MemoryTransport<F>): void {
    a.#other = b;
    b.#other = a;
  }
}

/**
 * Makes two connected in-memory transports: what one sends, the other
 * receives.
 *
 * @typeParam F The frame type (default `string`).
 *
 * @example Two peers over a pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { handlers: { add: ({ a, b }) => a + b } });
 * const client = new Peer(b);
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.closed;
 * ```
 */
export function memoryPair<F = string>(
  options: MemoryPairOptions = {},
): [MemoryTransport<F>, MemoryTransport<F>] {
  const a = new MemoryTransport<F>(options.highWaterMark, options.dialect);
  const b = new MemoryTransport<F>(options.highWaterMark, options.dialect);
  MemoryTransport.connect(a, b);
  return [a, b];
}
