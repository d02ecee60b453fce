// The caller's side of the mesh, as a Channel for a Peer: requests and
// commands go out to the rpc exchange (mandatory, with publisher confirms),
// replies come back on our own response queue.
//
// A request is kept until its reply arrives or its caller gives up: after a
// lost connection every unanswered request is published again (same
// correlation id), since the broker may have lost it or its reply. Services
// of this library answer a copy they have already answered from memory, so
// the handler runs once; the caller takes the first reply and drops the rest
// (counted as duplicates).
//
// The envelope is the codec's (NuropbCallerCodec); the channel seals and
// opens encrypted bodies, routes (requests and commands to the rpc exchange,
// events to the events exchange), resends and drops duplicates. A reply that
// is not one (undecodable, not a response) is dropped here with a warning,
// not handed to the peer: the peer takes a first unreadable answer to a call
// as "the other side speaks another dialect" and closes, and on a shared
// broker anyone may publish to our response queue.
//
// A stream call (nuropb_stream.ts) is not published again: its items come
// from one instance, whose control queue each item names; credit and a
// cancel go there, mandatory. While streams are open that queue is pinged
// (mandatory) every second: returned, the instance is gone and its streams
// end with ConnectionClosed. A lost connection ends them too.

import type { Delivery } from "../../protocol/wire/channel.ts";
import { type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed, ErrorCode, NotDelivered } from "../../protocol/wire/errors.ts";
import type { Logger } from "../../protocol/shared/logger.ts";
import type { Message } from "../../protocol/wire/message.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import {
  EVENT_METHOD,
  type NuropbProperties,
  type NuropbWire,
} from "../../protocol/nuropb/nuropb.ts";
import { NuropbCallerCodec, type NuropbCallMeta } from "../../protocol/nuropb/nuropb_codec.ts";
import { openNuropbBody, sealNuropbBody } from "../../protocol/nuropb/nuropb_encryption.ts";
import { encodeNuropbStream, INSTANCE_HEADER } from "../../protocol/nuropb/nuropb_stream.ts";
import type {
  AMQPChannel,
  AMQPMessage,
  AMQPProperties,
  Attachment,
  BrokerConnection,
  RefusedDelivery,
} from "./_connection.ts";
import { declareMeshExchanges, EVENTS_EXCHANGE, RPC_EXCHANGE } from "./_topology.ts";
import { corkTick } from "./_cork.ts";

/** What a request or command carries besides its method and params (in `meta`). */
export interface OutgoingMeta extends NuropbCallMeta {
  /** The service's public key: seal the body for it (a frame transform, outside the codec). */
  sealFor?: CryptoKey;
}

interface Outbound {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly persistent: boolean;
  readonly properties: NuropbProperties;
  body: string;
  /** When the ttl runs out (ms since epoch), or Infinity. */
  readonly expires: number;
  /** Kept until the reply arrives (requests), or only until confirmed. */
  readonly awaitsReply: boolean;
  /** The Fernet key of an encrypted request: its reply is opened with it. */
  key: string | undefined;
  readonly confirmed: PromiseWithResolvers<void>;
  settled: boolean;
  /** Whether it went out on some connection already (sending it again counts as republished). */
  published: boolean;
  /** A stream call: never published again. */
  readonly stream: boolean;
  /** The control queue of the instance that holds the stream, once an item named it. */
  instance: string | undefined;
  /** Times the broker refused it (nack): the eighth refusal is final. */
  refusals?: number;
  /** Its next attempt after a refusal, waiting. */
  retry?: ReturnType<typeof setTimeout>;
  /** Returned unroutable just after a reconnect: goes again, so its confirm settles nothing. */
  returned?: boolean;
  /** When it last went out (`performance.now()`, immune to clock jumps): a command or event unconfirmed for long fails. */
  publishedAt?: number;
}

/** How `#enqueue` sends a message. */
interface EnqueueHow {
  readonly mandatory: boolean;
  readonly persistent: boolean;
  readonly awaitsReply: boolean;
  readonly ttl: number;
  readonly sealFor: CryptoKey | undefined;
  readonly stream: boolean;
}

/**
 * Attempts a message gets when the broker refuses it (nack): a quorum
 * queue's election took over 750 ms on a loaded machine (five attempts
 * failed a call in the cluster test), so eight, about 3.5 s of waits.
 */
