/**
 * The {@linkcode Peer}: one class that calls and serves over any channel,
 * both directions at once.
 *
 * Where a byte goes: the transport yields a frame → the codec decodes it
 * (`framed.ts`) → the peer's receiver routes each message of the
 * delivery (`receiver.ts`): replies to its own calls settle them
 * (`outgoing.ts`), requests and notifications reach their handlers
 * (`dispatch.ts`) → the handler's result becomes a reply → the codec encodes
 * it → the transport sends it. This file wires those parts together; its
 * options are read in `peer_options.ts`, and why it closed is told in
 * `peer_close.ts`.
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

import type { Channel } from "../wire/channel.ts";
import { type CloseReason, toCloseReason } from "../wire/close.ts";
import type { Handler, PeerHandle } from "./context.ts";
import { Dispatcher } from "./dispatch.ts";
import { ConnectionClosed, Unsupported } from "../wire/errors.ts";
import {
  intercept,
  type Interceptor,
  type Invocation,
  outgoingInvocation,
  sendOptions,
} from "./intercept.ts";
import { KeepAlive } from "./keepalive.ts";
import { LatencyHistogram } from "./latency.ts";
import { consoleLogger, type Logger, rateLimitedLogger } from "../shared/logger.ts";
import {
  type CallOptions,
  type NotifyOptions,
  OutgoingCalls,
  type StreamOptions,
  timeoutOption,
} from "./outgoing.ts";
import { explainClose } from "./peer_close.ts";
import { interceptorsOption, limitOption, peerChannel, type PeerOptions } from "./peer_options.ts";
import type { PeerStats } from "./peer_stats.ts";
import { Receiver } from "./receiver.ts";
import type { StreamReader } from "../stream/consumer.ts";
import type { Transport } from "../wire/transport.ts";
import { withTimeout } from "../shared/_with_timeout.ts";

export type { CallOptions, IdSource, NotifyOptions, StreamOptions } from "./outgoing.ts";
export type { Handler, PeerHandle } from "./context.ts";
export type { PeerOptions } from "./peer_options.ts";
export type { PeerStats } from "./peer_stats.ts";
export type { StreamReader } from "../stream/consumer.ts";

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
  #receiver: Receiver;
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
    const channel = peerChannel(connection, options, this.#logger);
    this.#channel = channel;
    this.#name = options.name ?? channel.remote ?? "peer";
    this.#interceptors = interceptorsOption(options.interceptors);
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
    this.#receiver = new Receiver(channel, this.#dispatcher, this.#outgoing, {
      shutdown: (reason) => this.#shutdown(reason),
      logger: this.#logger,
      name: this.#name,
    });
    if (options.handlers !== undefined) {
      for (const name of Object.keys(options.handlers)) this.handle(name, options.handlers[name]!);
    }
    const keepAlive = timeoutOption(options.keepAlive, 0);
    if (keepAlive > 0) {
      this.#keepAlive = new KeepAlive({
        received: () => this.#receiver.received,
        call: (method, params, callOptions) => this.#outgoing.call(method, params, callOptions),
        close: (reason) => this.close(reason),
        name: this.#name,
        logger: this.#logger,
      }, keepAlive);
    }
    const reading = this.#receiver.run();
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
      messagesReceived: this.#receiver.received,
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
   * const server = new Peer(a).handle("ping", () => "pong");
   * const client = new Peer(b);
   * assertEquals(await client.call("ping"), "pong");
   * await client.close();
   * await server.closed;
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
    if (options?.onProgress !== undefined && this.#channel.features?.streams !== true) {
      return Promise.reject(
        new Unsupported("progress", wireName(this.#channel), this.#channel.features?.hint),
      );
    }
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
   * Calls stream method `method` on the remote side and returns its items
   * as an async iterator, as they come. The call starts at once. The
   * handler's items wait for the reader: at most `credit` are sent before it
   * takes them. Leaving the loop (`break`, `return()`) or aborting `signal`
   * cancels the call (the handler's iterator is returned and its
   * `ctx.signal` aborts). The iteration ends with the handler's return
   * value, or throws its error ({@linkcode RemoteError}),
   * {@linkcode ConnectionClosed}, or {@linkcode CallTimeout} when nothing
   * came within `timeout` (an open stream is never timed out). It counts as
   * a call in flight until it ends.
   *
   * Throws {@linkcode Unsupported} at once when the wire cannot carry
   * streams (only JSON-RPC can, so far).
   *
   * @typeParam T The item type you expect (not checked).
   * @example Reading a stream
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, {
   *   handlers: {
   *     async *count({ to }: { to: number }) {
   *       for (let i = 1; i <= to; i++) yield i;
   *       return "done";
   *     },
   *   },
   * });
   * const client = new Peer(b);
   * const items: number[] = [];
   * for await (const n of client.stream<number>("count", { to: 3 })) items.push(n);
   * assertEquals(items, [1, 2, 3]);
   * await client.close();
   * await server.closed;
   * ```
   */
  stream<T = unknown>(
    method: string,
    params?: unknown,
    options?: StreamOptions,
  ): StreamReader<T> {
    if (this.#channel.features?.streams !== true) {
      throw new Unsupported("streams", wireName(this.#channel), this.#channel.features?.hint);
    }
    const consumer = this.#outgoing.consumer(method, options);
    // Leaving the reader cancels the call as the caller's signal would.
    const streamOptions: StreamOptions = { ...options, signal: consumer.signal };
    if (this.#interceptors === undefined) {
      consumer.follow(this.#outgoing.call(method, params, streamOptions, consumer));
    } else {
      // Interceptors see a stream call as a call; what `next()` resolves with is its end.
      const send = (call: Invocation) =>
        this.#outgoing.call(call.method, call.params, call.options, consumer);
      consumer.follow(
        intercept(this.#interceptors, this.#invocation(method, params, streamOptions, false), send),
      );
    }
    this.#dispatcher.wake();
    return consumer as StreamReader<T>;
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
    return outgoingInvocation(method, params, options, notification, this);
  }

  #sendCall = (call: Invocation): Promise<unknown> => {
    const result = this.#outgoing.call(call.method, call.params, sendOptions(call));
    this.#dispatcher.wake();
    return result;
  };

  #sendNotification = (call: Invocation): Promise<void> =>
    this.#outgoing.notify(call.method, call.params, sendOptions(call));

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
   * @example A draining peer refuses new calls
   * ```ts
   * import { assertEquals, assertRejects } from "@std/assert";
   * import { ErrorCode, memoryPair, Peer, RemoteError } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { handlers: { ping: () => "pong" } });
   * const client = new Peer(b);
   * assertEquals(await server.drain(1000), true); // nothing was running
   * const error = await assertRejects(() => client.call("ping"), RemoteError);
   * assertEquals(error.code, ErrorCode.ShuttingDown);
   * await client.close();
   * await server.closed;
   * ```
   */
  async drain(timeout = 5000): Promise<boolean> {
    this.#dispatcher.drain();
    if (!this.#dispatcher.busy) return true;
    return await withTimeout(this.idle().then(() => true), timeout, false);
  }

  #shutdown(reason: CloseReason): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#receiver.stop();
    const { reason: explained, cause } = explainClose(reason, this.#receiver.lastWords);
    this.#closeReason = explained;
    const error = new ConnectionClosed(explained, cause === undefined ? undefined : { cause });
    this.#keepAlive?.stop();
    this.#outgoing.close(error);
    this.#dispatcher.close(error);
    this.#channel.close(explained).catch(ignore);
  }
}

function ignore(): void {}

/** The wire's name for errors: a framed channel's codec, else the channel's class. */
function wireName(channel: Channel): string {
  return (channel as { codec?: { name?: string } }).codec?.name ?? channel.constructor.name;
}
