/**
 * A service mesh on RabbitMQ, wire-compatible with nuropb 0.1.8: serve
 * handlers as a named service (competing consumers on `nuropb-<name>-sq`),
 * call services with `request` (answered) and `command` (not answered),
 * publish and subscribe to events on the topic exchange, describe a service.
 * Python nuropb services and callers on the same broker and vhost talk to
 * ours and back.
 *
 * The connection comes back by itself after the broker restarts: channels,
 * exchanges, queues, bindings and consumers are declared again, and requests
 * not yet answered are published again; a service answers a copy of a request
 * it already answered from memory, so no request is lost or handled twice.
 * Given a cluster's nodes (`connectMesh([url1, url2, url3])`), it fails over
 * to the next node that answers; serve with `queueType: "quorum"` so that the
 * service queues outlive the node they were on.
 *
 * This is the only entrypoint that loads an AMQP client
 * (`npm:@cloudamqp/amqp-client`); `@seed/rpc` and the other wires never do.
 *
 * @example A service and a caller on one broker
 * ```ts ignore
 * import { assertEquals } from "@std/assert";
 * import { connectMesh } from "@seed/rpc/amqp";
 *
 * const url = "amqp://guest:guest@127.0.0.1:5672/%2F";
 * const server = await connectMesh(url);
 * await server.serve("calc", { add: ({ a, b }) => a + b });
 * const client = await connectMesh(url);
 * assertEquals(await client.request("calc", "add", { a: 2, b: 3 }), 5);
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

import type { Handler } from "../protocol/peer/dispatch.ts";
import type { CallContext } from "../protocol/peer/context.ts";
import { RpcError, Unsupported } from "../protocol/wire/errors.ts";
import type { Interceptor } from "../protocol/peer/intercept.ts";
import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";
import type { Meta } from "../protocol/wire/message.ts";
import { Peer, type PeerStats, type StreamReader } from "../protocol/peer/peer.ts";
import {
  AUTHORIZATION_FAILED,
  DESCRIBE_METHOD,
  EVENT_METHOD,
  type NuropbMeta,
  uuidHex,
} from "../protocol/nuropb/nuropb.ts";
import { importNuropbPublicKey, type NuropbKeyPair } from "../protocol/nuropb/nuropb_encryption.ts";
import { CallerChannel, type OutgoingMeta } from "./amqp/_caller.ts";
import { BrokerConnection, redactUrl } from "./amqp/_connection.ts";
import {
  type DescribableSpecs,
  describeService,
  type ServiceDescription,
  topicMatches,
} from "./amqp/_describe.ts";
import { ServiceChannel } from "./amqp/_service.ts";
import { responseQueueName, type ServiceQueueType } from "./amqp/_topology.ts";

export * from "../protocol/nuropb/nuropb.ts";
export * from "../protocol/nuropb/nuropb_codec.ts";
export * from "../protocol/nuropb/nuropb_encryption.ts";
export * from "../protocol/nuropb/nuropb_stream.ts";
export {
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE,
  EVENTS_EXCHANGE,
  responseQueueName,
  RPC_EXCHANGE,
  serviceQueueName,
} from "./amqp/_topology.ts";
export { redactUrl, topicMatches };
export type { DescribableSpecs, MethodDescription, ServiceDescription } from "./amqp/_describe.ts";
export type { ServiceQueueType } from "./amqp/_topology.ts";

/**
 * Options for {@linkcode connectMesh}.
 */
