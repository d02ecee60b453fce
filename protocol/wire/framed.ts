/**
 * {@linkcode framed}: a {@linkcode Channel} over one {@linkcode Transport}
 * and one {@linkcode Codec}. Where a byte becomes a message: the transport
 * yields a frame, the codec decodes it, and the channel hands it on as a
 * {@linkcode Delivery}. Going out, the codec encodes a message into frames and
 * the transport sends each one.
 *
 * @example A codec over a transport
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { framed, JsonRpcCodec, memoryPair } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const channel = framed(a, new JsonRpcCodec());
 * await b.send('{"jsonrpc":"2.0","method":"ping","id":1}');
 * assertEquals(channel.take(), {
 *   message: { kind: "request", id: 1, method: "ping" },
 *   size: 40, // the frame's length, counted while its call is handled
 * });
 * await channel.send({ kind: "result", id: 1, result: "pong" });
 * assertEquals(b.take(), '{"jsonrpc":"2.0","result":"pong","id":1}');
 * await channel.close();
 * ```
 *
 * @module
 */

import type { Channel, Delivery } from "./channel.ts";
import type { CloseReason } from "./close.ts";
import type { Codec, CodecFeatures } from "./codec.ts";
import { ConnectionClosed, ErrorCode, FrameTooLarge } from "./errors.ts";
import { consoleLogger, type Logger } from "../shared/logger.ts";
import { unsendableReply } from "../dialects/_json_values.ts";
import type { ErrorMessage, Id, InvalidMessage, Message, ResultMessage } from "./message.ts";
import { ACCEPTED, InvalidFrame, type Transport } from "./transport.ts";

/** The most characters of items sent together in one frame. */
const ITEMS_FRAME_CHARS = 64 * 1024;

/** How much of an unreadable frame an invalid message keeps, for people. */
const EXCERPT_LENGTH = 80;

/**
 * Options for {@linkcode framed}.
 */
export interface FramedOptions {
  /**
   * Where a codec that throws, and replies that cannot be serialised, are
   * logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * The largest reply to a batch, in characters: beyond it the batch is
   * answered with one -32001 error instead.
   *
   * @default {16777216}
   */
  maxBatchReplyBytes?: number;
}

