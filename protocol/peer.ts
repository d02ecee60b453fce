/**
 * The {@linkcode Peer}: one class that calls and serves over any channel,
 * both directions at once.
 *
 * Where a byte goes: the transport yields a frame → the codec decodes it
 * ({@linkcode framed}) → the peer routes each message of the delivery:
 * replies to its own calls settle them (`outgoing.ts`), requests and
 * notifications reach their handlers (`dispatch.ts`) → the handler's result
 * becomes a reply → the codec encodes it → the transport sends it.
 *
 * @example Both directions over one connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: {
 *     // A handler may call back the peer that called it.
 *     greet: async ({ name }, ctx) => `hello ${name}, you are ${await ctx.peer.call("whoami")}`,
 *   },
 * });
 * const client = new Peer(b, { handlers: { whoami: () => "a client" } });
 * assertEquals(await client.call("greet", { name: "Ada" }), "hello Ada, you are a client");
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { BatchReplies } from "./batch.ts";
import type { Channel, Delivery } from "./channel.ts";
import type { Codec } from "./codec.ts";
import {
  CloseCode,
  CLOSED_REMOTELY,
  type CloseReason,
  closeReason,
  toCloseReason,
} from "./close.ts";
import type { Dialect } from "./dialect.ts";
import type { Handler, PeerHandle } from "./context.ts";
import { Dispatcher } from "./dispatch.ts";
import { ConnectionClosed, ErrorCode, RemoteError } from "./errors.ts";
import { framed } from "./framed.ts";
import { intercept, type Interceptor, type Invocation } from "./intercept.ts";
import { jsonRpc } from "./jsonrpc.ts";
import { KeepAlive } from "./keepalive.ts";
import { LatencyHistogram } from "./latency.ts";
import type { ConcurrencyLimit } from "./limit.ts";
import { consoleLogger, type Logger, rateLimitedLogger } from "./logger.ts";
import type { ErrorMessage, InvalidMessage, Message } from "./message.ts";
import {
  type CallOptions,
  type IdSource,
  type NotifyOptions,
  OutgoingCalls,
  timeoutOption,
} from "./outgoing.ts";
import type { PeerStats } from "./peer_stats.ts";
import type { Transport } from "./transport.ts";
import { startTimer } from "./_timer.ts";

export type { CallOptions, IdSource, NotifyOptions } from "./outgoing.ts";
export type { Handler, PeerHandle } from "./context.ts";
export type { PeerStats } from "./peer_stats.ts";

/**
 * Options for a {@linkcode Peer}.
 *
 * @example Peer options
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc, type PeerOptions, silentLogger } from "@seed/rpc";
 * const options: PeerOptions = {
 *   dialect: jsonRpc,
 *   timeout: 5_000,
 *   maxPendingCalls: 100,
 *   whenFull: "reject",
 *   logger: silentLogger,
 * };
 * assertEquals(options.timeout, 5_000);
 * ```
 */