export interface MeshOptions {
  /**
   * This instance's id: its response queue is
   * `nuropb-<name>-<instanceId>-rq`. Two live instances with the same name
   * and id collide (the broker refuses the second).
   *
   * @default {a new uuid4 in hex}
   */
  instanceId?: string;
  /**
   * The name in the response queue's name.
   *
   * @default {"<vhost>-client"}
   */
  name?: string;
  /**
   * Default timeout of a request, ms; 0 waits forever. A command or event
   * waits as long for the broker's confirm, then fails with `NotDelivered`
   * (a broker may leave a publish neither confirmed nor refused).
   *
   * @default {30_000}
   */
  timeout?: number;
  /**
   * Where warnings (lost connection, dead-lettered messages) go.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * The first pause before reconnecting, ms; it doubles (with jitter) up to
   * `maxDelay`. The same spelling as `ReconnectingChannel` and the mushroom client.
   *
   * @default {100}
   */
  minDelay?: number;
  /**
   * The longest pause between attempts to reconnect, ms.
   *
   * @default {5_000}
   */
  maxDelay?: number;
  /**
   * The first pause before reconnecting, ms.
   *
   * @deprecated Use `minDelay`; this name goes in the next release.
   */
  reconnectMin?: number;
  /**
   * The longest pause between attempts to reconnect, ms.
   *
   * @deprecated Use `maxDelay`; this name goes in the next release.
   */
  reconnectMax?: number;
  /** Interceptors around every request, command and event this mesh sends (an event as a `nuropb.event` notification). */
  interceptors?: readonly Interceptor[];
  /**
   * The largest AMQP frame this mesh reads, bytes: the connection asks the
   * broker for this frame_max and takes the broker's when smaller (RabbitMQ's
   * default is 131072), so that every frame the broker can deliver fits. A
   * larger frame (a broker configured above this) drops the connection,
   * which comes back; the message in it is refused.
   *
   * @default {1_048_576}
   */
  maxFrameBytes?: number;
  /**
   * A message whose AMQP properties (headers included) are larger, in bytes,
   * is refused unread: dead-lettered on a service queue, dropped on the
   * response queue, with one warning. nuropb's own are about 200 bytes.
   *
   * @default {8_192}
   */
  maxHeaderBytes?: number;
  /**
   * A message whose body is larger, in bytes, is refused before it is
   * buffered: a request is dead-lettered with a warning (never answered), a
   * reply fails its call with `FrameTooLarge` (-32001).
   *
   * @default {16_777_216}
   */
  maxMessageBytes?: number;
}

/**
 * Options of one request.
 */
export interface RequestOptions {
  /**
   * Fail with `CallTimeout` after this long, ms; 0 waits forever.
   *
   * @default {the ttl when given, else the mesh's `timeout`}
   */
  timeout?: number;
  /** Abort the call (it fails with the signal's reason). */
  signal?: AbortSignal;
  /**
   * How long the request may wait in the service's queue before the broker
   * drops it (dead-letters it), ms.
   *
   * @default {the timeout, or 3_600_000 without one}
   */
  ttl?: number;
  /** The context the service's handler sees (`ctx.meta.context`); nuropb's `context`. */
  context?: Record<string, unknown>;
  /** A trace id carried in the headers and the payload. */
  traceId?: string;
  /**
   * Called with each progress value the handler reports (`ctx.progress`).
   * Only services of this library report it: the service is asked first,
   * as for {@linkcode Mesh.stream}, and a Python service fails the call with
   * `Unsupported` before it is sent.
   */
  onProgress?: (value: unknown) => void;
  /**
   * Encrypt the request end to end with the service's public key (fetched
   * with `describe` once, then kept).
   *
   * @default {false}
   */
  encrypted?: boolean;
}

/**
 * Options of one stream call ({@linkcode Mesh.stream}).
 */
export interface MeshStreamOptions
  extends Omit<RequestOptions, "encrypted" | "ttl" | "onProgress"> {
  /**
   * Items the service may send before the reader takes them (the window);
   * more credit is granted as the reader takes half of it.
   *
   * @default {16}
   */
  credit?: number;
  /** Called with each progress value the handler reports (`ctx.progress`). */
  onProgress?: (value: unknown) => void;
  /**
   * How long the stream call may wait in the service's queue, ms.
   *
   * @default {the timeout, or 3_600_000 without one}
   */
  ttl?: number;
}

/**
 * Options of one command (no reply).
 */
export type CommandOptions = Omit<RequestOptions, "timeout" | "signal" | "onProgress">;

/**
 * Options of one event.
 */
export interface PublishOptions {
  /** The publisher's context. */
  context?: Record<string, unknown>;
  /** A trace id. */
  traceId?: string;
}

/**
 * What an event handler is told besides the event.
 */
export interface EventContext {
  /** The topic it was published under. */
  topic: string;
  /** nuropb's `target` (always `null` from nuropb 0.1.8). */
  target: unknown;
  /** The publisher's context. */
  context: unknown;
  /** The trace id, when there is one. */
  traceId: string | undefined;
}

/**
 * Handles one event.
 */
export type EventHandler = (event: unknown, ctx: EventContext) => unknown;

/**
 * Turns the token in a caller's context into claims, or throws (or returns
 * `undefined`) to refuse the call with `NuropbAuthorizationError`.
 */
export type Authorize = (token: string | undefined, ctx: CallContext) => unknown;

/**
 * Options for {@linkcode Mesh.serve}.
 */
