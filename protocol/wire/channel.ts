/**
 * The message-level seam: a {@linkcode Channel} moves messages, not frames.
 * A {@linkcode Peer} talks through exactly one channel; every wire is one:
 *
 * - a byte or text stream (TCP, a WebSocket, a memory pair) joined with a
 *   codec by {@linkcode framed}: one party at the other end;
 * - a broker queue (AMQP): many callers share it, so each
 *   {@linkcode Delivery} says who sent it (`from`, the reply address) and is
 *   settled (acknowledged, rejected, requeued) once handled;
 * - a session that outlives its sockets (mushroom): the channel stays open
 *   while transports come and go, so pending calls survive a reconnect and
 *   fail only when the channel itself closes.
 *
 * @module
 */

import type { CloseReason } from "./close.ts";
import type { CodecFeatures } from "./codec.ts";
import type { Message } from "./message.ts";

/**
 * How a {@linkcode Delivery} ended, told to the channel exactly once:
 *
 * - `"ok"`: handled; its reply, if any, was handed to the channel.
 * - `"failed"`: it could not be handled (invalid, unknown method, a handler
 *   that threw); an error reply was sent where one is due. A broker
 *   dead-letters it.
 * - `"retry"`: a handler threw {@linkcode CallAgain} and the delivery was
 *   `retryable`; no reply was sent. A broker requeues it.
 * - `"cancelled"`: the caller cancelled the call, or the peer closed before
 *   the handler finished; no reply was sent.
 */
export type Outcome = "ok" | "failed" | "retry" | "cancelled";

/**
 * What a channel received: one message, or a batch of them, with where it
 * came from and how to settle it.
 */
export interface Delivery {
  /** One message, or a batch (answered together, in order). */
  readonly message: Message | readonly Message[];
  /**
   * The reply address: who sent it, and where replies to it go. Calls are
   * told apart by (from, id), so two callers may use the same ids. Left out
   * on channels with one party at the other end.
   */
  readonly from?: string;
  /**
   * Told how the delivery ended, exactly once, after its reply (if any) was
   * handed to the channel. Left out where there is nothing to settle.
   */
  settle?(outcome: Outcome): void;
  /** Whether the channel can deliver it again (settled `"retry"`). Default false. */
  readonly retryable?: boolean;
  /**
   * How big it was on the wire (characters of a text frame), counted against
   * the peer's `maxConcurrentBytes` while it is handled.
   */
  readonly size?: number;
  /**
   * What settling it `"failed"` does to input that cannot be handled, for
   * the one log line (a broker's `"dead-lettered"`). Left out: `"dropped"`.
   */
  readonly failedAs?: string;
}

/**
 * A duplex stream of messages: what a {@linkcode Peer} talks through.
 *
 * @example Collect what a channel receives
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type Channel, framed, JsonRpcCodec, memoryPair } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const codec = new JsonRpcCodec();
 * const left: Channel = framed(a, codec);
 * const right: Channel = framed(b, codec);
 * await left.send({ kind: "notification", method: "hello" });
 * await left.close();
 * const received = [];
 * for await (const delivery of right.incoming) received.push(delivery.message);
 * assertEquals(received, [{ kind: "notification", method: "hello" }]);
 * ```
 */
export interface Channel {
  /**
   * Sends one message; `to` is the reply address of the delivery it answers,
   * or the target of a call (an AMQP service name). Channels with one party
   * at the other end ignore `to`. Resolves when the message is accepted
   * (waits while the wire is full); rejects with {@linkcode ConnectionClosed}
   * once closed, {@linkcode NotDelivered} when nobody receives `to`, or the
   * codec's error when a request's values cannot be serialised. A reply that
   * cannot be serialised is sent as an Internal error (-32603) instead.
   * Returns {@linkcode ACCEPTED} when the message was accepted at once.
   */
  send(message: Message, to?: string): Promise<void>;
  /**
   * Sends the replies to one batch together, where the wire has batches.
   * Left out, each reply is sent on its own.
   */
  sendBatch?(messages: readonly Message[], to?: string): Promise<void>;
  /**
   * Sends consecutive items of one stream, several to a frame where that
   * saves writes (a WebSocket) and the wire has batches. Left out, each item
   * is sent on its own.
   */
  sendItems?(items: readonly Message[], to?: string): Promise<void>;
  /** Everything received, in order; ends when the channel closes. */
  readonly incoming: AsyncIterable<Delivery>;
  /**
   * Takes the next delivery that has already arrived, without waiting, or
   * returns `undefined`. It reads from the same queue as `incoming`, so a
   * reader may handle every message of one read without a promise each.
   * Optional.
   */
  take?(): Delivery | undefined;
  /** Closes the channel, and whatever transport it holds. */
  close(reason?: string | CloseReason): Promise<void>;
  /** Resolves once the channel is closed. */
  readonly closed: Promise<void>;
  /** Why the channel closed, once it has. */
  readonly closeReason?: CloseReason;
  /** Who is at the other end, for logs. */
  readonly remote?: string;
  /**
   * Whether the wire is full now: a message handed to `send` still waits
   * for the other side to read. While it is, a peer with a reply among those
   * waiting starts no new call, so a client that never reads its replies
   * cannot make them pile up. Left out by channels without backpressure.
   */
  readonly congested?: boolean;
  /**
   * Whether the channel ends by itself once the other side is gone (a
   * session with its own expiry): a server's `idleTimeout` does not apply.
   */
  readonly expires?: boolean;
  /**
   * What the wire can carry beyond plain calls (a framed channel's are its
   * codec's). Left out: nothing, so a stream call is refused at once.
   */
  readonly features?: CodecFeatures;
}
