// A service's queue as a Channel for a Peer: competing consumers on
// `nuropb-<service>-sq`, manual acknowledgement once the handler is done.
//
// Each delivery becomes a Delivery whose `from` is the caller's response
// queue; the reply goes to the default exchange with that routing key. How
// a delivery ends decides its fate: ok → ack, failed → reject (dead-letter),
// retry → requeue (once: a redelivered message is not retryable), cancelled
// → requeue for another instance. The envelope is nuropb's service side
// (_nuropb_answer.ts, NuropbServiceCodec's without its table: what an answer
// echoes lives in the channel's one record per call); the channel opens
// encrypted bodies, moves and settles. A delivery that is not a nuropb message we can read becomes an
// invalid message: the peer counts and logs it, and its "failed" settles it
// here, dead-lettered.
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
//
// A stream call (nuropb_stream.ts) is acknowledged when it arrives: it is
// never delivered again (its items would come twice). Its items and progress
// go to the caller's response queue, mandatory, naming this instance's own
// control queue (exclusive, gone with the connection), where the caller's
// credit and cancel come. While streams are open, their callers' queues are
// pinged every second; a return (the caller is gone) or a lost connection
// cancels their handlers.

import type { Delivery, Outcome } from "../../protocol/wire/channel.ts";
import { type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed, ErrorCode } from "../../protocol/wire/errors.ts";
import type { Logger } from "../../protocol/shared/logger.ts";
import type { Message } from "../../protocol/wire/message.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import { ACCEPTED } from "../../protocol/wire/transport.ts";
import {
  AUTHORIZATION_FAILED,
  type NuropbMeta,
  type NuropbProperties,
  type NuropbWire,
} from "../../protocol/nuropb/nuropb.ts";
import {
  answerProperties,
  decodeServiceFrame,
  encodeAnswer,
  encodeRefusal,
  encodeStreamMessage,
  refused,
} from "../../protocol/nuropb/_nuropb_answer.ts";
import {
  decodeNuropbStream,
  encodeNuropbStream,
  INSTANCE_HEADER,
} from "../../protocol/nuropb/nuropb_stream.ts";
import {
  type NuropbKeyPair,
  openNuropbBody,
  sealNuropbBody,
} from "../../protocol/nuropb/nuropb_encryption.ts";
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
  EVENTS_EXCHANGE,
  type ServiceQueueType,
} from "./_topology.ts";
import { corkTick } from "./_cork.ts";

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
  /** The service queue's kind (nuropb's classic one when not given). */
  queueType?: ServiceQueueType;
}

/**
 * A request being handled, or handled: what its answer echoes, and what its
 * copies and its sealing need. Found by correlation id (see `#find`): no
 * key string per call.
 */
interface Call {
  readonly replyTo: string;
  readonly correlationId: string;
  /** Another call with the same correlation id, from another caller. */
  next: Call | undefined;
  /** The caller's context, echoed in the answer (dropped once answered). */
  context: unknown;
  readonly traceId: string | null;
  /** The method called (dropped once answered). */
  method: string;
  /** The Fernet key of an encrypted request (its reply is sealed with it). */
  key: string | undefined;
  /** Whether it was answered (its handler ran). */
  answered: boolean;
  /**
   * The reply's body, while remembered (sent again to later copies, its
   * properties made again by `answerProperties`): one string per answered
   * call kept, not a message's object graph.
   */
  answer: string | undefined;
  /** Whether that body was sealed (its `encrypted` header is "yes"). */
  sealed: boolean;
  /** Delivery tags of copies that arrived while the first one ran: acked once it is answered. */
  copies: number[] | undefined;
  /** A stream call (acknowledged at once; its items go out until it is answered). */
  readonly stream: boolean;
}

/** Errors that mean no handler ran: such calls are not remembered. */
const REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.MethodNotFound,
  ErrorCode.InvalidParams,
  ErrorCode.InvalidRequest,
  AUTHORIZATION_FAILED,
]);