export interface ServeOptions {
  /**
   * Deliveries this instance handles at once (AMQP prefetch).
   *
   * @default {16}
   */
  prefetch?: number;
  /**
   * Bytes of requests this instance holds at once, at most. RabbitMQ's
   * prefetch counts messages, not bytes, so a request may be at most
   * `maxInboxBytes / prefetch` bytes (4 MiB with the defaults; and never more
   * than the mesh's `maxMessageBytes`): a larger one is refused before it is
   * read, dead-lettered with a warning and never answered. Raise this, or
   * lower `prefetch`, to take larger requests.
   *
   * @default {67_108_864}
   */
  maxInboxBytes?: number;
  /** Event handlers by topic pattern, bound to the service queue (each event reaches one instance). */
  events?: Readonly<Record<string, EventHandler>>;
  /**
   * A contract (from `@seed/rpc/contract`): its schemas describe the methods
   * (`nuropb_describe`), and params and results are validated as on every
   * other wire (`Contract.handlers`): invalid params are answered with
   * `NuropbValidationError` (-32602, the path and reason in the
   * description), a result that breaks its schema is logged and answered as
   * a `NuropbException`. A plain `{ incoming }` object only describes.
   *
   * @default {undefined (nothing described or validated)}
   */
  contract?: {
    readonly incoming: DescribableSpecs;
    readonly name?: string;
    handlers?(impl: Readonly<Record<string, Handler>>): Record<string, Handler>;
  };
  /** What the service does (in its description). */
  description?: string;
  /**
   * The service's version (in its description).
   *
   * @default {""}
   */
  version?: string;
  /** Turns a caller's context token into claims on `ctx.meta.claims`; see {@linkcode Authorize}. */
  authorize?: Authorize;
  /**
   * The key in the caller's context that holds the token.
   *
   * @default {"Authorization"}
   */
  tokenKey?: string;
  /** The service's key pair: with it, encrypted requests are accepted and its public key is described. */
  keys?: NuropbKeyPair;
  /** Methods that refuse plain (unencrypted) calls. */
  encryptedMethods?: readonly string[];
  /**
   * Answers remembered, so that a request delivered again is answered
   * without running its handler again. Calls refused before a handler ran
   * (unknown method, invalid params, unauthorised) are not remembered.
   *
   * @default {10_000}
   */
  rememberAnswers?: number;
  /**
   * Bytes of remembered answer bodies, at most; the oldest bodies are
   * dropped first (their correlation ids stay: a copy of such a request is
   * answered with a `NuropbException`, and its handler does not run again).
   *
   * @default {16_777_216}
   */
  rememberAnswerBytes?: number;
  /** Interceptors around every call the service handles. */
  interceptors?: readonly Interceptor[];
  /**
   * The service queue's kind. `"classic"` is nuropb's declaration, byte for
   * byte. `"quorum"` adds `x-queue-type: quorum`: the queue and its messages
   * are replicated to the cluster's nodes and written to disk, so the loss of
   * a node (fewer than half of them) loses no request or command. Every
   * instance of the service, and a Python nuropb one too, must declare the
   * queue the same way: a declaration with other arguments is refused by the
   * broker (406 PRECONDITION_FAILED), and an existing queue's kind never
   * changes (delete it first, or use another vhost).
   *
   * @default {"classic"}
   */
  queueType?: ServiceQueueType;
  /**
   * Record handler latency in `stats()`.
   *
   * @default {false}
   */
  latency?: boolean;
}

/**
 * Counters of a mesh, for monitoring and tests.
 */
export interface MeshStats {
  /** Times the connection was made again after it was lost. */
  reconnects: number;
  /** Requests waiting for their reply. */
  pendingCalls: number;
  /** Replies to calls that had already timed out or been aborted (dropped). */
  lateReplies: number;
  /** Second replies to a call already answered (dropped; nuropb sends two per failure). */
  duplicateReplies: number;
  /** Replies to calls this mesh never made (dropped). */
  unknownReplies: number;
  /** Replies dropped unread or undecodable (too large, not nuropb, not decryptable; each logged). */
  droppedReplies: number;
  /** Requests published again after a lost connection. */
  republished: number;
  /** Requests and commands no queue took just after a reconnect, sent again (see `connectMesh`). */
  rerouted: number;
  /** Encryption keys held for calls in flight (requests and services). */
  keysHeld: number;
  /** Per service served. */
  services: Record<string, ServiceStats>;
}

/**
 * Counters of one served service.
 */
export interface ServiceStats {
  /** Deliveries dead-lettered because they could not be read (each logged). */
  deadLettered: number;
  /** Copies of a request answered again without running the handler. */
  answeredFromMemory: number;
  /** Messages received that could be read (those dead-lettered are not counted). */
  handled: number;
  /** Handlers running now. */
  running: number;
  /** Bytes of requests received and not yet settled (at most `maxInboxBytes`). */
  inboxBytes: number;
  /** The most `inboxBytes` has been. */
  peakInboxBytes: number;
  /** Bytes of answers remembered for copies (at most `rememberAnswerBytes`). */
  rememberedBytes: number;
}

