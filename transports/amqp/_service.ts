// A service's queue as a Channel for a Peer: competing consumers on
// `nuropb-<service>-sq`, manual acknowledgement once the handler is done.
//
// Each delivery becomes a Delivery whose `from` is the caller's response
// queue; the reply goes to the default exchange with that routing key. How
// a delivery ends decides its fate: ok → ack, failed → reject (dead-letter),
// retry → requeue (once: a redelivered message is not retryable), cancelled
// → requeue for another instance. A delivery that is not a nuropb message we
// can read is dead-lettered with a log line, and the service goes on.
//
// A request delivered again (after a lost connection, or published again by
// a caller that lost its reply) is not handled twice: while the first copy
// runs, the copy waits for its answer; afterwards the remembered answer is
// sent again.
//
// Memory a stranger controls is bounded in bytes: a request's body may be at
// most maxInboxBytes / prefetch (larger ones are refused unread by the
// connection and dead-lettered), so the requests held at once (prefetch of
// them) stay under maxInboxBytes; remembered answers keep their bodies up to
// rememberAnswerBytes, oldest dropped first (a copy of an answer no longer
// held gets an error, its handler never runs twice); a refused call (unknown
// method, invalid params, unauthorised) is not remembered at all.

import type { Channel, Delivery, Outcome } from "../../protocol/channel.ts";
import { type CloseReason, toCloseReason } from "../../protocol/close.ts";
import { ConnectionClosed, ErrorCode } from "../../protocol/errors.ts";
import type { Logger } from "../../protocol/logger.ts";
import type { Message } from "../../protocol/message.ts";
import { FrameQueue } from "../../protocol/_frame_queue.ts";
import {
  AUTHORIZATION_FAILED,
  decodeNuropb,
  encodeNuropbResponse,
  type NuropbMeta,
  type NuropbProperties,
  type NuropbWire,
  toNuropbError,
} from "../../protocol/dialects/nuropb.ts";
import {
  type NuropbKeyPair,
  openNuropbBody,
  sealNuropbBody,
} from "../../protocol/dialects/nuropb_encryption.ts";
import type {
  AMQPChannel,
  AMQPMessage,
  AMQPProperties,
  Attachment,
  BrokerConnection,
  RefusedDelivery,
} from "./_connection.ts";
import {
  declareMeshExchanges,
  declarePrivateEventQueue,
  declareServiceQueue,
} from "./_topology.ts";
import { EVENTS_EXCHANGE } from "../../protocol/dialects/nuropb.ts";

export interface ServiceChannelOptions {
  /** The service's name; for a private event queue, a name for logs. */
  service: string;
  /** A private, server-named queue for events only (a subscriber), not the service queue. */
  private?: boolean;
  prefetch: number;
  eventBindings: readonly string[];
  keys: NuropbKeyPair | undefined;
  logger: Logger;
  /** Answers remembered for copies of a request that come again. */
  rememberAnswers: number;
  /** Bytes of answer bodies remembered, at most. */
  rememberAnswerBytes: number;
  /** Bytes of requests held at once, at most (with `prefetch`, the largest request). */
  maxInboxBytes: number;
}

/** A request being handled, or handled: what its reply needs. */
interface Call {
  /** The caller's context, until the answer (which carries it) is made. */
  context: unknown;
  readonly traceId: string | null;
  readonly method: string;
  readonly replyTo: string;
  readonly correlationId: string;
  /** The Fernet key of an encrypted request (its reply is sealed with it). */
  key: string | undefined;
  /** Whether it was answered (its handler ran). */
  answered: boolean;
  /** The reply, while remembered (sent again to later copies). */
  answer: NuropbWire | undefined;
  /** Delivery tags of copies that arrived while the first one ran: acked once it is answered. */
  copies: number[] | undefined;
}

/** Errors that mean no handler ran: such calls are not remembered. */
const REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.MethodNotFound,
  ErrorCode.InvalidParams,
  ErrorCode.InvalidRequest,
  AUTHORIZATION_FAILED,
]);

const DECODER = new TextDecoder("utf-8", { fatal: true });