const MAX_REFUSALS = 8;
/** The wait before the first attempt after a refusal; it doubles up to REFUSED_RETRY_MAX_MS. */
const REFUSED_RETRY_MS = 50;
/** The longest wait between two attempts (50 + 100 + 200 + 400 + 800 + 1000 + 1000 ms in all). */
const REFUSED_RETRY_MAX_MS = 1_000;
/** Replaced publishing channels left open while publishes on them await their confirm, at most. */
const MAX_RETIRING = 8;
/**
 * After a reconnect, how long a request or command no queue took (NO_ROUTE)
 * is sent again instead of failing: a restarted broker accepts connections
 * before it has recovered its durable queues' bindings, and a service's own
 * reconnect declares them again a moment later.
 */
const REROUTE_GRACE_MS = 5_000;
/** The wait between attempts within that grace. */
const REROUTE_RETRY_MS = 100;

const DECODER = new TextDecoder();
const REMEMBERED_ANSWERS = 4096;
/** How often the instances holding open streams are checked, ms. */
const STREAM_PING = 1_000;

export class CallerChannel extends InboxChannel implements Attachment {
  readonly responseQueue: string;
  readonly remote: string;
  #connection: BrokerConnection;
  #logger: Logger;
  #name: string;
  #channel: AMQPChannel | undefined;
  #codec: NuropbCallerCodec;
  #generation = 0;
  /** When this caller attached again after losing its connection (0: never). */
  #reattachedAt = 0;
  #outbound = new Map<string, Outbound>();
  /** Correlation ids answered lately: a second reply to one is a duplicate. */
  #answered = new Set<string>();
  /** The same ids in the order answered (a ring): the oldest leaves the set when it is full. */
  #answeredOrder: Array<string | undefined> = new Array(REMEMBERED_ANSWERS);
  #answeredNext = 0;
  duplicateReplies = 0;
  republished = 0;
  /** Returned unroutable just after a reconnect and sent again. */
  rerouted = 0;
  /** Replies dropped unread or undecodable (each logged). */
  droppedReplies = 0;
  /** Stream calls go only to services of ours: Mesh.stream asks first. */
  readonly features = { streams: true } as const;
  #pinger: ReturnType<typeof setInterval> | undefined;
  /**
   * The channel requests go out on after the broker refused one on the
   * consuming channel (a channel that refused once may refuse for good), or
   * its replacement after a refusal on it; undefined: the consuming channel.
   */
  #publisher: AMQPChannel | undefined;
  #renewing: Promise<AMQPChannel | undefined> | undefined;
  /**
   * Replaced publishing channels, closed once the broker has confirmed or
   * refused everything published on them: the client forgets a publish
   * still unconfirmed when its channel closes (neither resolved nor
   * rejected), and the broker drops its confirm.
   */
  #retiring = new Set<AMQPChannel>();

  /**
   * How long a command or event waits for the broker's confirm once out, ms
   * (0: forever). A broker may leave a publish unconfirmed for good
   * (RabbitMQ 3.10 drops some refusals of a full queue's publishes): it
   * fails with NotDelivered, never waits forever.
   */
  readonly #confirmTimeout: number;
  #confirmSweep: ReturnType<typeof setInterval> | undefined;

  constructor(
    connection: BrokerConnection,
    responseQueue: string,
    logger: Logger,
    name: string,
    confirmTimeout = 0,
  ) {
    super(Infinity);
    this.#confirmTimeout = confirmTimeout;
    this.#connection = connection;
    this.responseQueue = responseQueue;
    this.remote = responseQueue;
    this.#logger = logger;
    this.#name = name;
    this.#codec = new NuropbCallerCodec(responseQueue);
  }

  /** Calls waiting for their reply (or, for commands, their confirm). */
  get pending(): number {
    return this.#outbound.size;
  }