/**
 * One service served by a mesh.
 *
 * @example Stop serving
 * ```ts ignore
 * import { connectMesh } from "@seed/rpc/amqp";
 * const mesh = await connectMesh("amqp://guest:guest@127.0.0.1:5672/%2F");
 * const service = await mesh.serve("calc", { add: ({ a, b }) => a + b });
 * await service.close();
 * await mesh.close();
 * ```
 */
export class MeshService {
  /** The service's name. */
  readonly name: string;
  /** The peer that dispatches its calls. */
  readonly peer: Peer;
  #channel: ServiceChannel;
  #connection: BrokerConnection;

  /** Made by {@linkcode Mesh.serve}. */
  constructor(name: string, peer: Peer, channel: ServiceChannel, connection: BrokerConnection) {
    this.name = name;
    this.peer = peer;
    this.#channel = channel;
    this.#connection = connection;
  }

  /** Binds one more event pattern to the service queue. */
  bind(pattern: string): Promise<void> {
    return this.#channel.bind(pattern);
  }

  /** Its counters. */
  stats(): ServiceStats {
    const peer: PeerStats = this.peer.stats();
    return {
      deadLettered: this.#channel.deadLettered,
      answeredFromMemory: this.#channel.answeredFromMemory,
      handled: peer.messagesReceived - peer.invalidMessages,
      running: peer.runningHandlers,
      inboxBytes: this.#channel.inboxBytes,
      peakInboxBytes: this.#channel.peakInboxBytes,
      rememberedBytes: this.#channel.rememberedBytes,
    };
  }

  /** Encryption keys held for requests being handled. */
  get keysHeld(): number {
    return this.#channel.keysHeld;
  }

  /**
   * Stops consuming: deliveries not yet handled go back to the queue for
   * other instances; handlers running are waited for up to `timeout` ms.
   */
  async close(timeout = 5_000): Promise<void> {
    this.#connection.remove(this.#channel);
    await this.peer.drain(timeout);
    await this.peer.close();
  }
}

/**
 * A subscription to events (see {@linkcode Mesh.subscribe}).
 *
 * @example Unsubscribe
 * ```ts ignore
 * import { connectMesh } from "@seed/rpc/amqp";
 * const mesh = await connectMesh("amqp://guest:guest@127.0.0.1:5672/%2F");
 * const subscription = await mesh.subscribe("orders.#", () => {});
 * subscription.cancel();
 * await mesh.close();
 * ```
 */
export interface Subscription {
  /** The topic pattern. */
  readonly pattern: string;
  /** Stops calling the handler (the binding stays until the mesh closes). */
  cancel(): void;
}

function eventRouter(
  routes: Array<[string, EventHandler]>,
): Handler {
  return async (
    params: { topic: string; event: unknown; target: unknown; context: unknown },
    ctx,
  ) => {
    const event: EventContext = {
      topic: params.topic,
      target: params.target,
      context: params.context,
      traceId: ctx.meta.traceId,
    };
    for (const [pattern, handler] of routes) {
      if (topicMatches(pattern, params.topic)) await handler(params.event, event);
    }
  };
}

/** A request's options when none are given (read only: no object per request). */
const NO_OPTIONS: RequestOptions = Object.freeze({});

/**
 * A connection to a nuropb mesh (a RabbitMQ vhost) for calling, serving,
 * publishing and subscribing. Made by {@linkcode connectMesh}.
 *
 * @example Call a service
 * ```ts ignore
 * import { assertEquals } from "@std/assert";
 * import { connectMesh } from "@seed/rpc/amqp";
 * const mesh = await connectMesh("amqp://guest:guest@127.0.0.1:5672/%2F");
 * assertEquals(await mesh.request("calc", "add", { a: 1, b: 2 }), 3);
 * await mesh.close();
 * ```
 */
export class Mesh {
  /** This instance's id (in its response queue's name). */
  readonly instanceId: string;
  /** The vhost: nuropb's mesh name. */
  readonly vhost: string;
  /** Where replies to this mesh's requests go. */
  readonly responseQueue: string;
  #connection: BrokerConnection;
  #caller: CallerChannel;
  #peer: Peer;
  #logger: Logger;
  #timeout: number;
  #services = new Map<string, MeshService>();
  #descriptions = new Map<string, Promise<ServiceDescription>>();
  #publicKeys = new Map<string, Promise<CryptoKey>>();
  /** Whether each service asked is ours and carries streams (asked once). */
  #streaming = new Map<string, Promise<boolean>>();
  #subscriber: ServiceChannel | undefined;
  #subscriberPeer: Peer | undefined;
  #routes: Array<[string, EventHandler]> = [];
  #closing: Promise<void> | undefined;