export class ServiceChannel implements Channel, Attachment {
  readonly service: string;
  readonly remote: string;
  #options: ServiceChannelOptions;
  #connection: BrokerConnection;
  #channel: AMQPChannel | undefined;
  #queue = "";
  #bindings: string[];
  #generation = 0;
  #inbox = new FrameQueue<Delivery>(Infinity);
  #calls = new Map<string, Call>();
  /** Keys of answered calls, oldest first (bounded by `rememberAnswers`). */
  #answered: string[] = [];
  #answeredHead = 0;
  /** The oldest answered call whose body may still be held. */
  #bodyHead = 0;
  /** Bytes of the answer bodies held. */
  rememberedBytes = 0;
  /** Bytes of the requests received and not yet settled. */
  inboxBytes = 0;
  /** The most `inboxBytes` has been. */
  peakInboxBytes = 0;
  #reason: CloseReason | undefined;
  #closed = Promise.withResolvers<void>();
  #sendWaiters: Array<() => void> = [];
  deadLettered = 0;
  answeredFromMemory = 0;

  constructor(connection: BrokerConnection, options: ServiceChannelOptions) {
    this.#connection = connection;
    this.#options = options;
    this.service = options.service;
    this.remote = `nuropb-${options.service}-sq`;
    this.#bindings = [...options.eventBindings];
  }