  /** Encryption keys held for calls in flight (for tests: none after a call ends). */
  get keysHeld(): number {
    let held = 0;
    for (const outbound of this.#outbound.values()) if (outbound.key !== undefined) held++;
    return held;
  }

  async attach(connection: BrokerConnection, generation: number): Promise<void> {
    const channel = await connection.channel({ onRefused: (refused) => this.#refused(refused) });
    await declareMeshExchanges(channel);
    await channel.queueDeclare(this.responseQueue, {
      durable: false,
      autoDelete: true,
      exclusive: false,
    });
    await channel.confirmSelect();
    channel.onReturn = (message: AMQPMessage) => this.#returned(message);
    await channel.basicConsume(
      this.responseQueue,
      { noAck: true, exclusive: true },
      (message: AMQPMessage) => this.#reply(message),
    );
    this.#channel = channel;
    this.#publisher = undefined;
    this.#renewing = undefined;
    this.#retiring.clear();
    if (this.#generation !== 0) this.#reattachedAt = Date.now();
    this.#generation = generation;
    // Everything not yet answered goes out again: the broker may have lost it.
    const now = Date.now();
    for (const [id, outbound] of this.#outbound) {
      // A retry still waiting from the lost connection is moot (it goes now, or
      // not at all); left set, a refusal here would overwrite its handle, and
      // the call's end or close() would clear the wrong timer.
      clearTimeout(outbound.retry);
      outbound.retry = undefined;
      // A stream call already out was lost with the connection; one made since goes now.
      if (outbound.expires <= now || (outbound.stream && outbound.published)) continue;
      if (outbound.published) this.republished++;
      this.#publish(id, outbound, channel, now);
    }
  }

  detach(_generation: number): void {
    this.#channel = undefined;
    this.#publisher = undefined;
    this.#renewing = undefined;
    this.#retiring.clear();
    // Items sent meanwhile went to a response queue that is gone.
    this.#loseStreams(undefined, "the broker connection was lost");
  }

  /** Ends the stream calls held by `instance` (all, when undefined) with ConnectionClosed. */
  #loseStreams(instance: string | undefined, why: string): void {
    const reason = closeReason("failed", why);
    for (const [id, outbound] of this.#outbound) {
      if (!outbound.stream || (instance !== undefined && outbound.instance !== instance)) continue;
      this.#answer(id);
      this.#push({ message: { kind: "lost", id, reason } });
    }
  }

  /** Sends a credit, cancel or ping to an instance's control queue (mandatory: a return means it is gone). */
  #control(instance: string, wire: NuropbWire): void {
    const channel = this.#publisher ?? this.#channel;
    if (channel === undefined) return;
    corkTick(channel);
    // Settled, it may be the last publish a replaced publisher waited for.
    const settled = () => this.#closeIfDrained(channel);
    (channel.basicPublish(
      "",
      instance,
      wire.body,
      wire.properties as AMQPProperties,
      true,
    ) as Promise<unknown>).then(settled, settled);
  }

  /** Pings every instance holding an open stream; stops when none is left. */
  #ping = (): void => {
    const instances = new Set<string>();
    for (const outbound of this.#outbound.values()) {
      if (outbound.instance !== undefined) instances.add(outbound.instance);
    }
    if (instances.size === 0) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
      return;
    }
    for (const instance of instances) {
      this.#control(instance, encodeNuropbStream("ping", "", null, this.responseQueue));
    }
  };