export interface PeerOptions {
  /**
   * The dialect, when the peer is given a transport: its codec for `role`
   * is made for this connection. Ignored for a channel, which has its own.
   *
   * @default {the transport's `dialect`, else `jsonRpc`}
   */
  dialect?: Dialect;
  /**
   * Which side of the dialect this peer speaks, when given a transport
   * (simplerpc's two sides differ; JSON-RPC's do not).
   *
   * @default {"client"}
   */
  role?: "client" | "server";
  /** Handlers by method name (own enumerable keys only). */
  handlers?: Readonly<Record<string, Handler>>;
  /**
   * The handler for every method that has none of its own (`ctx.method`
   * names it): a proxy, a logger of every notification. Left out, such
   * calls are answered "Method not found" and such notifications dropped.
   *
   * @default {undefined}
   */
  fallback?: Handler;
  /**
   * Default call timeout in milliseconds; 0 waits forever.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Bound on our calls awaiting replies.
   *
   * @default {1024}
   */
  maxPendingCalls?: number;
  /**
   * At the bound: `"wait"` for room or `"reject"` with {@linkcode TooManyCalls}.
   *
   * @default {"wait"}
   */
  whenFull?: "wait" | "reject";
  /**
   * Bound on incoming calls being handled at once (each entry of a batch
   * counts, and so does a reply waiting to be sent, unless this peer awaits
   * replies of its own then: two peers calling each other must both keep
   * reading). At the bound the peer stops reading from the channel, which
   * slows the sender.
   *
   * @default {256}
   */
  maxConcurrentHandlers?: number;
  /**
   * Bound on the size of the incoming calls being handled at once, in
   * characters of their frames: many large calls to slow handlers pause
   * reading as many small ones do.
   *
   * @default {67108864}
   */
  maxConcurrentBytes?: number;
  /**
   * A bound on running handlers shared with other peers (a server passes
   * one to each of its connections: `maxRunningHandlers`). The peer takes a
   * slot only while it holds fewer than are free (its fair share).
   */
  limit?: ConcurrencyLimit;
  /**
   * How our call ids are made: `"counter"` (1, 2, 3...), `"uuid"` (32 hex
   * digits, for channels shared by many callers), or a function.
   *
   * @default {"counter"}
   */
  ids?: IdSource;
  /**
   * Milliseconds of silence after which the peer pings the other side
   * (`rpc.ping`); no answer within as long again closes the channel
   * (`CloseCode.Unresponsive`). Any answer counts, even "Method not found",
   * so it works against any server of the dialect. 0: never.
   *
   * @default {0}
   */
  keepAlive?: number;
  /**
   * Functions around every call this peer serves and makes (auth, logging,
   * metrics); the first is the outermost. See {@linkcode Interceptor}.
   *
   * @default {[]}
   */
  interceptors?: readonly Interceptor[];
  /**
   * Measure how long our calls take to be answered and our handlers take to
   * finish, for {@linkcode Peer.stats} (`callLatency`, `handlerLatency`).
   * Costs two clock reads a call.
   *
   * @default {false}
   */
  latency?: boolean;
  /**
   * What the peer answers to `rpc.discover`: a description of what it
   * serves, usually a contract's {@linkcode Contract.openrpc} document.
   * Left out, `rpc.discover` is "Method not found", like any unknown method.
   *
   * @default {undefined}
   */
  discover?: unknown;
  /**
   * Whether the message of an unexpected exception (anything a handler
   * throws that is not an {@linkcode RpcError}) reaches the caller. `false`
   * answers it with a bare -32603 "Internal error", so internal details
   * (paths, hosts, credentials in a driver's message) stay on this side; the
   * exception is logged with its stack either way.
   *
   * @default {true}
   */
  exposeErrors?: boolean;
  /**
   * Where malformed input, failed notifications and dropped replies are
   * logged (at most 20 warnings and errors a second per peer; then a count
   * of the dropped ones).
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * A name for log lines.
   *
   * @default {the channel's `remote`}
   */
  name?: string;
}

/**
 * Calls and serves remote procedures over one channel, both directions at
 * once.
 *
 * - `call` correlates replies by id, with a timeout (a default you can
 *   change, and per call), an `AbortSignal` that cancels the call and tells
 *   the remote side, and a bound on calls in flight.
 * - Incoming requests reach handlers registered by name; only own,
 *   registered names dispatch, so `__proto__` or `constructor` are never
 *   callable. Names starting with `rpc.` are reserved by JSON-RPC.
 * - The peer closes when its channel closes, and only then: pending calls
 *   reject with {@linkcode ConnectionClosed} and every running handler's
 *   `ctx.signal` fires. A channel that outlives its transports (a session)
 *   keeps pending calls alive across reconnects.
 *
 * Give it a {@linkcode Transport} (it speaks the transport's dialect, or the
 * `dialect` option, JSON-RPC by default) or any {@linkcode Channel}.
 *
 * @example Timeouts, cancellation and typed errors
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { CallTimeout, memoryPair, Peer, RemoteError, RpcError } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: {
 *     never: (_params, ctx) =>
 *       new Promise((_resolve, reject) =>
 *         ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
 *       ),
 *     refuse: () => {
 *       throw new RpcError(-32000, "Refused", { why: "closed on Sundays" });
 *     },
 *   },
 * });
 * const client = new Peer(b, { timeout: 50 });
 * await assertRejects(() => client.call("never"), CallTimeout);
 * const error = await assertRejects(() => client.call("refuse"), RemoteError);
 * assertEquals([error.code, error.data], [-32000, { why: "closed on Sundays" }]);
 * await client.close();
 * await server.closed;
 * ```
 */
