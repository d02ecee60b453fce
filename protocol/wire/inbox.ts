/**
 * {@linkcode InboxChannel}: the receive side and close state every channel
 * shares (an inbox of deliveries, `incoming`, `take()`, `closed`,
 * `closeReason`), written once. A channel extends it and adds only what is
 * its own: how it sends, and what closing it does.
 *
 * @module
 */

import type { Channel, Delivery } from "./channel.ts";
import { type CloseReason, toCloseReason } from "./close.ts";
import type { Message } from "./message.ts";
import { FrameQueue } from "./_frame_queue.ts";

/**
 * A channel's inbox and close state; subclasses write `send` and `close`.
 *
 * @example A channel that answers one request, read by a Peer
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { InboxChannel, type Message, Peer } from "@seed/rpc";
 *
 * class OneShot extends InboxChannel {
 *   readonly reply = Promise.withResolvers<Message>();
 *   constructor(request: Message) {
 *     super();
 *     this.deliver({ message: request });
 *   }
 *   send(message: Message): Promise<void> {
 *     this.reply.resolve(message);
 *     return Promise.resolve();
 *   }
 *   close(reason?: string): Promise<void> {
 *     if (this.beginClose(reason) !== undefined) this.finishClose();
 *     return this.closed;
 *   }
 * }
 *
 * const channel = new OneShot({ kind: "request", id: 1, method: "add", params: { a: 1, b: 2 } });
 * const peer = new Peer(channel, { handlers: { add: ({ a, b }) => a + b } });
 * assertEquals(await channel.reply.promise, { kind: "result", id: 1, result: 3 });
 * await peer.close();
 * assertEquals(channel.closeReason?.code, "local");
 * ```
 */
export abstract class InboxChannel implements Channel {
  #inbox: FrameQueue<Delivery>;
  #reason: CloseReason | undefined;
  #closed = Promise.withResolvers<void>();

  /**
   * Makes an open channel with an empty inbox.
   *
   * @param highWaterMark Deliveries held, unread, before `deliver` returns a promise to wait on.
   * @param highWaterBytes Their total `size` held, unread, before it does.
   */
  constructor(highWaterMark = 1024, highWaterBytes = Infinity) {
    this.#inbox = new FrameQueue<Delivery>(
      highWaterMark,
      highWaterBytes,
      highWaterBytes === Infinity ? undefined : deliverySize,
    );
  }

  /** Deliveries received and not yet read, and their total `size`. */
  protected get unread(): { readonly count: number; readonly bytes: number } {
    return { count: this.#inbox.length, bytes: this.#inbox.bytes };
  }

  /** Everything received, in order; ends when the channel closes. */
  get incoming(): AsyncIterable<Delivery> {
    return this.#inbox;
  }

  /** A delivery that has already arrived, or `undefined`. */
  take(): Delivery | undefined {
    return this.#inbox.take();
  }

  /** Resolves once the channel is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the channel closed (set as closing starts), once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }

  /** Sends one message (see {@linkcode Channel.send}). */
  abstract send(message: Message, to?: string): Promise<void>;

  /** Closes the channel (see {@linkcode Channel.close}). */
  abstract close(reason?: string | CloseReason): Promise<void>;

  /**
   * Queues a received delivery for the reader: `undefined` when there is
   * room left, else a promise that resolves once the reader made room.
   */
  protected deliver(delivery: Delivery): Promise<void> | undefined {
    return this.#inbox.push(delivery);
  }

  /**
   * Starts closing: records the reason and ends `incoming` (dropping what
   * is unread when `discard`). Returns the reason, or `undefined` when the
   * channel was already closing.
   */
  protected beginClose(reason?: string | CloseReason, discard = false): CloseReason | undefined {
    if (this.#reason !== undefined) return undefined;
    const why = toCloseReason(reason);
    this.#reason = why;
    this.#inbox.end(why, discard);
    return why;
  }

  /** Closing is done: `closed` resolves. */
  protected finishClose(): void {
    this.#closed.resolve();
  }
}

function deliverySize(delivery: Delivery): number {
  return delivery.size ?? 0;
}