/** Kinds a codec must carry: encoding one to no frame fails the send. */
const MUST_CARRY: ReadonlySet<string> = new Set([
  "request",
  "notification",
  "item",
  "progress",
  "credit",
]);

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The channel {@linkcode framed} makes. Its `incoming` is itself: one reader.
 *
 * @typeParam F The transport's frame type.
 *
 * @example Reading deliveries from a framed channel
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { FramedChannel, JsonRpcCodec, memoryPair } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const channel = new FramedChannel(a, new JsonRpcCodec());
 * await b.send('{"jsonrpc":"2.0","method":"tick","params":[1]}');
 * await b.close();
 * const messages = [];
 * for await (const delivery of channel) messages.push(delivery.message);
 * assertEquals(messages, [{ kind: "notification", method: "tick", params: [1] }]);
 * ```
 */
export class FramedChannel<F> implements Channel, AsyncIterableIterator<Delivery> {
  /** The codec, one per connection. */
  readonly codec: Codec<F>;
  /** The transport underneath. */
  readonly transport: Transport<F>;
  #frames: AsyncIterator<F | InvalidFrame>;
  #logger: Logger;
  #maxBatchReplyBytes: number;
  /** A frame over the size limit was answered; the next read ends the stream. */
  #ended = false;
  /** For an in-order codec: the ids of requests not yet answered, oldest first. */
  #order: Id[] = [];
  #orderHead = 0;
  /** Replies that wait for the ones before them. */
  #held = new Map<Id, { reply: Message; sent: PromiseWithResolvers<void> }>();
  /** Sends the transport has not accepted yet (it waits for the other side to read). */
  #waiting = 0;
  /**
   * Sends a stream's consecutive items as one batch frame: set where a frame
   * costs a write and a packet of its own (a WebSocket) and the codec has
   * batches, since one packet per item costs more than the item.
   */
  readonly sendItems?: (items: readonly Message[], to?: string) => Promise<void>;

  /**
   * Joins `transport` and `codec`; prefer {@linkcode framed}.
   *
   * @param transport The connection.
   * @param codec The codec for this connection.
   * @param options Where problems are logged.
   */
  constructor(transport: Transport<F>, codec: Codec<F>, options: FramedOptions = {}) {
    this.transport = transport;
    this.codec = codec;
    this.#logger = options.logger ?? consoleLogger;
    this.#maxBatchReplyBytes = options.maxBatchReplyBytes ?? 16 * 1024 * 1024;
    this.#frames = transport.frames[Symbol.asyncIterator]();
    if (transport.framePerWrite === true && codec.encodeBatch !== undefined) {
      this.sendItems = this.#sendItems;
    }
  }

  /** Who is at the other end. */
  get remote(): string | undefined {
    return this.transport.remote;
  }

  /** Resolves once the transport is closed. */
  get closed(): Promise<void> {
    return this.transport.closed;
  }

  /** Why the transport closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.transport.closeReason;
  }

  /** What the codec can carry beyond plain calls. */
  get features(): CodecFeatures | undefined {
    return this.codec.features;
  }

  /** Whether a send waits for the other side to read now. */
  get congested(): boolean {
    return this.#waiting > 0;
  }

  /** Every frame received, decoded. */
  get incoming(): AsyncIterable<Delivery> {
    return this;
  }

  /** This channel's only reader. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery> {
    return this;
  }

  /** A frame that has already arrived, decoded, or `undefined`. */
  take(): Delivery | undefined {
    const frame = this.transport.take?.();
    return frame === undefined ? undefined : this.#decode(frame);
  }

  /** The next frame, decoded; the end of the transport's frames ends it. */
  next(): Promise<IteratorResult<Delivery>> {
    if (this.#ended) return Promise.resolve(DONE);
    return this.#frames.next().then(this.#onFrame, this.#onFrameError);
  }

  /** Leaving a `for await` loop early only stops reading. */
  return(): Promise<IteratorResult<Delivery>> {
    return Promise.resolve(DONE);
  }

  #onFrame = (next: IteratorResult<F | InvalidFrame>): IteratorResult<Delivery> =>
    next.done ? DONE : { done: false, value: this.#decode(next.value) };

  /**
   * A frame over the limit is the last thing read. It is answered here, at
   * once (before the transport closes), where the dialect can carry an
   * error; the peer then sees it as an `invalid` message to count and log,
   * and the stream ends after it.
   */
  #onFrameError = (error: unknown): IteratorResult<Delivery> => {
    if (!(error instanceof FrameTooLarge)) throw error;
    this.#ended = true;
    this.#logger.warn(`${this.remote ?? "framed"}: ${error.message}; closing the connection`);
    const message: InvalidMessage = {
      kind: "invalid",
      id: null,
      error: {
        code: ErrorCode.FrameTooLarge,
        message: "Frame too large",
        data: `limit ${error.limit} bytes`,
      },
      answer: false,
    };
    this.send({ kind: "error", id: null, error: message.error }).catch(ignore);
    return { done: false, value: { message } };
  };

  #decode(frame: F | InvalidFrame): Delivery {
    if (frame instanceof InvalidFrame) {
      const message: InvalidMessage = {
        kind: "invalid",
        id: null,
        error: { code: ErrorCode.ParseError, message: "Parse error", data: frame.reason },
        answer: true,
        excerpt: frame.reason,
      };
      return { message, size: frame.bytes };
    }
    try {
      let message = this.codec.decode(frame);
      if (this.codec.inOrder) this.#noteRequests(message);
      if (typeof frame !== "string") return { message };
      if ((message as Message).kind === "invalid") {
        message = { ...message as InvalidMessage, excerpt: frame.slice(0, EXCERPT_LENGTH) };
      }
      return { message, size: frame.length };
    } catch (error) {
      // Codecs must not throw; if one does, the frame is logged and dropped.
      this.#logger.error(`${this.remote ?? "framed"}: the ${this.codec.name} codec threw`, error);
      const message: InvalidMessage = {
        kind: "invalid",
        id: null,
        error: { code: ErrorCode.InternalError, message: "the codec threw" },
        answer: false,
      };
      return { message };
    }
  }

  /** Encodes `message` and sends its frames; `to` is ignored (one party). */
  send(message: Message, _to?: string): Promise<void> {
    if (this.#order.length > this.#orderHead && isReply(message) && message.id !== null) {
      return this.#sendInOrder(message);
    }
    return this.#send(message);
  }

  #send(message: Message): Promise<void> {
    let frames: readonly F[];
    try {
      frames = this.codec.encode(message);
    } catch (error) {
      if (message.kind !== "result" && message.kind !== "error") return Promise.reject(error);
      frames = this.codec.encode(this.#unserialisable(message, error));
    }
    if (frames.length === 1) {
      const sent = this.#track(this.transport.send(frames[0]!));
      if (sent === ACCEPTED || (message.kind !== "result" && message.kind !== "error")) return sent;
      return sent.catch((error) => this.#replyTooLarge(message, error));
    }
    if (frames.length === 0) {
      // A reply or cancel the dialect has no form for is dropped; a call or a
      // stream's item, credit or progress must not vanish silently.
      if (!MUST_CARRY.has(message.kind)) return ACCEPTED;
      return Promise.reject(
        new TypeError(`The ${this.codec.name} codec cannot carry ${message.kind}s`),
      );
    }
    return this.#sendAll(frames);
  }

  /** Encodes the replies to one batch together where the codec has batches. */
  sendBatch(messages: readonly Message[], _to?: string): Promise<void> {
    const codec = this.codec;
    if (codec.encodeBatch === undefined) {
      let last: Promise<void> = ACCEPTED;
      for (const message of messages) {
        last.catch(ignore);
        last = this.send(message);
      }
      return last;
    }
    let frames: readonly F[];
    try {
      frames = codec.encodeBatch(messages);
    } catch {
      // One reply could not be serialised: find it and answer it with an error.
      frames = codec.encodeBatch(messages.map((message) => {
        if (message.kind !== "result" && message.kind !== "error") return message;
        try {
          codec.encode(message);
          return message;
        } catch (error) {
          return this.#unserialisable(message, error);
        }
      }));
    }
    let size = 0;
    for (const frame of frames) size += typeof frame === "string" ? frame.length : 0;
    if (size > this.#maxBatchReplyBytes) {
      this.#logger.warn(
        `${this.remote ?? "framed"}: the replies to a batch are ${size} characters; refused`,
      );
      return this.send({
        kind: "error",
        id: null,
        error: {
          code: ErrorCode.FrameTooLarge,
          message: "Reply too large",
          data: `the replies to this batch exceed ${this.#maxBatchReplyBytes} characters`,
        },
      });
    }
    return frames.length === 1
      ? this.#track(this.transport.send(frames[0]!))
      : this.#sendAll(frames);
  }

  #sendItems = (items: readonly Message[]): Promise<void> => {
    if (items.length === 1) return this.#send(items[0]!);
    let frames: readonly F[];
    try {
      frames = this.codec.encodeBatch!(items);
    } catch {
      // One item cannot be serialised: those before it still go, then its send fails.
      return this.#sendEach(items);
    }
    const frame = frames[0]!;
    // Large items gain nothing from sharing a frame: one each.
    if (frames.length !== 1 || (typeof frame === "string" && frame.length > ITEMS_FRAME_CHARS)) {
      return this.#sendEach(items);
    }
    const sent = this.transport.send(frame);
    if (sent === ACCEPTED) return sent;
    // Over the transport's frame limit together, not alone: one each.
    return this.#track(sent.catch((error) => {
      if (error instanceof FrameTooLarge) return this.#sendEach(items);
      throw error;
    }));
  };

  /** Sends messages one by one; resolves when the last was accepted. */
  #sendEach(messages: readonly Message[]): Promise<void> {
    let last: Promise<void> = ACCEPTED;
    for (const message of messages) {
      last.catch(ignore);
      last = this.#send(message);
    }
    return last;
  }

  /** Counts a send the transport did not accept at once until it does (or fails). */
  #track(sent: Promise<void>): Promise<void> {
    if (sent !== ACCEPTED) {
      this.#waiting++;
      sent.then(this.#accepted, this.#accepted);
    }
    return sent;
  }

  #accepted = (): void => {
    this.#waiting--;
  };

  /** Records the order of requests, for a codec whose replies go out in order. */
  #noteRequests(decoded: Message | readonly Message[]): void {
    const messages = Array.isArray(decoded) ? decoded as readonly Message[] : [decoded as Message];
    for (const message of messages) {
      const answered = message.kind === "request" ||
        (message.kind === "invalid" && message.answer);
      if (answered && message.id !== null) this.#order.push(message.id);
    }
  }

  /** Sends a reply when its turn comes, then the held ones after it. */
  #sendInOrder(reply: ResultMessage | ErrorMessage): Promise<void> {
    const id = reply.id!;
    if (this.#order[this.#orderHead] !== id) {
      if (!this.#order.includes(id, this.#orderHead)) return this.#send(reply);
      const sent = Promise.withResolvers<void>();
      this.#held.set(id, { reply, sent });
      return sent.promise;
    }
    const result = this.#send(reply);
    this.#advance();
    for (let next = this.#held.get(this.#order[this.#orderHead]!); next !== undefined;) {
      this.#held.delete(this.#order[this.#orderHead]!);
      this.#send(next.reply).then(next.sent.resolve, next.sent.reject);
      this.#advance();
      next = this.#held.get(this.#order[this.#orderHead]!);
    }
    return result;
  }

  #advance(): void {
    this.#orderHead++;
    if (this.#orderHead === this.#order.length) {
      this.#order.length = 0;
      this.#orderHead = 0;
    } else if (this.#orderHead >= 1024 && this.#orderHead * 2 >= this.#order.length) {
      this.#order = this.#order.slice(this.#orderHead);
      this.#orderHead = 0;
    }
  }

  /** Sends frames in order; resolves when the last was accepted. */
  #sendAll(frames: readonly F[]): Promise<void> {
    let last: Promise<void> = ACCEPTED;
    for (const frame of frames) {
      // Sends are accepted in order, so the last one speaks for all.
      last.catch(ignore);
      last = this.transport.send(frame);
    }
    return this.#track(last);
  }

  /** A reply the transport refused as too large is answered with -32001 instead. */
  #replyTooLarge(reply: ResultMessage | ErrorMessage, error: unknown): Promise<void> {
    const tooLargeAlready = reply.kind === "error" && reply.error.code === ErrorCode.FrameTooLarge;
    if (!(error instanceof FrameTooLarge) || tooLargeAlready) throw error;
    this.#logger.warn(
      `${this.remote ?? "framed"}: a reply was too large to send (${error.message})`,
    );
    return this.send({
      kind: "error",
      id: reply.id,
      error: {
        code: ErrorCode.FrameTooLarge,
        message: "Reply too large",
        data: `limit ${error.limit} bytes`,
      },
    });
  }

  #unserialisable(reply: ResultMessage | ErrorMessage, error: unknown): ErrorMessage {
    this.#logger.error(`${this.remote ?? "framed"}: a reply could not be serialised`, error);
    return unsendableReply(reply, error);
  }

  /** Closes the transport; replies still waiting for their turn are dropped. */
  close(reason?: string | CloseReason): Promise<void> {
    for (const { sent } of this.#held.values()) {
      sent.reject(new ConnectionClosed(reason));
      sent.promise.catch(ignore);
    }
    this.#held.clear();
    return this.transport.close(reason);
  }
}

function ignore(): void {}

function isReply(message: Message): message is ResultMessage | ErrorMessage {
  return message.kind === "result" || message.kind === "error";
}

/**
 * Joins a transport and a codec into a {@linkcode Channel}: frames in,
 * deliveries out; messages in, frames out. Batches included.
 *
 * @param transport One connection.
 * @param codec The codec for this connection (made per connection when it
 * keeps state).
 * @param options Where problems are logged.
 *
 * @example A peer over a framed channel
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { framed, JsonRpcCodec, memoryPair, Peer } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(framed(a, new JsonRpcCodec()), { handlers: { ping: () => "pong" } });
 * const client = new Peer(framed(b, new JsonRpcCodec()));
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.closed;
 * ```
 */
export function framed<F>(
  transport: Transport<F>,
  codec: Codec<F>,
  options?: FramedOptions,
): FramedChannel<F> {
  return new FramedChannel(transport, codec, options);
}