const DECODER = new TextDecoder("utf-8", { fatal: true });
const DECODER_LAX = new TextDecoder();
/** The delivery tag of a delivery settled already (refused unread). */
const SETTLED = -1;
/** The delivery tag of a stream call, acknowledged when it arrived. */
const ACKED = -2;
/** A credit or cancel is about 150 bytes: larger ones are dropped unread. */
const MAX_CONTROL_BYTES = 4_096;
/** A settle's failure (the channel is closing): nothing to do, and no closure made per message. */
const ignore = (): void => {};
/** How often the callers of open streams are checked, ms. */
const STREAM_PING = 1_000;
/**
 * Deliveries refused unread that may wait for the peer to count them: they
 * hold no prefetch slot (rejected at once), so a flood of them while every
 * handler is busy is bounded here; past it they are only counted.
 */
const MAX_REFUSED_WAITING = 1024;

/** One delivery of the service queue: settled back to its channel (no closure per message). */
class ServiceDelivery implements Delivery {
  readonly failedAs = "dead-lettered";
  constructor(
    readonly message: Message,
    readonly from: string | undefined,
    readonly retryable: boolean,
    readonly size: number,
    readonly channel: ServiceChannel,
    readonly deliveryTag: number,
    readonly generation: number,
    /** Bytes counted in `inboxBytes` until settled. */
    readonly bodySize: number,
    /** Its call (a request), or undefined. */
    readonly call: Call | undefined,
  ) {}

  settle(outcome: Outcome): void {
    this.channel.settled(this, outcome);
  }
}

export class ServiceChannel extends InboxChannel implements Attachment {
  readonly service: string;
  readonly remote: string;
  #options: ServiceChannelOptions;
  #connection: BrokerConnection;
  #channel: AMQPChannel | undefined;
  #queue = "";
  #bindings: string[];
  #generation = 0;
  /** Calls by correlation id; calls of other callers with the same id hang off `next`. */
  #calls = new Map<string, Call>();
  /** The response queue of the last request: most come from few callers. */
  #lastReplyTo = "";
  /** Answered calls, oldest first (bounded by `rememberAnswers`). */
  #answered: Array<Call | undefined> = [];
  #answeredHead = 0;
  /** The oldest answered call whose body may still be held. */
  #bodyHead = 0;
  /** Bytes of the answer bodies held. */
  rememberedBytes = 0;
  /** Bytes of the requests received and not yet settled. */
  inboxBytes = 0;
  /** The most `inboxBytes` has been. */
  peakInboxBytes = 0;
  #sendWaiters: Array<() => void> = [];
  deadLettered = 0;
  answeredFromMemory = 0;
  /** Deliveries refused unread, waiting in the inbox. */
  #refusedWaiting = 0;
  /** A quorum service's channel confirms its replies; a request is acked after its reply's confirm. */
  readonly #confirmsReplies: boolean;
  /** Stream calls of ours come only after a probe (see Mesh.stream). */
  readonly features = { streams: true } as const;
  /** This instance's control queue (credit and cancels of its streams), per connection. */
  #controlQueue = "";
  #controlChannel: AMQPChannel | undefined;
  /** Stream calls not yet answered. */
  #streams = new Set<Call>();
  #pinger: ReturnType<typeof setInterval> | undefined;

  constructor(connection: BrokerConnection, options: ServiceChannelOptions) {
    super(Infinity);
    this.#connection = connection;
    this.#options = options;
    this.#confirmsReplies = options.queueType === "quorum" && !options.private;
    this.service = options.service;
    this.remote = `nuropb-${options.service}-sq`;
    this.#bindings = [...options.eventBindings];
  }