  send(message: Message, to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    switch (message.kind) {
      case "request":
      case "notification": {
        let wire: NuropbWire;
        try {
          wire = this.#codec.encode(message, to)[0]!;
        } catch (error) {
          return Promise.reject(error);
        }
        const request = message.kind === "request";
        const meta = (message.meta ?? {}) as OutgoingMeta;
        const correlationId = wire.properties.correlationId!;
        if (!request && message.method === EVENT_METHOD) {
          // An event: to the events exchange under its topic, never sealed.
          const topic = (message.params as { topic: string }).topic;
          return this.#enqueue(correlationId, EVENTS_EXCHANGE, topic, wire, {
            mandatory: false,
            persistent: true,
            awaitsReply: false,
            ttl: Infinity,
            sealFor: undefined,
            stream: false,
          });
        }
        return this.#enqueue(correlationId, RPC_EXCHANGE, to!, wire, {
          mandatory: true,
          persistent: !request,
          awaitsReply: request,
          ttl: meta.ttl ?? 3_600_000,
          sealFor: meta.sealFor,
          stream: request && message.stream !== undefined,
        });
      }
      case "cancel": {
        // The caller gave up (timeout, abort, left a stream): nothing to
        // resend, no key to keep. A stream's instance is told; one not yet
        // known is told by the first item that still comes (see #reply).
        const id = String(message.id);
        const outbound = this.#outbound.get(id);
        if (outbound?.stream) this.#answer(id);
        else if (outbound !== undefined) {
          this.#outbound.delete(id);
          clearTimeout(outbound.retry);
        }
        if (outbound?.instance !== undefined) {
          this.#control(outbound.instance, this.#codec.encode(message)[0]!);
        }
        return Promise.resolve();
      }
      case "credit": {
        const instance = this.#outbound.get(String(message.id))?.instance;
        if (instance !== undefined) this.#control(instance, this.#codec.encode(message)[0]!);
        return Promise.resolve();
      }
      default:
        return Promise.reject(
          new TypeError(`A mesh caller does not send ${message.kind} messages`),
        );
    }
  }

  /**
   * Keeps and publishes a request, command or event; resolves once the
   * broker confirmed it (or, for a request, once its reply came), rejects
   * when it was returned or refused. No async step unless it is sealed.
   */
  #enqueue(
    correlationId: string,
    exchange: string,
    routingKey: string,
    wire: NuropbWire,
    how: EnqueueHow,
  ): Promise<void> {
    if (how.sealFor !== undefined) {
      return this.#enqueueSealed(correlationId, exchange, routingKey, wire, how, how.sealFor);
    }
    return this.#keep(correlationId, exchange, routingKey, wire, wire.body, undefined, how);
  }

  /** `#enqueue` for a body sealed first for the service's public key. */
  async #enqueueSealed(
    correlationId: string,
    exchange: string,
    routingKey: string,
    wire: NuropbWire,
    how: EnqueueHow,
    sealFor: CryptoKey,
  ): Promise<void> {
    const sealed = await sealNuropbBody(wire.body, sealFor);
    (wire.properties.headers as Record<string, unknown>).encrypted = "yes";
    return await this.#keep(
      correlationId,
      exchange,
      routingKey,
      wire,
      sealed.body,
      sealed.key,
      how,
    );
  }

  #keep(
    correlationId: string,
    exchange: string,
    routingKey: string,
    wire: NuropbWire,
    body: string,
    key: string | undefined,
    how: EnqueueHow,
  ): Promise<void> {
    const now = Date.now();
    const outbound: Outbound = {
      exchange,
      routingKey,
      mandatory: how.mandatory,
      persistent: how.persistent,
      properties: wire.properties,
      body,
      expires: now + how.ttl,
      awaitsReply: how.awaitsReply,
      key,
      confirmed: Promise.withResolvers<void>(),
      settled: false,
      published: false,
      stream: how.stream,
      instance: undefined,
    };
    this.#outbound.set(correlationId, outbound);
    const channel = this.#publisher ?? this.#channel;
    if (channel !== undefined) this.#publish(correlationId, outbound, channel, now);
    // Otherwise it goes out when the connection is back (attach).
    return outbound.confirmed.promise;
  }

  #publish(id: string, outbound: Outbound, channel: AMQPChannel, now: number): void {
    outbound.published = true;
    if (!outbound.awaitsReply && this.#confirmTimeout > 0) {
      outbound.publishedAt = performance.now();
      this.#confirmSweep ??= setInterval(
        this.#failUnconfirmed,
        Math.min(1_000, Math.max(50, this.#confirmTimeout / 4)),
      );
    }
    // A return skips the confirm of the publish it came for; not this one's
    // (after a loss that confirm never came, and the flag would stay).
    outbound.returned = false;
    const properties = outbound.properties;
    corkTick(channel);
    if (properties.expiration !== undefined && outbound.expires !== Infinity) {
      properties.expiration = String(Math.max(1, outbound.expires - now));
    }
    const sent = channel.basicPublish(
      outbound.exchange,
      outbound.routingKey,
      outbound.body,
      (outbound.persistent ? { ...properties, deliveryMode: 2 } : properties) as AMQPProperties,
      outbound.mandatory,
    ) as Promise<unknown>;
    sent.then(
      () => {
        this.#closeIfDrained(channel);
        if (outbound.returned) return void (outbound.returned = false); // it goes again
        if (outbound.settled) return;
        outbound.settled = true;
        outbound.confirmed.resolve();
        if (!outbound.awaitsReply && this.#outbound.get(id) === outbound) this.#outbound.delete(id);
      },
      (error: unknown) => {
        this.#closeIfDrained(channel);
        // The channel closed before the broker confirmed (the connection was
        // lost: attach sends it again), or the call ended meanwhile.
        if (
          !String(error).includes("Message rejected") || outbound.settled ||
          this.#outbound.get(id) !== outbound
        ) return;
        // A quorum queue refuses while it elects a leader, and (RabbitMQ
        // 3.10) that channel then refuses for good: this message alone
        // goes again, on a fresh channel, after a short wait. The
        // connection and every other call stay as they are (a queue that
        // refuses for good, e.g. full with reject-publish, fails the call
        // within seconds).
        outbound.refusals = (outbound.refusals ?? 0) + 1;
        if (outbound.refusals < MAX_REFUSALS) return this.#retryRefused(id, outbound, channel);
        outbound.settled = true;
        this.#outbound.delete(id);
        outbound.confirmed.reject(new NotDelivered(outbound.routingKey, "the broker refused it"));
      },
    );
  }

  /** Fails the commands and events the broker left unconfirmed for `#confirmTimeout`; stops when none waits. */
  #failUnconfirmed = (): void => {
    const now = performance.now();
    let waiting = false;
    for (const [id, outbound] of this.#outbound) {
      if (outbound.awaitsReply || outbound.settled) continue;
      // Not with the broker now: waiting for the connection, or for its retry.
      if (
        this.#channel === undefined || outbound.retry !== undefined ||
        now - outbound.publishedAt! < this.#confirmTimeout
      ) {
        waiting = true;
        continue;
      }
      outbound.settled = true;
      this.#outbound.delete(id);
      const why = `the broker neither confirmed nor refused it within ${this.#confirmTimeout} ms`;
      this.#logger.warn(`${this.#name}: a message to ${outbound.routingKey} failed: ${why}`);
      outbound.confirmed.reject(new NotDelivered(outbound.routingKey, why));
    }
    if (!waiting) {
      clearInterval(this.#confirmSweep);
      this.#confirmSweep = undefined;
    }
  };

  /** Sends `outbound`, returned unroutable just after a reconnect, again after a wait. */
  #retryReturned(id: string, outbound: Outbound): void {
    const generation = this.#generation;
    clearTimeout(outbound.retry);
    outbound.retry = setTimeout(() => {
      outbound.retry = undefined;
      const channel = this.#publisher ?? this.#channel;
      // Gone meanwhile (attach sends what is unanswered again after a loss).
      if (
        channel === undefined || outbound.settled || this.#outbound.get(id) !== outbound ||
        generation !== this.#generation || this.closeReason !== undefined
      ) return;
      this.#publish(id, outbound, channel, Date.now());
    }, REROUTE_RETRY_MS);
  }

  /** Sends `outbound` again, alone, on a channel other than `refusedOn`, after a wait. */
  #retryRefused(id: string, outbound: Outbound, refusedOn: AMQPChannel): void {
    this.#logger.warn(
      `${this.#name}: the broker refused a message to ${outbound.routingKey}; it goes again on a fresh channel`,
    );
    const generation = this.#generation;
    const wait = Math.min(REFUSED_RETRY_MS * 2 ** (outbound.refusals! - 1), REFUSED_RETRY_MAX_MS);
    const renewed = this.#renew(refusedOn);
    outbound.retry = setTimeout(async () => {
      outbound.retry = undefined;
      await renewed;
      // The newest publishing channel: a refusal of another message may have
      // replaced the one renewed for this one meanwhile.
      const channel = this.#publisher ?? this.#channel;
      // Gone meanwhile: answered, given up, closed, or the connection was
      // lost (attach sends what is unanswered again).
      if (
        channel === undefined || outbound.settled || this.#outbound.get(id) !== outbound ||
        generation !== this.#generation || this.closeReason !== undefined
      ) return;
      this.#publish(id, outbound, channel, Date.now());
    }, wait);
  }

  /** A fresh publishing channel instead of `refused` (one only, however many it refused). */
  #renew(refused: AMQPChannel): Promise<AMQPChannel | undefined> {
    const current = this.#publisher ?? this.#channel;
    if (current !== refused && current !== undefined) return Promise.resolve(current);
    if (this.#renewing !== undefined) return this.#renewing;
    const renewing: Promise<AMQPChannel | undefined> = this.#openPublisher(refused)
      .finally(() => {
        if (this.#renewing === renewing) this.#renewing = undefined;
      });
    this.#renewing = renewing;
    return renewing;
  }

  /** Opens a publishing channel (confirms, returns) to replace `refused`. */
  async #openPublisher(refused: AMQPChannel): Promise<AMQPChannel | undefined> {
    const generation = this.#generation;
    try {
      const channel = await this.#connection.channel();
      await channel.confirmSelect();
      channel.onReturn = (message: AMQPMessage) => this.#returned(message);
      if (generation !== this.#generation || this.closeReason !== undefined) {
        channel.close().catch(() => {});
        return undefined;
      }
      // The consuming channel keeps consuming; a replaced publisher goes
      // once drained.
      if (refused !== this.#channel) {
        this.#retiring.add(refused);
        this.#closeIfDrained(refused);
        // A confirm the broker never sends would keep one open for good: the
        // oldest goes anyway past a few (its calls end by their deadlines).
        if (this.#retiring.size > MAX_RETIRING) {
          const oldest = this.#retiring.values().next().value!;
          this.#retiring.delete(oldest);
          oldest.close().catch(() => {});
        }
      }
      this.#publisher = channel;
      return channel;
    } catch (error) {
      this.#logger.debug(`${this.#name}: no fresh channel after a refusal: ${error}`);
      return undefined;
    }
  }

  /** Closes `channel`, a replaced publisher, once nothing published on it awaits its confirm. */
  #closeIfDrained(channel: AMQPChannel): void {
    if (!this.#retiring.has(channel)) return;
    // The client's own list (amqp-client 4.1.1): it holds the control
    // messages' publishes too. Without it, the channel closes at once.
    const waiting = (channel as unknown as { unconfirmedPublishes?: unknown[] })
      .unconfirmedPublishes;
    if ((waiting?.length ?? 0) > 0) return;
    this.#retiring.delete(channel);
    channel.close().catch(() => {});
  }

  /** basic.return: a mandatory request or command no queue took. */
  #returned(message: AMQPMessage): void {
    const type = message.properties.headers?.nuropb_type;
    if (type === "credit" || type === "cancel" || type === "ping") {
      // The instance's control queue is gone, and the instance with it.
      this.#loseStreams(message.routingKey, `stream instance ${message.routingKey} is gone`);
      return;
    }
    const id = message.properties.correlationId;
    const outbound = id === undefined ? undefined : this.#outbound.get(id);
    if (outbound === undefined || outbound.settled) return;
    const now = Date.now();
    if (now - this.#reattachedAt < REROUTE_GRACE_MS && now + REROUTE_RETRY_MS < outbound.expires) {
      outbound.returned = true;
      this.rerouted++;
      this.#retryReturned(id!, outbound);
      return;
    }
    outbound.settled = true;
    this.#outbound.delete(id!);
    outbound.confirmed.reject(
      new NotDelivered(
        outbound.routingKey,
        `Service ${outbound.routingKey} not available (${message.replyText ?? "NO_ROUTE"})`,
      ),
    );
  }

  #reply(message: AMQPMessage): void {
    // The consumer runs until its channel closes; what comes after close is dropped.
    if (this.closeReason !== undefined) return;
    const id = message.properties.correlationId ?? "";
    const outbound = this.#outbound.get(id);
    const type = message.properties.headers?.nuropb_type;
    if (type === "ping") return; // an instance checking that this caller is still here
    if (type === "item" || type === "progress") {
      const instance = message.properties.headers?.[INSTANCE_HEADER];
      if (typeof instance !== "string" || instance === "") {
        this.#droppedUnread(id, `${type} without ${INSTANCE_HEADER}`);
        return;
      }
      if (outbound === undefined) {
        // A stream this side left before its instance was known: it is told now.
        if (this.#answered.has(id)) {
          this.#control(instance, this.#codec.encode({ kind: "cancel", id })[0]!);
        }
        return;
      }
      if (outbound.instance === undefined) {
        outbound.instance = instance;
        this.#pinger ??= setInterval(this.#ping, STREAM_PING);
      }
    } else if (outbound === undefined && this.#answered.has(id)) {
      this.duplicateReplies++;
      this.#logger.debug(`${this.#name}: dropped a second reply to ${id}`);
      return;
    }
    const body = message.body === null ? "" : DECODER.decode(message.body);
    const properties = message.properties as NuropbProperties;
    if (properties.headers?.encrypted === "yes") {
      const key = outbound?.key;
      if (key === undefined) {
        this.#droppedUnread(id, "it is encrypted, and there is no key for it");
        return;
      }
      openNuropbBody(body, { key }).then(
        (opened) => this.#deliver(id, opened.body, properties),
        (error) => this.#droppedUnread(id, `it cannot be decrypted: ${error?.message ?? error}`),
      );
      return;
    }
    this.#deliver(id, body, properties);
  }

  /** A reply the connection refused unread (too large): its call fails with FrameTooLarge. */
  #refused(refused: RefusedDelivery): void {
    if (this.closeReason !== undefined) return;
    const id = refused.properties?.correlationId;
    this.#droppedUnread(id, refused.reason);
    if (id === undefined || !this.#answer(id)) return;
    this.#push({
      message: {
        kind: "error",
        id,
        error: {
          code: ErrorCode.FrameTooLarge,
          message: `The reply was refused: ${refused.reason}`,
        },
      },
    });
  }

  /** Counts and logs a reply dropped; `what` is "a reply (correlation_id …): why". */
  #dropped(what: string): void {
    this.droppedReplies++;
    this.#logger.warn(`${this.#name}: dropped ${what}`);
  }

  /** `#dropped`'s words for a reply dropped before its envelope was read. */
  #droppedUnread(id: string | undefined, reason: string): void {
    this.#dropped(`a reply (correlation_id ${JSON.stringify(id ?? null)}): ${reason}`);
  }

  #deliver(id: string, body: string, properties: NuropbProperties): void {
    // Decryption is asynchronous: the channel may have closed meanwhile.
    if (this.closeReason !== undefined) return;
    const decoded = this.#codec.decode({ body, properties });
    if (decoded.kind === "invalid") {
      this.#dropped(decoded.error.message);
      return;
    }
    if (decoded.kind === "item" || decoded.kind === "progress") {
      if (this.#outbound.has(id)) this.#push({ message: decoded });
      return;
    }
    if (!this.#answer(id) && this.#answered.has(id)) {
      this.duplicateReplies++;
      return;
    }
    this.#push({ message: decoded });
  }

  /** Hands a reply to the peer; one that meets a closed inbox is dropped, never left rejected. */
  #push(delivery: Delivery): void {
    this.deliver(delivery)?.catch(() => {});
  }

  /** The reply to `id` arrived: forget the request. False when none was waiting. */
  #answer(id: string): boolean {
    const outbound = this.#outbound.get(id);
    if (outbound === undefined) return false;
    this.#outbound.delete(id);
    outbound.key = undefined;
    // A retry waiting after a refusal (a copy reached some queue all the same).
    clearTimeout(outbound.retry);
    if (!outbound.settled) {
      outbound.settled = true;
      outbound.confirmed.resolve();
    }
    this.#answered.add(id);
    const oldest = this.#answeredOrder[this.#answeredNext];
    if (oldest !== undefined) this.#answered.delete(oldest);
    this.#answeredOrder[this.#answeredNext] = id;
    this.#answeredNext = (this.#answeredNext + 1) % REMEMBERED_ANSWERS;
    return true;
  }

  close(reason?: string | CloseReason): Promise<void> {
    const why = this.beginClose(reason, true);
    if (why !== undefined) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
      clearInterval(this.#confirmSweep);
      this.#confirmSweep = undefined;
      for (const outbound of this.#outbound.values()) {
        outbound.key = undefined;
        clearTimeout(outbound.retry);
        if (!outbound.settled) outbound.confirmed.reject(new ConnectionClosed(why));
      }
      this.#outbound.clear();
      this.finishClose();
      this.#connection.remove(this);
      this.#channel?.close().catch(() => {});
      this.#channel = undefined;
      this.#publisher?.close().catch(() => {});
      this.#publisher = undefined;
    }
    return this.closed;
  }
}