export class Peer implements PeerHandle {
  #channel: Channel;
  #logger: Logger;
  #name: string;
  #outgoing: OutgoingCalls;
  #dispatcher: Dispatcher;
  #received = 0;
  /** The last error the other side sent without an id, and `#received` then. */
  #lastWords: { error: RemoteError; at: number } | undefined;
  #closing = false;
  #closeReason: CloseReason | undefined;
  #closed: Promise<void>;
  #keepAlive: KeepAlive | undefined;
  #interceptors: readonly Interceptor[] | undefined;
  #callLatency: LatencyHistogram | undefined;
  #handlerLatency: LatencyHistogram | undefined;

  /**
   * Starts serving at once: messages are read from the next tick on, so
   * handlers registered right after construction see every call.
   *
   * @param connection A transport (framed with its dialect's codec) or a channel.
   * @param options Handlers, limits and logging.
   */
  constructor(connection: Transport<string> | Channel, options: PeerOptions = {}) {
    // One noisy connection must not flood the log.
    this.#logger = rateLimitedLogger(options.logger ?? consoleLogger);
    let channel: Channel;
    if (isChannel(connection)) {
      channel = connection;
    } else {
      const dialect = options.dialect ?? connection.dialect ?? jsonRpc;
      channel = framed(connection, codecFor(dialect, options.role ?? "client"), {
        logger: this.#logger,
        maxBatchReplyBytes: dialect.maxFrameBytes,
      });
    }
    this.#channel = channel;
    this.#name = options.name ?? channel.remote ?? "peer";
    const interceptors = options.interceptors;
    if (interceptors !== undefined && interceptors.length > 0) {
      if (!interceptors.every((f) => typeof f === "function")) {
        throw new TypeError("interceptors must be functions");
      }
      this.#interceptors = [...interceptors];
    }
    if (options.latency === true) {
      this.#callLatency = new LatencyHistogram();
      this.#handlerLatency = new LatencyHistogram();
    }
    this.#outgoing = new OutgoingCalls({
      channel,
      timeout: timeoutOption(options.timeout, 30_000),
      limit: limitOption(options.maxPendingCalls, 1024, "maxPendingCalls"),
      whenFull: options.whenFull ?? "wait",
      ids: options.ids ?? "counter",
      logger: this.#logger,
      name: this.#name,
      latency: this.#callLatency,
    });
    this.#dispatcher = new Dispatcher({
      peer: this,
      channel,
      outgoing: this.#outgoing,
      logger: this.#logger,
      name: this.#name,
      maxRunning: limitOption(options.maxConcurrentHandlers, 256, "maxConcurrentHandlers"),
      maxBytes: limitOption(options.maxConcurrentBytes, 64 * 1024 * 1024, "maxConcurrentBytes"),
      shared: options.limit,
      interceptors: this.#interceptors,
      latency: this.#handlerLatency,
      discover: options.discover,
      fallback: options.fallback,
      exposeErrors: options.exposeErrors ?? true,
    });
    if (options.handlers !== undefined) {
      for (const name of Object.keys(options.handlers)) this.handle(name, options.handlers[name]!);
    }
    const keepAlive = timeoutOption(options.keepAlive, 0);
    if (keepAlive > 0) {
      this.#keepAlive = new KeepAlive({
        received: () => this.#received,
        call: (method, params, callOptions) => this.#outgoing.call(method, params, callOptions),
        close: (reason) => this.close(reason),
        name: this.#name,
        logger: this.#logger,
      }, keepAlive);
    }
    const reading = this.#readLoop();
    this.#closed = Promise.all([reading, channel.closed]).then(() => {});
  }

  /** The channel the peer talks through. */
  get channel(): Channel {
    return this.#channel;
  }

  /** Resolves once the channel is closed and every message was routed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Whether the peer is closing or closed. */
  get isClosed(): boolean {
    return this.#closing;
  }

  /** Why the peer closed (`undefined` while open). */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /**
   * A snapshot of the peer's counters.
   *
   * @example Counting messages
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { handlers: { ping: () => "pong" } });
   * const client = new Peer(b);
   * await client.call("ping");
   * assertEquals([client.stats().messagesSent, client.stats().messagesReceived], [1, 1]);
   * await client.close();
   * await server.closed;
   * ```
   */
  stats(): PeerStats {
    const stats: PeerStats = {
      pendingCalls: this.#outgoing.size,
      runningHandlers: this.#dispatcher.running,
      lateReplies: this.#outgoing.lateReplies,
      unknownReplies: this.#outgoing.unknownReplies,
      invalidMessages: this.#dispatcher.invalid,
      messagesReceived: this.#received,
      messagesSent: this.#outgoing.sent + this.#dispatcher.sent,
    };
    if (this.#callLatency !== undefined) {
      stats.callLatency = this.#callLatency.summary();
      stats.handlerLatency = this.#handlerLatency!.summary();
    }
    return stats;
  }

  /**
   * Registers (or replaces) the handler for `method`.
   *
   * @example Registering a handler
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a).handle("ping", () => "pong");
   * assertEquals(peer.handles("ping"), true);
   * await peer.close();
   * await b.closed;
   * ```
   */
  handle(method: string, handler: Handler): this {
    this.#dispatcher.handle(method, handler);
    return this;
  }

  /** Whether a handler is registered for `method`. */
  handles(method: string): boolean {
    return this.#dispatcher.handles(method);
  }

  /**
   * Calls `method` on the remote side and resolves with its result.
   *
   * Rejects with {@linkcode RemoteError} when the remote answers with an
   * error, {@linkcode CallTimeout} after the timeout, `signal.reason` when
   * the signal aborts, {@linkcode ConnectionClosed} when the channel closes
   * first, and {@linkcode TooManyCalls} at the bound when `whenFull` is
   * `"reject"`.
   *
   * @typeParam T The result type you expect (not checked; use a contract for that).
   * @example Calling a method
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { handlers: { subtract: ([x, y]) => x - y } });
   * const client = new Peer(b);
   * assertEquals(await client.call<number>("subtract", [42, 23], { timeout: 1000 }), 19);
   * await client.close();
   * await server.closed;
   * ```
   */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T> {
    if (this.#interceptors !== undefined) {
      return intercept(
        this.#interceptors,
        this.#invocation(method, params, options, false),
        this.#sendCall,
      ) as Promise<T>;
    }
    const result = this.#outgoing.call(method, params, options);
    // Its reply must be read even while a reply of ours waits on the wire.
    this.#dispatcher.wake();
    return result as Promise<T>;
  }

  /**
   * Sends a notification: no reply, no error from the remote side. Resolves
   * when the channel accepted it.
   *
   * @example Sending a notification
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const seen = Promise.withResolvers<unknown>();
   * const server = new Peer(a, { handlers: { log: (p) => seen.resolve(p) } });
   * const client = new Peer(b);
   * await client.notify("log", { line: "hi" });
   * assertEquals(await seen.promise, { line: "hi" });
   * await client.close();
   * await server.closed;
   * ```
   */
  notify(method: string, params?: unknown, options?: NotifyOptions): Promise<void> {
    if (this.#interceptors !== undefined) {
      return intercept(
        this.#interceptors,
        this.#invocation(method, params, options, true),
        this.#sendNotification,
      )
        .then(ignore);
    }
    return this.#outgoing.notify(method, params, options);
  }

  #invocation(
    method: string,
    params: unknown,
    options: CallOptions | NotifyOptions | undefined,
    notification: boolean,
  ): Invocation {
    return {
      direction: "outgoing",
      method,
      params,
      notification,
      peer: this,
      context: undefined,
      options,
    };
  }

  #sendCall = (call: Invocation): Promise<unknown> => {
    const result = this.#outgoing.call(call.method, call.params, call.options);
    this.#dispatcher.wake();
    return result;
  };

  #sendNotification = (call: Invocation): Promise<void> =>
    this.#outgoing.notify(call.method, call.params, call.options);

  /**
   * Closes the channel: pending calls reject with
   * {@linkcode ConnectionClosed}, running handlers see `ctx.signal` abort,
   * and their replies are dropped. Resolves when fully closed. The channel
   * may wait a little for what it was still sending (TCP's `closeTimeout`);
   * closing again stops that wait.
   *
   * @example Closing rejects pending calls
   * ```ts
   * import { assertRejects } from "@std/assert";
   * import { ConnectionClosed, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { handlers: { hang: () => new Promise(() => {}) } });
   * const client = new Peer(b);
   * const pending = client.call("hang");
   * await client.close("bye");
   * await assertRejects(() => pending, ConnectionClosed, "bye");
   * await server.closed;
   * ```
   */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.#closing) {
      // Closing again: the channel stops waiting for what it was still sending.
      this.#channel.close(reason ?? this.#closeReason).catch(ignore);
    } else {
      this.#shutdown(toCloseReason(reason));
    }
    return this.#closed;
  }

  /**
   * Resolves when no incoming call is being handled (at once if none is).
   *
   * @example Waiting until no handler runs
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const done: string[] = [];
   * const server = new Peer(a, {
   *   handlers: { work: () => new Promise((resolve) => setTimeout(() => resolve(done.push("work")), 10)) },
   * });
   * const client = new Peer(b);
   * await client.notify("work");
   * await client.call("rpc.ping"); // the notification's handler has started
   * await server.idle();
   * assertEquals(done, ["work"]);
   * await client.close();
   * await server.closed;
   * ```
   */
  idle(): Promise<void> {
    return this.#dispatcher.idle();
  }

  /**
   * Stops taking new calls: from now on requests are answered with
   * {@linkcode ErrorCode.ShuttingDown} (or given back to a channel that can
   * redeliver them) and notifications are dropped (and logged). Calls
   * already running go on. Resolves when they have finished or `timeout`
   * milliseconds passed, with whether they all finished. Our own outgoing
   * calls are not affected. A server calls it on shutdown before closing.
   *
   * @example Draining before closing
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a);
   * assertEquals(await peer.drain(1000), true);
   * await peer.close();
   * await b.closed;
   * ```
   */
  async drain(timeout = 5000): Promise<boolean> {
    this.#dispatcher.drain();
    if (!this.#dispatcher.busy) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) =>
      timer = startTimer(() => resolve(false), timeout)
    );
    try {
      return await Promise.race([this.idle().then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- incoming -------------------------------------------------------------

  async #readLoop(): Promise<void> {
    // Let the constructor finish before the first message is handled.
    await Promise.resolve();
    const channel = this.#channel;
    const incoming = channel.incoming[Symbol.asyncIterator]();
    const dispatcher = this.#dispatcher;
    try {
      while (!this.#closing) {
        // What has already arrived is handled without a promise each.
        let delivery = channel.take?.();
        if (delivery === undefined) {
          const next = await incoming.next();
          if (next.done) break;
          delivery = next.value;
        }
        // At a bound, wait before starting more work; a reply needs no
        // room (and a handler may be waiting for it).
        // (Checked again after each wait: other peers may share the bound.)
        while (dispatcher.full && needsRoom(delivery) && !this.#closing) {
          await dispatcher.room();
        }
        if (this.#closing) break;
        const routing = this.#receive(delivery);
        if (routing !== undefined) await routing;
      }
    } catch (error) {
      if (!this.#closing) this.#logger.warn(`${this.#name}: the channel failed`, error);
    }
    this.#shutdown(channel.closeReason ?? CLOSED_REMOTELY);
  }

  /**
   * Routes every message of one delivery; a promise when a batch has to wait
   * for room between its entries.
   */
  #receive(delivery: Delivery): Promise<void> | undefined {
    const message = delivery.message;
    if (!Array.isArray(message)) {
      this.#route(message as Message, delivery, undefined);
      return undefined;
    }
    const messages = message as readonly Message[];
    // Nothing to handle: a blank line, a header frame, a reply consumed by the codec.
    if (messages.length === 0) {
      delivery.settle?.("ok");
      return undefined;
    }
    return this.#routeBatch(delivery, messages);
  }

  /** A batch's entries take a handler slot each, like single calls. */
  async #routeBatch(delivery: Delivery, messages: readonly Message[]): Promise<void> {
    const dispatcher = this.#dispatcher;
    const batch = dispatcher.openBatch(delivery, messages.length);
    for (; batch.index < messages.length && !this.#closing; batch.index++) {
      while (dispatcher.full && !this.#closing) await dispatcher.room();
      batch.begin();
      this.#route(messages[batch.index]!, delivery, batch);
    }
    dispatcher.sealBatch(batch);
  }

  #route(
    message: Message,
    delivery: Delivery,
    batch: BatchReplies | undefined,
  ): void {
    this.#received++;
    const dispatcher = this.#dispatcher;
    switch (message.kind) {
      case "request":
        dispatcher.request(message, delivery, batch);
        return;
      case "notification":
        dispatcher.notification(message, delivery, batch);
        return;
      case "result":
      case "error":
        if (message.id === null && message.kind === "error") this.#heard(message);
        this.#outgoing.settle(message);
        dispatcher.done(delivery, batch, "ok");
        return;
      case "cancel":
        dispatcher.cancel(message, delivery, batch);
        return;
      case "lost":
        this.#outgoing.lose(message.id, new ConnectionClosed(message.reason));
        dispatcher.done(delivery, batch, "ok");
        return;
      case "invalid":
        if (this.#received === 1 && this.#outgoing.size > 0 && unreadable(message)) {
          // We spoke first, and the first thing back is unreadable: the other
          // side speaks another dialect. Answering would only add noise (and
          // could start an exchange of errors); waiting would only time out.
          this.#wrongDialect(message.excerpt);
          dispatcher.done(delivery, batch, "failed");
          return;
        }
        dispatcher.invalidMessage(message, delivery, batch);
        return;
    }
  }

  // ---- closing --------------------------------------------------------------

  #wrongDialect(excerpt: string | undefined): void {
    const codec = (this.#channel as { codec?: { name?: unknown } }).codec;
    const dialect = typeof codec?.name === "string" ? codec.name : "this dialect";
    const said = excerpt === undefined ? "" : `: it answered '${visible(excerpt)}'`;
    const message = `the other side does not speak ${dialect}${said}`;
    this.#logger.warn(`${this.#name}: ${message}; closing`);
    this.#shutdown(closeReason(CloseCode.WrongDialect, message));
  }

  /** An error with no id: the other side may be about to close because of it. */
  #heard(message: ErrorMessage): void {
    this.#lastWords = { error: new RemoteError(message.error), at: this.#received };
  }

  #shutdown(reason: CloseReason): void {
    if (this.#closing) return;
    this.#closing = true;
    let cause: RemoteError | undefined;
    const last = this.#lastWords;
    if (
      last !== undefined && last.at === this.#received &&
      (reason.code === CloseCode.Remote || reason.code === CloseCode.Failed)
    ) {
      // The other side closed right after an error that named no call (its
      // -32001 for a frame over its limit, say): that error is why.
      cause = last.error;
      reason = cause.code === ErrorCode.FrameTooLarge
        ? closeReason(
          CloseCode.FrameTooLarge,
          `the other side refused a frame as too large (${cause.data ?? cause.message})`,
        )
        : closeReason(reason.code, `${reason.message}, after the error '${cause.message}'`);
    }
    this.#closeReason = reason;
    const error = new ConnectionClosed(reason, cause === undefined ? undefined : { cause });
    this.#keepAlive?.stop();
    this.#outgoing.close(error);
    this.#dispatcher.close(error);
    this.#channel.close(reason).catch(ignore);
  }
}

function ignore(): void {}

/** Whether an invalid message is input the dialect cannot read (not a frame over a limit). */
function unreadable(message: InvalidMessage): boolean {
  const code = message.error.code;
  return code !== ErrorCode.FrameTooLarge && code !== ErrorCode.InternalError;
}

/** `text` with control characters escaped, for a one-line message. */
function visible(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Whether a delivery starts work (a request, a notification, a batch). */
function needsRoom(delivery: Delivery): boolean {
  const message = delivery.message;
  if (Array.isArray(message)) return true;
  const kind = (message as Message).kind;
  return kind === "request" || kind === "notification" || kind === "invalid";
}

function isChannel(connection: Transport<string> | Channel): connection is Channel {
  return "incoming" in connection;
}

function codecFor(dialect: Dialect, role: "client" | "server"): Codec<string> {
  return role === "server" ? dialect.server() : dialect.client();
}

/** A bound option: undefined → fallback; otherwise a whole number ≥ 1 or Infinity. */
function limitOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (value !== Infinity && !(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}