  /** Prefer {@linkcode connectMesh}. */
  constructor(connection: BrokerConnection, options: MeshOptions = {}) {
    this.#connection = connection;
    this.vhost = connection.vhost;
    this.instanceId = options.instanceId ?? uuidHex();
    this.#logger = options.logger ?? consoleLogger;
    this.#timeout = options.timeout ?? 30_000;
    this.responseQueue = responseQueueName(options.name ?? `${this.vhost}-client`, this.instanceId);
    this.#caller = new CallerChannel(
      connection,
      this.responseQueue,
      this.#logger,
      "nuropb caller",
      this.#timeout,
    );
    this.#peer = new Peer(this.#caller, {
      name: "nuropb caller",
      ids: uuidHex,
      timeout: 0,
      logger: this.#logger,
      interceptors: options.interceptors,
      maxPendingCalls: Infinity,
    });
  }

  /** @internal Attaches the caller once the connection is up. */
  async start(): Promise<void> {
    await this.#connection.add(this.#caller);
  }

  /** Whether the broker connection is up now. */
  get connected(): boolean {
    return this.#connection.connected;
  }

  /** The URL (password hidden) of the broker connected to now, or tried next: one of those given. */
  get broker(): string {
    return redactUrl(this.#connection.url);
  }

  /**
   * Serves `handlers` as the service `name`. Resolves once its queue is
   * declared and consumed; rejects when the broker refuses (e.g. a queue of
   * that name declared with other arguments: 406).
   *
   * Handlers get nuropb's `params` object and a context whose `meta` holds
   * the caller's `context`, `traceId` and, with `authorize`, `claims`.
   * `nuropb_describe` is answered from the handlers (and `contract`).
   */
  async serve(
    name: string,
    handlers: Readonly<Record<string, Handler>>,
    options: ServeOptions = {},
  ): Promise<MeshService> {
    if (this.#services.has(name)) throw new TypeError(`This mesh already serves '${name}'`);
    // The validating handlers of the contract, on the one dispatch path.
    const validated = options.contract?.handlers?.(handlers);
    if (validated !== undefined) handlers = { ...handlers, ...validated };
    const keys = options.keys;
    const publicKey = keys === undefined ? null : await keys.publicKeyPem();
    const methods = Object.keys(handlers);
    const description = describeService(name, methods, {
      specs: options.contract?.incoming,
      description: options.description,
      version: options.version,
      encryptedMethods: options.encryptedMethods,
      publicKey,
    });
    const events = Object.entries(options.events ?? {});
    const channel = new ServiceChannel(this.#connection, {
      service: name,
      prefetch: options.prefetch ?? 16,
      eventBindings: events.map(([pattern]) => pattern),
      keys,
      logger: this.#logger,
      rememberAnswers: options.rememberAnswers ?? 10_000,
      rememberAnswerBytes: options.rememberAnswerBytes ?? 16_777_216,
      maxInboxBytes: options.maxInboxBytes ?? 67_108_864,
      queueType: options.queueType,
    });
    const interceptors = [...(options.interceptors ?? [])];
    const guard = accessGuard(options);
    if (guard !== undefined) interceptors.unshift(guard);
    const peer = new Peer(channel, {
      name: `nuropb service ${name}`,
      handlers: {
        ...handlers,
        // Our callers ask what else we carry; a Python caller never does, and gets nuropb's.
        [DESCRIBE_METHOD]: (_params, ctx) =>
          (ctx.meta as NuropbMeta).probe === "streams"
            ? { ...description, seed_rpc: { streams: true } }
            : description,
        [EVENT_METHOD]: eventRouter(events),
      },
      logger: this.#logger,
      interceptors,
      latency: options.latency,
      timeout: 0,
    });
    try {
      await this.#connection.add(channel);
    } catch (error) {
      await peer.close();
      throw error;
    }
    const service = new MeshService(name, peer, channel, this.#connection);
    this.#services.set(name, service);
    peer.closed.then(() => {
      if (this.#services.get(name) === service) this.#services.delete(name);
    });
    return service;
  }

  /**
   * Calls `method` of `service` and resolves with its result. Rejects with
   * `RemoteError` (its `data` is nuropb's `{error, description}`),
   * `NotDelivered` when no queue takes the request (no such service: the
   * broker returns it at once), `CallTimeout`, or the signal's reason.
   */
  request<T = unknown>(
    service: string,
    method: string,
    params: Record<string, unknown> = {},
    options: RequestOptions = NO_OPTIONS,
  ): Promise<T> {
    if (method === EVENT_METHOD) return Promise.reject(eventMethodError());
    const timeout = options.timeout ?? options.ttl ?? this.#timeout;
    const meta: OutgoingMeta & Meta = {
      context: options.context ?? {},
      ttl: options.ttl ?? (timeout > 0 ? timeout : 3_600_000),
    };
    if (options.traceId !== undefined) meta.traceId = options.traceId;
    if (options.encrypted || options.onProgress !== undefined) {
      return this.#requestAfterChecks(service, method, params, options, timeout, meta);
    }
    // The common case: the peer's own promise, no async step of ours in between.
    return this.#peer.call(method, params, {
      to: service,
      timeout,
      signal: options.signal,
      meta,
    }) as Promise<T>;
  }

  /** `request` for a sealed call (the service's key first) or one with progress (asks if it streams). */
  async #requestAfterChecks<T>(
    service: string,
    method: string,
    params: Record<string, unknown>,
    options: RequestOptions,
    timeout: number,
    meta: OutgoingMeta & Meta,
  ): Promise<T> {
    if (options.encrypted) meta.sealFor = await this.#publicKeyOf(service);
    if (options.onProgress !== undefined && !await this.#streams(service, options.signal)) {
      throw this.#unsupported("progress", service);
    }
    return await this.#peer.call(method, params, {
      to: service,
      timeout,
      signal: options.signal,
      meta,
      onProgress: options.onProgress,
    }) as T;
  }

  /**
   * Calls stream method `method` of `service` and yields its items as they
   * come, under credit: a slow reader pauses the handler. Leaving the loop
   * (`break`) or aborting `signal` cancels the handler (its `finally` runs).
   * The first `next()` asks the service once (a `nuropb_describe` with a
   * `seed_rpc` header, kept per service) whether it is one of ours: a Python
   * nuropb service is never sent the stream call, and the first `next()`
   * rejects with {@linkcode Unsupported}. The iteration ends with the
   * handler's return value, or throws its error (`RemoteError`),
   * `ConnectionClosed` when the instance holding the stream (or the broker
   * connection) is gone, `NotDelivered` when no queue takes the call.
   *
   * @example Read a stream
   * ```ts ignore
   * import { assertEquals } from "@std/assert";
   * import { connectMesh } from "@seed/rpc/amqp";
   * const mesh = await connectMesh("amqp://guest:guest@127.0.0.1:5672/%2F");
   * const ticks: number[] = [];
   * for await (const n of mesh.stream<number>("clock", "ticks", { count: 3 })) ticks.push(n);
   * assertEquals(ticks, [1, 2, 3]);
   * await mesh.close();
   * ```
   */
  stream<T = unknown>(
    service: string,
    method: string,
    params: Record<string, unknown> = {},
    options: MeshStreamOptions = {},
  ): AsyncGenerator<T, unknown, undefined> {
    refuseEventMethod(method);
    return this.#stream<T>(service, method, params, options);
  }

  async *#stream<T>(
    service: string,
    method: string,
    params: Record<string, unknown>,
    options: MeshStreamOptions,
  ): AsyncGenerator<T, unknown, undefined> {
    if (!await this.#streams(service, options.signal)) throw this.#unsupported("streams", service);
    const timeout = options.timeout ?? this.#timeout;
    const meta: OutgoingMeta & Meta = {
      context: options.context ?? {},
      ttl: options.ttl ?? (timeout > 0 ? timeout : 3_600_000),
    };
    if (options.traceId !== undefined) meta.traceId = options.traceId;
    const reader: StreamReader<T> = this.#peer.stream<T>(method, params, {
      to: service,
      timeout,
      signal: options.signal,
      credit: options.credit,
      onProgress: options.onProgress,
      meta,
    });
    return yield* reader;
  }

  #unsupported(feature: string, service: string): Unsupported {
    return new Unsupported(
      feature,
      `nuropb service '${service}'`,
      "it did not answer our probe as a service of this library does (a Python nuropb service?)",
    );
  }

  /** Whether `service` is ours and carries streams: its description says so when asked. */
  #streams(service: string, signal: AbortSignal | undefined): Promise<boolean> {
    let known = this.#streaming.get(service);
    if (known === undefined) {
      const meta: OutgoingMeta & Meta = {
        context: {},
        ttl: 60_000,
        traceId: uuidHex(),
        probe: "streams",
      };
      known = this.#peer.call<{ seed_rpc?: { streams?: unknown } }>(DESCRIBE_METHOD, {}, {
        to: service,
        timeout: this.#timeout > 0 ? this.#timeout : 60_000,
        signal,
        meta,
      }).then((described) => described?.seed_rpc?.streams === true);
      this.#streaming.set(service, known);
      known.catch(() => this.#streaming.delete(service));
    }
    return known;
  }

  /**
   * Sends `method` of `service` as a command: no reply. Resolves once the
   * broker has the command in the service's queue (publisher confirms);
   * rejects with `NotDelivered` when no queue takes it, the broker refuses
   * it, or no confirm comes within the mesh's `timeout`.
   */
  async command(
    service: string,
    method: string,
    params: Record<string, unknown> = {},
    options: CommandOptions = {},
  ): Promise<void> {
    refuseEventMethod(method);
    const meta: OutgoingMeta & Meta = {
      context: options.context ?? {},
      ttl: options.ttl ?? 3_600_000,
    };
    if (options.traceId !== undefined) meta.traceId = options.traceId;
    if (options.encrypted) meta.sealFor = await this.#publicKeyOf(service);
    await this.#peer.notify(method, params, { to: service, meta });
  }

  /** Publishes an event under `topic`; resolves once the broker confirms it. */
  publish(topic: string, event: unknown, options: PublishOptions = {}): Promise<void> {
    const meta: OutgoingMeta & Meta = { context: options.context ?? {} };
    if (options.traceId !== undefined) meta.traceId = options.traceId;
    // The peer's notify path (interceptors see it); the channel routes it to the events exchange.
    return this.#peer.notify(EVENT_METHOD, { topic, event }, { to: topic, meta });
  }

  /**
   * Calls `handler` for every event whose topic matches `pattern`, through
   * this mesh's own queue (every subscribing mesh gets every event; for one
   * instance of a service to get each, use `ServeOptions.events`).
   */
  async subscribe(pattern: string, handler: EventHandler): Promise<Subscription> {
    const route: [string, EventHandler] = [pattern, handler];
    this.#routes.push(route);
    if (this.#subscriber === undefined) {
      const channel = new ServiceChannel(this.#connection, {
        service: `${this.responseQueue} events`,
        private: true,
        prefetch: 16,
        eventBindings: [pattern],
        keys: undefined,
        logger: this.#logger,
        rememberAnswers: 0,
        rememberAnswerBytes: 0,
        maxInboxBytes: 67_108_864,
      });
      this.#subscriber = channel;
      this.#subscriberPeer = new Peer(channel, {
        name: "nuropb subscriber",
        handlers: { [EVENT_METHOD]: eventRouter(this.#routes) },
        logger: this.#logger,
        timeout: 0,
      });
      await this.#connection.add(channel);
    } else {
      await this.#subscriber.bind(pattern);
    }
    return {
      pattern,
      cancel: () => {
        const index = this.#routes.indexOf(route);
        if (index >= 0) this.#routes.splice(index, 1);
      },
    };
  }

  /**
   * Asks `service` for its description (`nuropb_describe`, ttl 60 s) and
   * keeps it: its public key encrypts later requests with `encrypted: true`.
   */
  describe(
    service: string,
    options: { timeout?: number; refresh?: boolean } = {},
  ): Promise<ServiceDescription> {
    let described = options.refresh ? undefined : this.#descriptions.get(service);
    if (described === undefined) {
      described = this.request<ServiceDescription>(service, DESCRIBE_METHOD, {}, {
        ttl: 60_000,
        timeout: options.timeout ?? 60_000,
        traceId: uuidHex(),
      });
      this.#descriptions.set(service, described);
      described.catch(() => this.#descriptions.delete(service));
    }
    return described;
  }

  #publicKeyOf(service: string): Promise<CryptoKey> {
    let key = this.#publicKeys.get(service);
    if (key === undefined) {
      key = this.describe(service).then((described) => {
        if (typeof described?.public_key !== "string") {
          throw new TypeError(
            `Service '${service}' has no public key: it cannot take encrypted calls`,
          );
        }
        return importNuropbPublicKey(described.public_key);
      });
      this.#publicKeys.set(service, key);
      key.catch(() => this.#publicKeys.delete(service));
    }
    return key;
  }

  /** The mesh's counters. */
  stats(): MeshStats {
    const peer = this.#peer.stats();
    const services: Record<string, ServiceStats> = {};
    let keysHeld = this.#caller.keysHeld;
    for (const [name, service] of this.#services) {
      services[name] = service.stats();
      keysHeld += service.keysHeld;
    }
    return {
      reconnects: this.#connection.reconnects,
      pendingCalls: peer.pendingCalls,
      lateReplies: peer.lateReplies,
      duplicateReplies: this.#caller.duplicateReplies,
      unknownReplies: peer.unknownReplies,
      droppedReplies: this.#caller.droppedReplies,
      republished: this.#caller.republished,
      rerouted: this.#caller.rerouted,
      keysHeld,
      services,
    };
  }

  /**
   * Stops every service (running handlers are waited for up to `timeout`
   * ms), fails calls still waiting with `ConnectionClosed`, and closes the
   * connection.
   */
  close(timeout = 5_000): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#services.values()].map((service) => service.close(timeout)));
      await this.#subscriberPeer?.close();
      await this.#peer.close();
      await this.#connection.close();
    })();
    return this.#closing;
  }
}