  /** Binds one more topic pattern to the queue (now, and after every reconnect). */
  async bind(pattern: string): Promise<void> {
    if (this.#bindings.includes(pattern)) return;
    this.#bindings.push(pattern);
    if (this.#channel !== undefined) {
      await this.#channel.queueBind(this.#queue, EVENTS_EXCHANGE, pattern);
    }
  }

  get incoming(): AsyncIterable<Delivery> {
    return this.#inbox;
  }

  take(): Delivery | undefined {
    return this.#inbox.take();
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }

  /** A service channel ends with its service, not with idleness. */
  get expires(): boolean {
    return true;
  }

  /** Encryption keys held for calls being handled (none once answered). */
  get keysHeld(): number {
    let held = 0;
    for (const call of this.#calls.values()) if (call.key !== undefined) held++;
    return held;
  }

  /** The largest request body held: with `prefetch` of them, `maxInboxBytes` at most. */
  get maxRequestBytes(): number {
    return Math.max(1, Math.floor(this.#options.maxInboxBytes / this.#options.prefetch));
  }

  async attach(connection: BrokerConnection, generation: number): Promise<void> {
    const channel = await connection.channel({
      onRefused: (refused: RefusedDelivery) =>
        this.#deadLetter(
          refused.deliveryTag,
          refused.properties?.correlationId,
          generation,
          refused.reason,
        ),
      maxMessageBytes: { bytes: this.maxRequestBytes, name: "maxInboxBytes / prefetch" },
    });
    await declareMeshExchanges(channel);
    const queue = this.#options.private
      ? await declarePrivateEventQueue(channel, this.#bindings)
      : await declareServiceQueue(channel, this.service, this.#bindings);
    await channel.basicQos(this.#options.prefetch);
    this.#queue = queue;
    this.#channel = channel;
    this.#generation = generation;
    await channel.basicConsume(
      queue,
      { noAck: false },
      (message: AMQPMessage) => this.#received(message, generation),
    );
    for (const resolve of this.#sendWaiters.splice(0)) resolve();
  }

  detach(_generation: number): void {
    this.#channel = undefined;
    // Copies waiting for an answer were delivered on the lost connection:
    // the broker delivers them again.
    for (const call of this.#calls.values()) call.copies = undefined;
  }

  #received(message: AMQPMessage, generation: number): void {
    if (this.#reason !== undefined) return;
    const properties = message.properties as NuropbProperties;
    let body: string;
    try {
      body = message.body === null ? "" : DECODER.decode(message.body);
    } catch {
      this.#poison(message, generation, "the body is not UTF-8");
      return;
    }
    if (properties.headers?.encrypted === "yes") {
      const keys = this.#options.keys;
      if (keys === undefined) {
        this.#poison(message, generation, "it is encrypted and this service has no key");
        return;
      }
      openNuropbBody(body, { privateKey: keys.privateKey }).then(
        (opened) => this.#decoded(message, generation, opened.body, properties, opened.key),
        (error) => this.#poison(message, generation, `it cannot be decrypted: ${error.message}`),
      );
      return;
    }
    this.#decoded(message, generation, body, properties, undefined);
  }

  #decoded(
    message: AMQPMessage,
    generation: number,
    body: string,
    properties: NuropbProperties,
    key: string | undefined,
  ): void {
    // Decryption is asynchronous: the channel may have closed meanwhile (the
    // broker requeues what was not settled).
    if (this.#reason !== undefined) return;
    const decoded = decodeNuropb(body, properties);
    if (decoded.kind === "poison") {
      this.#poison(message, generation, decoded.reason);
      return;
    }
    if (decoded.kind === "result" || decoded.kind === "error") {
      this.#poison(message, generation, "a response on a service queue");
      return;
    }
    const meta = (decoded as { meta?: NuropbMeta }).meta;
    if (key !== undefined && meta !== undefined) meta.encrypted = true;
    let callKey: string | undefined;
    if (decoded.kind === "request") {
      const replyTo = properties.replyTo!;
      callKey = `${replyTo}\n${decoded.id}`;
      const known = this.#calls.get(callKey);
      if (known !== undefined) {
        this.#copyOf(known, message, generation);
        return;
      }
      this.#calls.set(callKey, {
        context: meta?.context ?? {},
        traceId: meta?.traceId ?? null,
        method: decoded.method,
        replyTo,
        correlationId: String(decoded.id),
        key,
        answered: false,
        answer: undefined,
        copies: undefined,
      });
    }
    const size = message.bodySize;
    this.inboxBytes += size;
    if (this.inboxBytes > this.peakInboxBytes) this.peakInboxBytes = this.inboxBytes;
    const delivery: Delivery = {
      message: decoded,
      from: decoded.kind === "request" ? properties.replyTo : undefined,
      retryable: !message.redelivered,
      size: body.length,
      settle: (outcome: Outcome) => this.#settle(message, generation, outcome, callKey, size),
    };
    // A delivery that meets a closed inbox is dropped (the broker requeues it).
    this.#inbox.push(delivery)?.catch(() => {});
  }

  /** A copy of a request we have: answer it again, or wait for the first. */
  #copyOf(call: Call, message: AMQPMessage, generation: number): void {
    if (!call.answered) {
      (call.copies ??= []).push(message.deliveryTag);
      return;
    }
    this.answeredFromMemory++;
    this.#publishReply(call.replyTo, call.answer ?? forgotten(call)).then(
      () => this.#ack(message.deliveryTag, generation),
      () => {},
    );
  }

  #settle(
    message: AMQPMessage,
    generation: number,
    outcome: Outcome,
    callKey: string | undefined,
    size: number,
  ): void {
    this.inboxBytes -= size;
    if (callKey !== undefined) {
      const call = this.#calls.get(callKey);
      if (call !== undefined && !call.answered) {
        // No reply was sent (retry, cancelled): forget it, so that the
        // copy the broker delivers again is handled.
        this.#calls.delete(callKey);
      }
    }
    if (generation !== this.#generation || this.#channel === undefined) return;
    const channel = this.#channel;
    switch (outcome) {
      case "ok":
        channel.basicAck(message.deliveryTag).catch(() => {});
        break;
      case "failed":
        channel.basicReject(message.deliveryTag, false).catch(() => {});
        break;
      case "retry":
      case "cancelled":
        channel.basicNack(message.deliveryTag, true).catch(() => {});
        break;
    }
  }

  #ack(deliveryTag: number, generation: number): void {
    if (generation !== this.#generation || this.#channel === undefined) return;
    this.#channel.basicAck(deliveryTag).catch(() => {});
  }

  /** A delivery we cannot handle: dead-letter it, with a warning. */
  #poison(message: AMQPMessage, generation: number, reason: string): void {
    this.#deadLetter(message.deliveryTag, message.properties.correlationId, generation, reason);
  }

  #deadLetter(
    deliveryTag: number,
    correlationId: string | undefined,
    generation: number,
    reason: string,
  ): void {
    this.deadLettered++;
    this.#options.logger.warn(
      `nuropb service ${this.service}: dead-lettered a message (correlation_id ${
        JSON.stringify(correlationId ?? null)
      }): ${reason}`,
    );
    if (generation !== this.#generation || this.#channel === undefined) return;
    this.#channel.basicReject(deliveryTag, false).catch(() => {});
  }

  async send(message: Message, to?: string): Promise<void> {
    if (this.#reason !== undefined) throw new ConnectionClosed(this.#reason);
    if (message.kind !== "result" && message.kind !== "error") {
      throw new TypeError(`A service queue sends replies only, not ${message.kind} messages`);
    }
    const callKey = `${to}\n${message.id}`;
    const call = this.#calls.get(callKey);
    if (call === undefined) return; // forgotten (the service is closing)
    const fields = {
      result: message.kind === "result" ? message.result : null,
      error: message.kind === "error"
        ? toNuropbError(message.error, this.service, call.method)
        : null,
      correlationId: call.correlationId,
      traceId: call.traceId,
      context: call.context,
      replyTo: call.replyTo,
    };
    let response: NuropbWire;
    try {
      response = encodeNuropbResponse(fields);
    } catch (error) {
      // A value JSON cannot hold (nested past the stack, a cycle): the caller
      // gets an error rather than no answer at all.
      this.#options.logger.warn(
        `nuropb service ${this.service}: the answer to ${call.method} could not be encoded: ${
          error instanceof Error ? error.message : error
        }`,
      );
      response = encodeNuropbResponse({
        ...fields,
        result: null,
        error: {
          error: "NuropbException",
          description: `The answer of ${this.service}.${call.method} could not be encoded`,
        },
        context: {},
      });
    }
    if (call.key !== undefined && this.#options.keys !== undefined) {
      const sealed = await sealNuropbBody(response.body, this.#options.keys.publicKey, call.key);
      response.body = sealed.body;
      (response.properties.headers as Record<string, unknown>).encrypted = "yes";
    }
    call.key = undefined;
    call.context = undefined;
    call.answered = true;
    // Copies arriving while it goes out are answered from it.
    call.answer = response;
    await this.#publishReply(call.replyTo, response);
    const copies = call.copies;
    call.copies = undefined;
    for (const copy of copies ?? []) {
      this.answeredFromMemory++;
      await this.#publishReply(call.replyTo, response);
      this.#ack(copy, this.#generation);
    }
    if (message.kind === "error" && REFUSALS.has(message.error.code)) {
      // No handler ran: a copy may simply be refused again.
      if (this.#calls.get(callKey) === call) this.#calls.delete(callKey);
    } else {
      this.#remember(callKey, call);
    }
  }

  async #publishReply(replyTo: string, response: NuropbWire): Promise<void> {
    while (this.#channel === undefined) {
      if (this.#reason !== undefined) throw new ConnectionClosed(this.#reason);
      await new Promise<void>((resolve) => this.#sendWaiters.push(resolve));
    }
    await this.#channel.basicPublish(
      "",
      replyTo,
      response.body,
      response.properties as AMQPProperties,
    );
  }

  /** Keeps an answered call for its copies: its key by count, its body by bytes. */
  #remember(callKey: string, call: Call): void {
    const { rememberAnswers, rememberAnswerBytes } = this.#options;
    if (this.#calls.get(callKey) !== call) return; // forgotten (closing)
    if (rememberAnswers <= 0) {
      this.#calls.delete(callKey);
      return;
    }
    const size = call.answer?.body.length ?? 0;
    if (size > rememberAnswerBytes) call.answer = undefined;
    else this.rememberedBytes += size;
    this.#answered.push(callKey);
    if (this.#answered.length - this.#answeredHead > rememberAnswers) {
      const oldest = this.#answered[this.#answeredHead]!;
      this.#forgetBody(this.#calls.get(oldest));
      this.#calls.delete(oldest);
      this.#answered[this.#answeredHead++] = "";
    }
    // Bodies go first, oldest first; the keys stay (a copy is then refused).
    this.#bodyHead = Math.max(this.#bodyHead, this.#answeredHead);
    while (this.rememberedBytes > rememberAnswerBytes) {
      this.#forgetBody(this.#calls.get(this.#answered[this.#bodyHead++]!));
    }
    if (this.#answeredHead > 1024 && this.#answeredHead * 2 > this.#answered.length) {
      this.#answered = this.#answered.slice(this.#answeredHead);
      this.#bodyHead -= this.#answeredHead;
      this.#answeredHead = 0;
    }
  }

  #forgetBody(call: Call | undefined): void {
    if (call?.answer === undefined) return;
    this.rememberedBytes -= call.answer.body.length;
    call.answer = undefined;
  }

  close(reason?: string | CloseReason): Promise<void> {
    if (this.#reason === undefined) {
      this.#reason = toCloseReason(reason);
      this.#inbox.end(this.#reason, true);
      for (const resolve of this.#sendWaiters.splice(0)) resolve();
      this.#connection.remove(this);
      const channel = this.#channel;
      this.#channel = undefined;
      this.#calls.clear();
      this.#answered = [];
      this.#answeredHead = this.#bodyHead = this.rememberedBytes = 0;
      // Closing the channel gives unacknowledged deliveries back to the queue.
      (channel?.close() ?? Promise.resolve()).catch(() => {}).finally(() => this.#closed.resolve());
    }
    return this.#closed.promise;
  }
}

/** The answer to a copy of a call answered before, whose answer is no longer held. */
function forgotten(call: Call): NuropbWire {
  return encodeNuropbResponse({
    result: null,
    error: {
      error: "NuropbException",
      description: "This request was answered before; that answer is no longer held",
    },
    correlationId: call.correlationId,
    traceId: call.traceId,
    context: {},
    replyTo: call.replyTo,
  });
}