  /** The call `id` from `replyTo`, being handled or remembered. */
  #find(id: string, replyTo: string | undefined): Call | undefined {
    let call = this.#calls.get(id);
    while (call !== undefined && call.replyTo !== replyTo) call = call.next;
    return call;
  }

  #add(call: Call): void {
    call.next = this.#calls.get(call.correlationId);
    this.#calls.set(call.correlationId, call);
  }

  /** Forgets `call`; false when it was not held (forgotten already). */
  #remove(call: Call): boolean {
    const first = this.#calls.get(call.correlationId);
    if (first === call) {
      if (call.next === undefined) this.#calls.delete(call.correlationId);
      else this.#calls.set(call.correlationId, call.next);
    } else {
      let before = first;
      while (before !== undefined && before.next !== call) before = before.next;
      if (before === undefined) return false;
      before.next = call.next;
    }
    call.next = undefined;
    return true;
  }

  /** Every call held. */
  *#everyCall(): Generator<Call> {
    for (const first of this.#calls.values()) {
      for (let call: Call | undefined = first; call !== undefined; call = call.next) yield call;
    }
  }

  /** Binds one more topic pattern to the queue (now, and after every reconnect). */
  async bind(pattern: string): Promise<void> {
    if (this.#bindings.includes(pattern)) return;
    this.#bindings.push(pattern);
    if (this.#channel !== undefined) {
      await this.#channel.queueBind(this.#queue, EVENTS_EXCHANGE, pattern);
    }
  }

  /** A service channel ends with its service, not with idleness. */
  get expires(): boolean {
    return true;
  }

  /** Requests held to be answered (not yet answered). */
  get requestsRemembered(): number {
    let held = 0;
    for (const call of this.#everyCall()) if (!call.answered) held++;
    return held;
  }

  /** Encryption keys held for calls being handled (none once answered). */
  get keysHeld(): number {
    let held = 0;
    for (const call of this.#everyCall()) if (call.key !== undefined) held++;
    return held;
  }

  /** The largest request body held: with `prefetch` of them, `maxInboxBytes` at most. */
  get maxRequestBytes(): number {
    return Math.max(1, Math.floor(this.#options.maxInboxBytes / this.#options.prefetch));
  }

  async attach(connection: BrokerConnection, generation: number): Promise<void> {
    const channel = await connection.channel({
      onRefused: (refused: RefusedDelivery) =>
        this.#invalid(
          refused.deliveryTag,
          generation,
          refused.properties?.correlationId,
          refused.reason,
        ),
      maxMessageBytes: { bytes: this.maxRequestBytes, name: "maxInboxBytes / prefetch" },
    });
    await declareMeshExchanges(channel);
    const queue = this.#options.private
      ? await declarePrivateEventQueue(channel, this.#bindings)
      : await declareServiceQueue(channel, this.service, this.#bindings, this.#options.queueType);
    await channel.basicQos(this.#options.prefetch);
    // On a cluster the reply (to the caller's queue, on the caller's node) and
    // the ack (to the quorum queue's leader, maybe a third node) leave the
    // node this channel is on by different ways: if that node dies between
    // them, the ack can arrive and the reply not, and the caller, whose own
    // connection is fine, waits for nothing. So a quorum service acks a
    // request once the broker confirmed its reply (the caller gets the reply
    // as soon as before; only the ack waits).
    if (this.#confirmsReplies) await channel.confirmSelect();
    if (!this.#options.private) {
      // On a channel of its own: what it refuses unread (too large) needs no
      // settling (no acks), and must not break the service queue's channel.
      const control = await connection.channel({
        onRefused: () => {},
        maxMessageBytes: { bytes: MAX_CONTROL_BYTES, name: "a stream control message" },
      });
      const { name } = await control.queueDeclare("", {
        durable: false,
        autoDelete: true,
        exclusive: true,
      });
      await control.basicConsume(
        name,
        { noAck: true },
        (message: AMQPMessage) => this.#control(message),
      );
      this.#controlChannel = control;
      this.#controlQueue = name;
      channel.onReturn = (message: AMQPMessage) => this.#returned(message);
    }
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
    this.#controlChannel = undefined;
    // Copies waiting for an answer were delivered on the lost connection:
    // the broker delivers them again.
    for (const call of this.#everyCall()) call.copies = undefined;
    // The control queue is gone with the connection: no credit can come.
    this.#cancelStreams(undefined);
  }

  /** Cancels the handlers of the stream calls from `replyTo` (all, when undefined). */
  #cancelStreams(replyTo: string | undefined): void {
    for (const call of this.#streams) {
      if (replyTo !== undefined && call.replyTo !== replyTo) continue;
      this.#streams.delete(call);
      const cancel: Message = { kind: "cancel", id: call.correlationId };
      this.deliver({ message: cancel, from: call.replyTo })?.catch(() => {});
    }
  }

  /** A credit or cancel on the control queue, for a stream of this instance. */
  #control(message: AMQPMessage): void {
    if (this.closeReason !== undefined || message.body === null) return;
    const properties = message.properties as NuropbProperties;
    const decoded = decodeNuropbStream(DECODER_LAX.decode(message.body), properties);
    if (decoded?.kind !== "credit" && decoded?.kind !== "cancel") return;
    const replyTo = properties.replyTo ?? "";
    if (!this.#find(String(decoded.id), replyTo)?.stream) return;
    this.deliver({ message: decoded, from: replyTo })?.catch(() => {});
  }

  /** basic.return: an item, progress or ping no queue took: its caller is gone. */
  #returned(message: AMQPMessage): void {
    this.#cancelStreams(message.routingKey);
  }

  /** Pings the callers of open streams; stops when none is left. */
  #ping = (): void => {
    const callers = new Set<string>();
    for (const call of this.#streams) callers.add(call.replyTo);
    if (callers.size === 0 || this.#channel === undefined) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
      return;
    }
    for (const caller of callers) {
      const ping = encodeNuropbStream("ping", "", null, "");
      this.#publishReply(caller, ping, true).catch(() => {});
    }
  };

  #received(message: AMQPMessage, generation: number): void {
    if (this.closeReason !== undefined) return;
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
    if (this.closeReason !== undefined) return;
    const decoded = decodeServiceFrame({ body, properties });
    let call: Call | undefined;
    if (decoded.kind === "request") {
      const meta = decoded.meta as NuropbMeta;
      if (key !== undefined) meta.encrypted = true;
      // The same caller's name, kept once: the client decodes a fresh copy per
      // delivery, and each remembered call would keep its own.
      let replyTo = properties.replyTo!;
      if (replyTo === this.#lastReplyTo) replyTo = this.#lastReplyTo;
      else this.#lastReplyTo = replyTo;
      const correlationId = String(decoded.id);
      const known = this.#find(correlationId, replyTo);
      if (known !== undefined) {
        // A copy: the first's call (its context) is the one answered.
        this.#copyOf(known, message, generation);
        return;
      }
      call = {
        replyTo,
        correlationId,
        next: undefined,
        context: meta.context ?? {},
        traceId: meta.traceId ?? null,
        method: decoded.method,
        key,
        answered: false,
        answer: undefined,
        sealed: false,
        copies: undefined,
        stream: decoded.stream !== undefined,
      };
      this.#add(call);
      if (call.stream) {
        this.#streams.add(call);
        this.#pinger ??= setInterval(this.#ping, STREAM_PING);
      }
    } else if (key !== undefined && decoded.kind === "notification") {
      (decoded.meta as NuropbMeta).encrypted = true;
    }
    this.#push(
      decoded,
      decoded.kind === "request" ? properties.replyTo : undefined,
      message,
      generation,
      body.length,
      call,
    );
  }

  #push(
    decoded: Message,
    from: string | undefined,
    message: AMQPMessage,
    generation: number,
    size: number,
    call: Call | undefined,
  ): void {
    const bytes = message.bodySize;
    this.inboxBytes += bytes;
    if (this.inboxBytes > this.peakInboxBytes) this.peakInboxBytes = this.inboxBytes;
    let tag = message.deliveryTag;
    if (decoded.kind === "request" && decoded.stream !== undefined) {
      // Never delivered again: a second run would send its items twice.
      this.#ack(tag, generation);
      tag = ACKED;
    }
    const delivery = new ServiceDelivery(
      decoded,
      from,
      !message.redelivered && tag !== ACKED,
      size,
      this,
      tag,
      generation,
      bytes,
      call,
    );
    // A delivery that meets a closed inbox is dropped (the broker requeues it).
    this.deliver(delivery)?.catch(() => {});
  }

  /** A copy of a request we have: answer it again, or wait for the first. */
  #copyOf(call: Call, message: AMQPMessage, generation: number): void {
    if (!call.answered) {
      (call.copies ??= []).push(message.deliveryTag);
      return;
    }
    this.answeredFromMemory++;
    const answer: NuropbWire = call.answer === undefined
      ? encodeRefusal(call, "This request was answered before; that answer is no longer held")
      : {
        body: call.answer,
        properties: answerProperties(call.correlationId, call.traceId, call.sealed),
      };
    this.#publishReply(call.replyTo, answer).then(
      () => this.#ack(message.deliveryTag, generation),
      () => {},
    );
  }

  /** @internal How a delivery ended: ack, dead-letter or requeue it. */
  settled(delivery: ServiceDelivery, outcome: Outcome): void {
    this.inboxBytes -= delivery.bodySize;
    const call = delivery.call;
    if (call !== undefined && !call.answered) {
      // No reply was sent (retry, cancelled): forget it, so that the
      // copy the broker delivers again is handled.
      this.#streams.delete(call);
      if (this.#remove(call)) {
        // Its copies go back too, or each would hold a prefetch slot until the
        // channel closed.
        const copies = call.copies;
        call.copies = undefined;
        if (copies !== undefined && delivery.generation === this.#generation) {
          for (const copy of copies) this.#channel?.basicNack(copy, true).catch(() => {});
        }
      }
    }
    if (outcome === "failed" && delivery.message.kind === "invalid") this.deadLettered++;
    const tag = delivery.deliveryTag;
    if (tag === SETTLED) this.#refusedWaiting--;
    if (tag < 0 || delivery.generation !== this.#generation || this.#channel === undefined) return;
    const channel = this.#channel;
    corkTick(channel);
    switch (outcome) {
      case "ok":
        channel.basicAck(tag).catch(ignore);
        break;
      case "failed":
        channel.basicReject(tag, false).catch(ignore);
        break;
      case "retry":
      case "cancelled":
        channel.basicNack(tag, true).catch(ignore);
        break;
    }
  }

  #ack(deliveryTag: number, generation: number): void {
    if (generation !== this.#generation || this.#channel === undefined) return;
    corkTick(this.#channel);
    this.#channel.basicAck(deliveryTag).catch(ignore);
  }

  /** A delivery that never reached the envelope (not UTF-8, not to be opened). */
  #poison(message: AMQPMessage, generation: number, reason: string): void {
    if (this.closeReason !== undefined) return;
    this.#push(
      refused("a message", message.properties.correlationId, reason),
      undefined,
      message,
      generation,
      0,
      undefined,
    );
  }

  /**
   * A delivery the connection refused unread (too large): rejected now, since
   * the connection may be dropped right after (a frame it could not read);
   * the peer still counts and logs it as invalid.
   */
  #invalid(
    deliveryTag: number,
    generation: number,
    correlationId: string | undefined,
    reason: string,
  ): void {
    if (this.closeReason !== undefined) return;
    if (generation === this.#generation && this.#channel !== undefined) {
      this.#channel.basicReject(deliveryTag, false).catch(() => {});
    }
    if (this.#refusedWaiting >= MAX_REFUSED_WAITING) {
      this.deadLettered++;
      return;
    }
    this.#refusedWaiting++;
    const delivery = new ServiceDelivery(
      refused("a message", correlationId, reason),
      undefined,
      false,
      0,
      this,
      SETTLED,
      generation,
      0,
      undefined,
    );
    this.deliver(delivery)?.catch(() => {});
  }

  send(message: Message, to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    if (message.kind === "item" || message.kind === "progress") {
      return this.#sendItem(message, to);
    }
    if (message.kind !== "result" && message.kind !== "error") {
      return Promise.reject(
        new TypeError(`A service queue sends replies only, not ${message.kind} messages`),
      );
    }
    const call = this.#find(String(message.id), to);
    // Forgotten (the service is closing), or answered already.
    if (call === undefined || call.answered) return ACCEPTED;
    let response: NuropbWire;
    try {
      response = encodeAnswer(call, message, this.service);
    } catch (error) {
      // A value JSON cannot hold (nested past the stack, a cycle): the caller
      // gets an error rather than no answer at all.
      this.#options.logger.warn(
        `nuropb service ${this.service}: the answer to ${
          JSON.stringify(call.correlationId)
        } could not be encoded: ${error instanceof Error ? error.message : error}`,
      );
      response = encodeRefusal(
        call,
        `The answer of ${this.service}.${call.method} could not be encoded`,
      );
    }
    if (
      (call.key !== undefined && this.#options.keys !== undefined) ||
      this.#channel === undefined || call.copies !== undefined
    ) {
      return this.#answerLater(message, call, response);
    }
    // The common case, at once: the reply goes out in this tick, and so does
    // the ack the peer sends when this returns (one write for both).
    this.#hasAnswer(call, response);
    const sent = this.#publishNow(this.#channel, call.replyTo, response);
    this.#settleCall(message, call);
    return sent;
  }

  /** The answer to `call`, sealed first or sent once the broker is back; copies answered too. */
  async #answerLater(message: Message, call: Call, response: NuropbWire): Promise<void> {
    let sealed = false;
    if (call.key !== undefined && this.#options.keys !== undefined) {
      const sealing = await sealNuropbBody(response.body, this.#options.keys.publicKey, call.key);
      response.body = sealing.body;
      (response.properties.headers as Record<string, unknown>).encrypted = "yes";
      sealed = true;
    }
    this.#hasAnswer(call, response, sealed);
    await this.#publishReply(call.replyTo, response);
    const copies = call.copies;
    call.copies = undefined;
    for (const copy of copies ?? []) {
      this.answeredFromMemory++;
      await this.#publishReply(call.replyTo, response);
      this.#ack(copy, this.#generation);
    }
    this.#settleCall(message, call);
  }

  /** `call` has its answer: copies arriving while it goes out are answered from it. */
  #hasAnswer(call: Call, response: NuropbWire, sealed = false): void {
    call.key = undefined;
    call.answered = true;
    this.#streams.delete(call);
    call.answer = response.body;
    call.sealed = sealed;
    // A copy's answer needs neither (a refusal echoes no context).
    call.context = undefined;
    call.method = "";
  }

  /** After the answer went out: the call is remembered for its copies, or forgotten. */
  #settleCall(message: Message, call: Call): void {
    if (message.kind === "error" && REFUSALS.has(message.error.code)) {
      // No handler ran: a copy may simply be refused again.
      this.#remove(call);
    } else {
      this.#remember(call);
    }
  }

  /**
   * Publishes a reply in this tick; a failure (the connection is going) is
   * only logged. ACCEPTED, or with confirms (a quorum service) once the
   * broker confirmed it: the peer acks the request then.
   */
  #publishNow(
    channel: AMQPChannel,
    replyTo: string,
    response: NuropbWire,
  ): typeof ACCEPTED | Promise<void> {
    corkTick(channel);
    const published = channel.basicPublish(
      "",
      replyTo,
      response.body,
      response.properties as AMQPProperties,
    ) as Promise<unknown>;
    if (!this.#confirmsReplies) {
      published.catch(this.#replyFailed);
      return ACCEPTED;
    }
    return published.then(ignore, this.#replyFailed);
  }

  #replyFailed = (error: unknown): void => {
    if (this.closeReason === undefined) {
      this.#options.logger.debug(`nuropb service ${this.service}: could not send a reply`, error);
    }
  };

  /** An item or progress of a call still running, to its caller, naming this instance. */
  async #sendItem(message: Message, to: string | undefined): Promise<void> {
    const call = this.#find(String((message as { id: unknown }).id), to);
    if (call === undefined || call.answered) return;
    const wire = encodeStreamMessage(call, message as Message & { kind: "item" | "progress" });
    if (this.#channel === undefined) {
      // Its stream is cancelled with the lost connection; progress waits for none.
      throw new ConnectionClosed(this.closeReason ?? closeReason("failed", "reconnecting"));
    }
    (wire.properties.headers as Record<string, unknown>)[INSTANCE_HEADER] = this.#controlQueue;
    if (call.key !== undefined && this.#options.keys !== undefined) {
      const sealed = await sealNuropbBody(wire.body, this.#options.keys.publicKey, call.key);
      wire.body = sealed.body;
      (wire.properties.headers as Record<string, unknown>).encrypted = "yes";
    }
    await this.#publishReply(call.replyTo, wire, true);
  }

  async #publishReply(replyTo: string, response: NuropbWire, mandatory = false): Promise<void> {
    while (this.#channel === undefined) {
      if (this.closeReason !== undefined) throw new ConnectionClosed(this.closeReason);
      await new Promise<void>((resolve) => this.#sendWaiters.push(resolve));
    }
    corkTick(this.#channel);
    await this.#channel.basicPublish(
      "",
      replyTo,
      response.body,
      response.properties as AMQPProperties,
      mandatory,
    );
  }

  /** Keeps an answered call for its copies: the call by count, its body by bytes. */
  #remember(call: Call): void {
    const { rememberAnswers, rememberAnswerBytes } = this.#options;
    if (this.#find(call.correlationId, call.replyTo) !== call) return; // forgotten (closing)
    if (rememberAnswers <= 0) {
      this.#remove(call);
      return;
    }
    const size = call.answer?.length ?? 0;
    if (size > rememberAnswerBytes) call.answer = undefined;
    else this.rememberedBytes += size;
    this.#answered.push(call);
    if (this.#answered.length - this.#answeredHead > rememberAnswers) {
      const oldest = this.#answered[this.#answeredHead]!;
      this.#forgetBody(oldest);
      this.#remove(oldest);
      this.#answered[this.#answeredHead++] = undefined;
    }
    // Bodies go first, oldest first; the calls stay (a copy is then refused).
    this.#bodyHead = Math.max(this.#bodyHead, this.#answeredHead);
    while (this.rememberedBytes > rememberAnswerBytes) {
      this.#forgetBody(this.#answered[this.#bodyHead++]);
    }
    if (this.#answeredHead > 1024 && this.#answeredHead * 2 > this.#answered.length) {
      this.#answered = this.#answered.slice(this.#answeredHead);
      this.#bodyHead -= this.#answeredHead;
      this.#answeredHead = 0;
    }
  }

  #forgetBody(call: Call | undefined): void {
    if (call?.answer === undefined) return;
    this.rememberedBytes -= call.answer.length;
    call.answer = undefined;
  }

  close(reason?: string | CloseReason): Promise<void> {
    if (this.beginClose(reason, true) !== undefined) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
      this.#streams.clear();
      for (const resolve of this.#sendWaiters.splice(0)) resolve();
      this.#connection.remove(this);
      const channel = this.#channel;
      this.#channel = undefined;
      // Its queue goes with it: callers' next credit or ping comes back.
      this.#controlChannel?.close().catch(() => {});
      this.#controlChannel = undefined;
      this.#calls.clear();
      this.#answered = [];
      this.#answeredHead = this.#bodyHead = this.rememberedBytes = 0;
      // Closing the channel gives unacknowledged deliveries back to the queue.
      (channel?.close() ?? Promise.resolve()).catch(() => {}).finally(() => this.finishClose());
    }
    return this.closed;
  }
}