/** The interceptor that enforces `authorize` and `encryptedMethods`, if any. */
function accessGuard(options: ServeOptions): Interceptor | undefined {
  const authorize = options.authorize;
  const encrypted = new Set(options.encryptedMethods ?? []);
  if (authorize === undefined && encrypted.size === 0) return undefined;
  const tokenKey = options.tokenKey ?? "Authorization";
  return async (call, next) => {
    const ctx = call.context;
    if (call.direction !== "incoming" || ctx === undefined) return await next();
    if (call.method === DESCRIBE_METHOD || call.method === EVENT_METHOD) return await next();
    const meta = ctx.meta as NuropbMeta;
    if (encrypted.has(call.method) && !meta.encrypted) {
      throw new RpcError(-32602, `${call.method} requires an encrypted call`, {
        error: "NuropbValidationError",
      });
    }
    if (authorize !== undefined) {
      const context = meta.context as Record<string, unknown> | undefined;
      const token = context?.[tokenKey];
      let claims: unknown;
      try {
        claims = await authorize(typeof token === "string" ? token : undefined, ctx);
      } catch (error) {
        throw new RpcError(
          AUTHORIZATION_FAILED,
          error instanceof Error ? error.message : String(error),
        );
      }
      if (claims === undefined || claims === null) {
        throw new RpcError(AUTHORIZATION_FAILED, "Unauthorized");
      }
      meta.claims = claims;
    }
    return await next();
  };
}

