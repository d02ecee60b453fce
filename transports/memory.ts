/**
 * The in-memory wire: {@linkcode memoryPair} makes two connected transports
 * in one process. Tests, examples and benchmarks use it; so can a program
 * that wants the RPC API between two parts of itself.
 *
 * Frames pass by reference (strings are immutable; other frame types are not
 * copied). Each direction holds at most `highWaterMark` unread frames, after
 * which `send` waits: the same backpressure a socket gives.
 *
 * @example
 * ```ts
 * import { memoryPair } from "@seed/rpc";
 *
 * const [left, right] = memoryPair<string>();
 * await left.send("hello");
 * await left.close();
 * for await (const frame of right.frames) console.log(frame); // "hello"
 * ```
 *
 * @module
 */

import { ConnectionClosed } from "../protocol/errors.ts";
import { FrameQueue } from "./_frame_queue.ts";
import type { Transport } from "./transport.ts";

/**
 * Options for {@linkcode memoryPair}.
 *
 * @example
 * ```ts
 * import { memoryPair, type MemoryPairOptions } from "@seed/rpc";
 * const options: MemoryPairOptions = { highWaterMark: 16 };
 * const [a, b] = memoryPair(options);
 * await a.close();
 * await b.closed;
 * ```
 */
export interface MemoryPairOptions {
  /** Unread frames each direction holds before `send` waits. Default 1024. */
  highWaterMark?: number;
}

/**
 * One end of an in-memory connection. Made by {@linkcode memoryPair}.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, MemoryTransport } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * assertEquals([a instanceof MemoryTransport, a.remote], [true, "memory"]);
 * await b.close();
 * await a.closed;
 * ```
 */
export class MemoryTransport<F> implements Transport<F> {
  /** Always `"memory"`. */
  readonly remote: string = "memory";
  #inbox: FrameQueue<F>;
  #other: MemoryTransport<F> | undefined;
  #closed: PromiseWithResolvers<void>;
  #isClosed = false;
  #reason = "connection closed";

  /** Use {@linkcode memoryPair}; a lone end has nobody to talk to. */
  constructor(highWaterMark = 1024) {
    this.#inbox = new FrameQueue<F>(highWaterMark);
    this.#closed = Promise.withResolvers<void>();
  }

  /** Frames the other end sent, in order. */
  get frames(): AsyncIterable<F> {
    return this.#inbox;
  }

  /** Resolves once either end closed the connection. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): string | undefined {
    return this.#isClosed ? this.#reason : undefined;
  }

  /** Delivers `frame` to the other end; waits while its inbox is full. */
  send(frame: F): Promise<void> {
    if (this.#isClosed || this.#other === undefined) {
      return Promise.reject(new ConnectionClosed(this.#reason));
    }
    return this.#other.#inbox.push(frame) ?? Promise.resolve();
  }

  /**
   * Closes both ends. This end drops what it has not read; the other end
   * still reads what was sent before the close.
   */
  close(reason = "closed locally"): Promise<void> {
    if (!this.#isClosed) {
      this.#shut(reason, true);
      const other = this.#other;
      if (other !== undefined) other.#shut("closed by the other end", false);
    }
    return this.#closed.promise;
  }

  #shut(reason: string, discard: boolean): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
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
 * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { codec: jsonRpc, handlers: { add: ({ a, b }) => a + b } });
 * const client = new Peer(b, { codec: jsonRpc });
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.closed;
 * ```
 */
export function memoryPair<F = string>(
  options: MemoryPairOptions = {},
): [MemoryTransport<F>, MemoryTransport<F>] {
  const a = new MemoryTransport<F>(options.highWaterMark);
  const b = new MemoryTransport<F>(options.highWaterMark);
  MemoryTransport.connect(a, b);
  return [a, b];
}