/**
 * Connects to the mesh at `url` (`amqp://user:password@host:port/vhost`;
 * the vhost is nuropb's mesh name) and declares the mesh's exchanges and this
 * instance's response queue. Rejects when the broker cannot be reached or
 * refuses; after that, lost connections are made again by themselves.
 *
 * Given several URLs (the nodes of one RabbitMQ cluster, the same vhost),
 * it connects to the first that answers and, when that connection is lost,
 * to the next one that does, with the same backoff, declaring everything
 * again there; it rejects only when none answers.
 *
 * @example Connect and describe a service
 * ```ts ignore
 * import { assertEquals } from "@std/assert";
 * import { connectMesh } from "@seed/rpc/amqp";
 * const mesh = await connectMesh("amqp://guest:guest@127.0.0.1:5672/seeds");
 * const described = await mesh.describe("calc");
 * assertEquals(described.service_name, "calc");
 * await mesh.close();
 * ```
 *
 * @example Any node of a cluster
 * ```ts ignore
 * import { connectMesh } from "@seed/rpc/amqp";
 * const mesh = await connectMesh([
 *   "amqp://guest:guest@rabbit1:5672/seeds",
 *   "amqp://guest:guest@rabbit2:5672/seeds",
 *   "amqp://guest:guest@rabbit3:5672/seeds",
 * ]);
 * await mesh.serve("calc", { add: ({ a, b }) => a + b }, { queueType: "quorum" });
 * ```
 */
export async function connectMesh(
  url: string | readonly string[],
  options: MeshOptions = {},
): Promise<Mesh> {
  const connection = new BrokerConnection(url, {
    logger: options.logger ?? consoleLogger,
    name: "nuropb mesh",
    minDelay: options.minDelay ?? options.reconnectMin ?? 100,
    maxDelay: options.maxDelay ?? options.reconnectMax ?? 5_000,
    maxFrameBytes: options.maxFrameBytes ?? 1_048_576,
    maxHeaderBytes: options.maxHeaderBytes ?? 8_192,
    maxMessageBytes: options.maxMessageBytes ?? 16_777_216,
  });
  const mesh = new Mesh(connection, options);
  try {
    await connection.start();
    await mesh.start();
  } catch (error) {
    await mesh.close();
    throw error;
  }
  return mesh;
}

/** `nuropb.event` names events, never a method: a request or command by that name is refused here. */
function refuseEventMethod(method: string): void {
  if (method === EVENT_METHOD) throw eventMethodError();
}

/** What calling the event method as a method is. */
function eventMethodError(): TypeError {
  return new TypeError(
    `${EVENT_METHOD} is not a method of any service: send events with publish()`,
  );
}
