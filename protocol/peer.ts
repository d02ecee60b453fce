/**
 * The {@linkcode Peer}: one class that calls and serves over any transport.
 *
 * Where a byte goes: the transport yields a frame → {@linkcode Codec.decode}
 * makes messages → a request reaches its handler (`#serve`) → the handler's
 * return value becomes a result message → {@linkcode Codec.encode} makes a
 * frame → {@linkcode Transport.send}. Replies to our own calls settle the
 * pending call with the same id (`#settle`).
 *
 * @example Both directions over one connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   codec: jsonRpc,
 *   handlers: {
 *     // A handler may call back the peer that called it.
 *     greet: async ({ name }, ctx) => `hello ${name}, you are ${await ctx.peer.call("whoami")}`,
 *   },
 * });
 * const client = new Peer(b, { codec: jsonRpc, handlers: { whoami: () => "a client" } });
 * assertEquals(await client.call("greet", { name: "Ada" }), "hello Ada, you are a client");
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { Codec } from "./codec.ts";
import { type CallContext, InboundCall } from "./context.ts";
import {
  CallTimeout,
  ConnectionClosed,
  ErrorCode,
  FrameTooLarge,
  RemoteError,
  RpcError,
  TooManyCalls,
} from "./errors.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import type {
  ErrorMessage,
  ErrorObject,
  Id,
  Message,
  Meta,
  NotificationMessage,
  RequestMessage,
  ResultMessage,
} from "./message.ts";
import { OutgoingCall, OutgoingCalls } from "./outgoing.ts";
import type { Transport } from "../transports/transport.ts";

/**
 * A function that serves one method. It receives the params exactly as the
 * caller sent them (use a contract to validate and type them) and returns the
 * result, or a promise of it. Throw an {@linkcode RpcError} to choose the error
 * code; any other exception is answered with -32603 and its message.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Handler } from "@seed/rpc";
 * const add: Handler = ({ a, b }) => a + b;
 * assertEquals(add({ a: 1, b: 2 }, undefined as never), 3);
 * ```
 */
// deno-lint-ignore no-explicit-any
export type Handler = (params: any, ctx: CallContext) => unknown;

/**
 * Options for one call.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "@seed/rpc";
 * const options: CallOptions = { timeout: 500, signal: AbortSignal.timeout(1000) };
 * console.log(options.timeout);
 * ```
 */
export interface CallOptions {
  /** Milliseconds to wait for the reply; 0 waits forever. Default: the peer's. */
  timeout?: number;
  /** Cancels the call: it rejects with `signal.reason` and the remote is told. */
  signal?: AbortSignal;
  /** Metadata for dialects that carry it. */
  meta?: Meta;
}

/**
 * Options for one notification.
 *
 * @example
 * ```ts
 * import type { NotifyOptions } from "@seed/rpc";
 * const options: NotifyOptions = { meta: { traceId: "abc" } };
 * console.log(options.meta);
 * ```
 */
export interface NotifyOptions {
  /** Metadata for dialects that carry it. */
  meta?: Meta;
}

/**
 * Options for a {@linkcode Peer}.
 *
 * @example
 * ```ts
 * import { jsonRpc, silentLogger, type PeerOptions } from "@seed/rpc";
 * const options: PeerOptions<string> = {
 *   codec: jsonRpc,
 *   timeout: 5_000,
 *   maxPendingCalls: 100,
 *   whenFull: "reject",
 *   logger: silentLogger,
 * };
 * console.log(options.timeout);
 * ```
 */
export interface PeerOptions<F> {
  /** How frames become messages. */
  codec: Codec<F>;
  /** Handlers by method name (own enumerable keys only). */
  handlers?: Readonly<Record<string, Handler>>;
  /** Default call timeout in milliseconds; 0 waits forever. Default 30 000. */
  timeout?: number;
  /** Bound on our calls awaiting replies. Default 1024. */
  maxPendingCalls?: number;
  /** At the bound: `"wait"` for room (default) or `"reject"` with {@linkcode TooManyCalls}. */
  whenFull?: "wait" | "reject";
  /**
   * Bound on incoming calls being handled at once. At the bound the peer
   * stops reading from the transport, which slows the sender. Default 256.
   */
  maxConcurrentHandlers?: number;
  /** Where malformed input, failed notifications and dropped replies are logged. */
  logger?: Logger;
  /** A name for log lines (default: the transport's `remote`). */
  name?: string;
}

/**
 * Counters a peer keeps; read them with {@linkcode Peer.stats}.
 *
 * @example
 * ```ts
 * import type { PeerStats } from "@seed/rpc";
 * const empty: PeerStats = {
 *   pendingCalls: 0,
 *   runningHandlers: 0,
 *   lateReplies: 0,
 *   unknownReplies: 0,
 *   invalidMessages: 0,
 *   framesReceived: 0,
 *   framesSent: 0,
 * };
 * console.log(empty.lateReplies);
 * ```
 */
export interface PeerStats {
  /** Our calls awaiting a reply. */
  pendingCalls: number;
  /** Incoming calls being handled. */
  runningHandlers: number;
  /** Replies to calls that had already timed out or been cancelled (dropped). */
  lateReplies: number;
  /** Replies to ids this peer never used (dropped). */
  unknownReplies: number;
  /** Frames or batch entries that were not valid messages. */
  invalidMessages: number;
  /** Frames received. */
  framesReceived: number;
  /** Frames handed to the transport. */
  framesSent: number;
}

/**
 * Collects the replies to one incoming batch, to send them as one frame in
 * the order of the requests.
 */
class BatchReplies {
  /** One slot per batch entry; entries that need no reply stay empty. */
  readonly slots: (ResultMessage | ErrorMessage | undefined)[];
  /** The entry being dispatched. */
  index = 0;
  waiting = 0;
  sealed = false;

  constructor(size: number) {
    this.slots = new Array(size);
  }

  replies(): (ResultMessage | ErrorMessage)[] {
    return this.slots.filter((reply) => reply !== undefined);
  }
}

const NO_OPTIONS: CallOptions = Object.freeze({});

/**
 * Calls and serves remote procedures over one transport, both directions at
 * once.
 *
 * - `call` correlates replies by id, with a timeout (a default you can
 *   change, and per call), an `AbortSignal` that cancels the call and tells
 *   the remote side, and a bound on calls in flight.
 * - Incoming requests reach handlers registered by name; only own,
 *   registered names dispatch, so `__proto__` or `constructor` are never
 *   callable. Names starting with `rpc.` are reserved by JSON-RPC.
 * - `close()` rejects every pending call with {@linkcode ConnectionClosed}
 *   and fires every running handler's `ctx.signal`.
 *
 * @typeParam F The transport's frame type.
 *
 * @example Timeouts, cancellation and typed errors
 * ```ts
 * import { CallTimeout, jsonRpc, memoryPair, Peer, RemoteError, RpcError } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   codec: jsonRpc,
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
 * const client = new Peer(b, { codec: jsonRpc, timeout: 50 });
 *
 * try {
 *   await client.call("never");
 * } catch (error) {
 *   console.log(error instanceof CallTimeout); // true
 * }
 * try {
 *   await client.call("refuse");
 * } catch (error) {
 *   if (error instanceof RemoteError) console.log(error.code, error.data); // -32000 { why: ... }
 * }
 * await client.close();
 * await server.closed;
 * ```
 */
export class Peer<F = string> {
  #transport: Transport<F>;
  #codec: Codec<F>;
  #handlers = new Map<string, Handler>();
  #logger: Logger;
  #name: string;
  #timeout: number;
  #whenFull: "wait" | "reject";
  #maxRunning: number;
  #outgoing: OutgoingCalls;
  #inbound = new Map<Id, InboundCall>();
  #lastId = 0;
  #running = 0;
  #room: PromiseWithResolvers<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;
  #closing = false;
  #draining = false;
  #closeError: ConnectionClosed | undefined;
  #closed: Promise<void>;
  #lateReplies = 0;
  #unknownReplies = 0;
  #invalidMessages = 0;
  #framesReceived = 0;
  #framesSent = 0;

  /**
   * Starts serving at once: frames are read from `transport` from the next
   * tick on, so handlers registered right after construction see every call.
   *
   * @param transport The connection.
   * @param options The codec, handlers and limits.
   */
  constructor(transport: Transport<F>, options: PeerOptions<F>) {
    this.#transport = transport;
    this.#codec = options.codec;
    this.#logger = options.logger ?? consoleLogger;
    this.#name = options.name ?? transport.remote ?? "peer";
    this.#timeout = timeoutOption(options.timeout, 30_000);
    this.#whenFull = options.whenFull ?? "wait";
    this.#maxRunning = limitOption(options.maxConcurrentHandlers, 256, "maxConcurrentHandlers");
    this.#outgoing = new OutgoingCalls(
      limitOption(options.maxPendingCalls, 1024, "maxPendingCalls"),
      (call) => new CallTimeout(call.method, call.timeout),
      (call) => this.#sendCancel(call.id),
    );
    if (options.handlers !== undefined) {
      for (const name of Object.keys(options.handlers)) this.handle(name, options.handlers[name]!);
    }
    const reading = this.#readLoop();
    this.#closed = Promise.all([reading, transport.closed]).then(() => {});
  }

  /** Resolves once the connection is closed and every frame was processed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Whether the peer is closing or closed. */
  get isClosed(): boolean {
    return this.#closing;
  }

  /** Why the peer closed (`undefined` while open). */
  get closeReason(): string | undefined {
    return this.#closeError?.reason;
  }

  /** The codec in use. */
  get codec(): Codec<F> {
    return this.#codec;
  }

  /** The transport in use. */
  get transport(): Transport<F> {
    return this.#transport;
  }

  /**
   * A snapshot of the peer's counters.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a, { codec: jsonRpc });
   * assertEquals(peer.stats().pendingCalls, 0);
   * await peer.close();
   * await b.closed;
   * ```
   */
  stats(): PeerStats {
    return {
      pendingCalls: this.#outgoing.size,
      runningHandlers: this.#running,
      lateReplies: this.#lateReplies,
      unknownReplies: this.#unknownReplies,
      invalidMessages: this.#invalidMessages,
      framesReceived: this.#framesReceived,
      framesSent: this.#framesSent,
    };
  }

  /**
   * Registers (or replaces) the handler for `method`.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a, { codec: jsonRpc }).handle("ping", () => "pong");
   * assertEquals(peer.handles("ping"), true);
   * await peer.close();
   * await b.closed;
   * ```
   */
  handle(method: string, handler: Handler): this {
    if (typeof method !== "string" || method.length === 0) {
      throw new TypeError("A method name must be a non-empty string");
    }
    if (method.startsWith("rpc.")) {
      throw new TypeError(`'${method}': names starting with 'rpc.' are reserved by JSON-RPC`);
    }
    if (typeof handler !== "function") {
      throw new TypeError(`The handler for '${method}' must be a function`);
    }
    this.#handlers.set(method, handler);
    return this;
  }

  /** Whether a handler is registered for `method`. */
  handles(method: string): boolean {
    return this.#handlers.has(method);
  }

  /**
   * Calls `method` on the remote side and resolves with its result.
   *
   * Rejects with {@linkcode RemoteError} when the remote answers with an
   * error, {@linkcode CallTimeout} after the timeout, `signal.reason` when
   * the signal aborts, {@linkcode ConnectionClosed} when the connection ends
   * first, and {@linkcode TooManyCalls} at the bound when `whenFull` is
   * `"reject"`.
   *
   * @typeParam T The result type you expect (not checked; use a contract for that).
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { codec: jsonRpc, handlers: { subtract: ([x, y]) => x - y } });
   * const client = new Peer(b, { codec: jsonRpc });
   * assertEquals(await client.call<number>("subtract", [42, 23], { timeout: 1000 }), 19);
   * await client.close();
   * await server.closed;
   * ```
   */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T> {
    return this.#call(method, params, options ?? NO_OPTIONS) as Promise<T>;
  }

  /**
   * Sends a notification: no reply, no error from the remote side. Resolves
   * when the transport accepted it.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const seen = Promise.withResolvers<unknown>();
   * const server = new Peer(a, { codec: jsonRpc, handlers: { log: (p) => seen.resolve(p) } });
   * const client = new Peer(b, { codec: jsonRpc });
   * await client.notify("log", { line: "hi" });
   * assertEquals(await seen.promise, { line: "hi" });
   * await client.close();
   * await server.closed;
   * ```
   */
  notify(method: string, params?: unknown, options?: NotifyOptions): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closeError);
    const message: NotificationMessage = params === undefined
      ? { kind: "notification", method }
      : { kind: "notification", method, params };
    if (options?.meta !== undefined) message.meta = options.meta;
    let frame: F;
    try {
      frame = this.#encodeOutgoing(message);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#framesSent++;
    return this.#transport.send(frame);
  }

  /**
   * Closes the connection: pending calls reject with
   * {@linkcode ConnectionClosed}, running handlers see `ctx.signal` abort,
   * and their replies are dropped. Resolves when fully closed.
   *
   * @example
   * ```ts
   * import { ConnectionClosed, jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { codec: jsonRpc, handlers: { hang: () => new Promise(() => {}) } });
   * const client = new Peer(b, { codec: jsonRpc });
   * const pending = client.call("hang");
   * await client.close("bye");
   * await pending.catch((error) => console.log(error instanceof ConnectionClosed)); // true
   * await server.closed;
   * ```
   */
  close(reason = "closed locally"): Promise<void> {
    this.#shutdown(reason);
    return this.#closed;
  }

  /**
   * Resolves when no incoming call is being handled (at once if none is).
   * A server uses it to let calls finish before closing.
   *
   * @example
   * ```ts
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a, { codec: jsonRpc });
   * await peer.idle();
   * await peer.close();
   * await b.closed;
   * ```
   */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * Stops taking new calls: from now on requests are answered with
   * {@linkcode ErrorCode.ShuttingDown} and notifications are dropped (and
   * logged). Calls already running go on. Resolves when they have finished
   * or `timeout` milliseconds passed, with whether they all finished. Our
   * own outgoing calls are not affected. A server calls it on shutdown
   * before closing.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { jsonRpc, memoryPair, Peer } from "@seed/rpc";
   * const [a, b] = memoryPair();
   * const peer = new Peer(a, { codec: jsonRpc });
   * assertEquals(await peer.drain(1000), true);
   * await peer.close();
   * await b.closed;
   * ```
   */
  async drain(timeout = 5000): Promise<boolean> {
    this.#draining = true;
    if (this.#running === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => timer = setTimeout(resolve, timeout, false));
    try {
      return await Promise.race([this.idle().then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- outgoing calls -------------------------------------------------------

  #call(method: string, params: unknown, options: CallOptions): Promise<unknown> {
    if (this.#closing) return Promise.reject(this.#closeError);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let timeout: number;
    try {
      timeout = timeoutOption(options.timeout, this.#timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#outgoing.full) {
      if (this.#whenFull === "reject") {
        return Promise.reject(new TooManyCalls(this.#outgoing.limit));
      }
      return this.#outgoing.waitForRoom(signal).then(() => this.#call(method, params, options));
    }
    const id = ++this.#lastId;
    const message: RequestMessage = params === undefined
      ? { kind: "request", id, method }
      : { kind: "request", id, method, params };
    if (options.meta !== undefined) message.meta = options.meta;
    let frame: F;
    try {
      frame = this.#encodeOutgoing(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = new OutgoingCall(this.#outgoing, id, method, timeout, signal);
    this.#outgoing.add(call);
    this.#transmit(call, frame);
    return call.promise;
  }

  /** Encodes our own call or notification; throws when the codec cannot carry it. */
  #encodeOutgoing(message: RequestMessage | NotificationMessage): F {
    const frame = this.#codec.encode(message);
    if (frame === undefined) {
      const what = message.kind === "request" ? "requests" : "notifications";
      throw new TypeError(`The ${this.#codec.name} codec cannot carry ${what}`);
    }
    return frame;
  }

  async #transmit(call: OutgoingCall, frame: F): Promise<void> {
    this.#framesSent++;
    try {
      await this.#transport.send(frame);
    } catch (error) {
      this.#outgoing.take(call.id);
      call.reject(error instanceof ConnectionClosed ? error : new ConnectionClosed(String(error)));
    }
  }

  /** Tells the remote side to stop working on a call we gave up on. */
  #sendCancel(id: Id): void {
    const method = this.#codec.cancelMethod;
    if (method === undefined || this.#closing) return;
    this.notify(method, { id }).catch(this.#ignore);
  }

  #settle(message: ResultMessage | ErrorMessage): void {
    const call = message.id === null ? undefined : this.#outgoing.take(message.id);
    if (call !== undefined) {
      if (message.kind === "result") call.resolve(message.result);
      else call.reject(new RemoteError(message.error, call.method));
      return;
    }
    const id = message.id;
    if (typeof id === "number" && Number.isInteger(id) && id >= 1 && id <= this.#lastId) {
      this.#lateReplies++;
      this.#logger.debug(`${this.#name}: dropped a late reply to call ${id}`);
    } else {
      this.#unknownReplies++;
      if (message.kind === "error") {
        this.#logger.warn(
          `${this.#name}: the remote side reported an error for id ${JSON.stringify(id)}`,
          message.error,
        );
      } else {
        this.#logger.warn(
          `${this.#name}: dropped a reply to unknown id ${JSON.stringify(id)}`,
        );
      }
    }
  }

  // ---- incoming frames ------------------------------------------------------

  async #readLoop(): Promise<void> {
    // Let the constructor finish before the first frame is handled.
    await Promise.resolve();
    const frames = this.#transport.frames[Symbol.asyncIterator]();
    // A transport whose frames can be polled (ours can) hands over every
    // frame of one read without a promise per frame.
    const poll = (frames as Partial<PollableFrames<F>>).poll?.bind(frames);
    try {
      while (true) {
        let frame = poll?.();
        if (frame === undefined) {
          const next = await frames.next();
          if (next.done) break;
          frame = next.value;
        }
        this.#framesReceived++;
        this.#receive(frame);
        if (this.#running >= this.#maxRunning) {
          this.#room = Promise.withResolvers<void>();
          await this.#room.promise;
        }
        if (this.#closing) break;
      }
    } catch (error) {
      if (error instanceof FrameTooLarge) {
        this.#invalidMessages++;
        this.#logger.warn(`${this.#name}: ${error.message}; closing the connection`);
        await this.#deliver(
          errorReply(
            null,
            ErrorCode.FrameTooLarge,
            "Frame too large",
            `limit ${error.limit} bytes`,
          ),
        )?.catch(this.#onSendFailed);
        this.#shutdown(error.message);
        return;
      }
      if (!this.#closing) this.#logger.warn(`${this.#name}: transport failed`, error);
    }
    const reason = this.#transport.closeReason;
    this.#shutdown(
      reason === undefined || reason === "closed by the other end"
        ? "connection closed by the remote side"
        : reason,
    );
  }

  #receive(frame: F): void {
    let decoded: Message | readonly Message[];
    try {
      decoded = this.#codec.decode(frame);
    } catch (error) {
      // Codecs must not throw; if one does, log it and keep serving.
      this.#invalidMessages++;
      this.#logger.error(`${this.#name}: the ${this.#codec.name} codec threw`, error);
      return;
    }
    if (!Array.isArray(decoded)) {
      this.#receiveOne(decoded as Message, undefined);
      return;
    }
    const messages = decoded as readonly Message[];
    // Nothing to handle: a blank line, a header frame, a reply consumed by the codec.
    if (messages.length === 0) return;
    const batch = new BatchReplies(messages.length);
    for (; batch.index < messages.length; batch.index++) {
      this.#receiveOne(messages[batch.index]!, batch);
    }
    batch.sealed = true;
    if (batch.waiting === 0) this.#flushBatch(batch);
  }

  #receiveOne(message: Message, batch: BatchReplies | undefined): void {
    switch (message.kind) {
      case "request":
        this.#serve(message, batch);
        return;
      case "notification":
        this.#serveNotification(message);
        return;
      case "result":
      case "error":
        this.#settle(message);
        return;
      case "invalid":
        this.#invalidMessages++;
        if (message.answer) {
          this.#logger.debug(`${this.#name}: answered invalid input`, message.error);
          this.#answer({ kind: "error", id: message.id, error: message.error }, batch);
        } else {
          this.#logger.warn(`${this.#name}: dropped an invalid reply`, message.error);
        }
        return;
      case "heartbeat":
        return;
      case "close":
        this.#shutdown(message.reason ?? "closed by the remote side");
        return;
    }
  }

  #serve(message: RequestMessage, batch: BatchReplies | undefined): void {
    const { id, method } = message;
    if (method === this.#codec.cancelMethod) {
      this.#cancelInbound(message.params);
      this.#answer({ kind: "result", id, result: null }, batch);
      return;
    }
    if (this.#draining) {
      this.#answer(errorReply(id, ErrorCode.ShuttingDown, "Shutting down"), batch);
      return;
    }
    const handler = this.#handlers.get(method);
    if (handler === undefined) {
      this.#answer(errorReply(id, ErrorCode.MethodNotFound, "Method not found"), batch);
      return;
    }
    if (id !== null && this.#inbound.has(id)) {
      this.#answer(
        errorReply(id, ErrorCode.InvalidRequest, "Invalid Request", "duplicate id in flight"),
        batch,
      );
      return;
    }
    const ctx = new InboundCall(this as Peer<unknown>, method, id, message.meta);
    if (id !== null) this.#inbound.set(id, ctx);
    this.#running++;
    const slot = batch === undefined ? 0 : batch.index;
    if (batch !== undefined) batch.waiting++;
    let result: unknown;
    try {
      result = handler(message.params, ctx);
    } catch (error) {
      this.#finish(message, ctx, batch, slot, this.#failure(message, error));
      return;
    }
    if (isPromiseLike(result)) this.#finishLater(result, message, ctx, batch, slot);
    else this.#finish(message, ctx, batch, slot, success(message, result));
  }

  /** Waits for an async handler, then finishes its call. */
  async #finishLater(
    pending: PromiseLike<unknown>,
    message: RequestMessage,
    ctx: InboundCall,
    batch: BatchReplies | undefined,
    slot: number,
  ): Promise<void> {
    let reply: ResultMessage | ErrorMessage;
    try {
      reply = success(message, await pending);
    } catch (error) {
      reply = this.#failure(message, error);
    }
    this.#finish(message, ctx, batch, slot, reply);
  }

  /**
   * Sends a handler's reply (or files it in its batch). The handler's slot
   * is released once the transport accepted the reply, so a peer that does
   * not read its replies stops being served.
   */
  #finish(
    message: RequestMessage,
    ctx: InboundCall,
    batch: BatchReplies | undefined,
    slot: number,
    reply: ResultMessage | ErrorMessage,
  ): void {
    if (message.id !== null && this.#inbound.get(message.id) === ctx) {
      this.#inbound.delete(message.id);
    }
    if (batch !== undefined) {
      if (!ctx.aborted) batch.slots[slot] = reply;
      batch.waiting--;
      if (batch.sealed && batch.waiting === 0) this.#flushBatch(batch);
      this.#release();
      return;
    }
    const sent = ctx.aborted || this.#closing ? undefined : this.#deliver(reply);
    if (sent === undefined) this.#release();
    else sent.then(this.#releaseAfterSend, this.#releaseAfterFailedSend);
  }

  #failure(message: RequestMessage, error: unknown): ErrorMessage {
    return { kind: "error", id: message.id, error: this.#errorObject(error, message.method) };
  }

  #releaseAfterSend = (): void => this.#release();

  #releaseAfterFailedSend = (error: unknown): void => {
    this.#onSendFailed(error);
    this.#release();
  };

  #serveNotification(message: NotificationMessage): void {
    const method = message.method;
    if (method === this.#codec.cancelMethod) {
      this.#cancelInbound(message.params);
      return;
    }
    if (this.#draining) {
      this.#logger.warn(`${this.#name}: notification '${method}' dropped: shutting down`);
      return;
    }
    const handler = this.#handlers.get(method);
    if (handler === undefined) {
      this.#logger.warn(`${this.#name}: notification for unknown method '${method}' dropped`);
      return;
    }
    this.#running++;
    const ctx = new InboundCall(this as Peer<unknown>, method, undefined, message.meta);
    let result: unknown;
    try {
      result = handler(message.params, ctx);
    } catch (error) {
      this.#notificationFailed(method, error);
      this.#release();
      return;
    }
    if (isPromiseLike(result)) this.#notificationLater(result, method);
    else this.#release();
  }

  async #notificationLater(pending: PromiseLike<unknown>, method: string): Promise<void> {
    try {
      await pending;
    } catch (error) {
      this.#notificationFailed(method, error);
    } finally {
      this.#release();
    }
  }

  #notificationFailed(method: string, error: unknown): void {
    this.#logger.warn(`${this.#name}: notification '${method}' failed`, this.#errorObject(error));
  }

  #cancelInbound(params: unknown): void {
    const id = (params as { id?: unknown } | null)?.id;
    if (typeof id !== "string" && typeof id !== "number") return;
    const ctx = this.#inbound.get(id);
    if (ctx === undefined) return;
    this.#inbound.delete(id);
    ctx.abort(new DOMException(`Call ${id} was cancelled by the caller`, "AbortError"));
  }

  #release(): void {
    this.#running--;
    if (this.#room !== undefined && this.#running < this.#maxRunning) {
      const room = this.#room;
      this.#room = undefined;
      room.resolve();
    }
    if (this.#idle !== undefined && this.#running === 0) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle.resolve();
    }
  }

  // ---- replies --------------------------------------------------------------

  /** Sends a reply now, or adds it to its batch. */
  #answer(reply: ResultMessage | ErrorMessage, batch: BatchReplies | undefined): void {
    if (batch !== undefined) batch.slots[batch.index] = reply;
    else if (!this.#closing) this.#deliver(reply)?.catch(this.#onSendFailed);
  }

  /**
   * Encodes and sends one reply; `undefined` when the dialect sends nothing
   * for it. A result that cannot be serialised is answered with -32603.
   */
  #deliver(reply: ResultMessage | ErrorMessage): Promise<void> | undefined {
    let frame: F | undefined;
    try {
      frame = this.#codec.encode(reply);
    } catch (error) {
      frame = this.#codec.encode(this.#unserialisable(reply, error));
    }
    if (frame === undefined) return undefined;
    this.#framesSent++;
    return this.#transport.send(frame);
  }

  #flushBatch(batch: BatchReplies): Promise<void> {
    const replies = batch.replies();
    if (replies.length === 0 || this.#closing) return Promise.resolve();
    const codec = this.#codec;
    if (codec.encodeBatch === undefined) {
      return Promise.all(replies.map((r) => this.#deliver(r)?.catch(this.#onSendFailed))).then(
        () => {},
      );
    }
    let frame: F;
    try {
      frame = codec.encodeBatch(replies);
    } catch {
      // One reply could not be serialised: find it and answer it with an error.
      const fixed = replies.map((reply) => {
        try {
          codec.encode(reply);
          return reply;
        } catch (error) {
          return this.#unserialisable(reply, error);
        }
      });
      frame = codec.encodeBatch(fixed);
    }
    this.#framesSent++;
    return this.#transport.send(frame).catch(this.#onSendFailed);
  }

  #unserialisable(reply: ResultMessage | ErrorMessage, error: unknown): ErrorMessage {
    this.#logger.error(`${this.#name}: a reply could not be serialised`, error);
    return errorReply(
      reply.id,
      ErrorCode.InternalError,
      "Internal error",
      "the result could not be serialised",
    );
  }

  /**
   * The error object for a handler's exception. An `RpcError` is deliberate
   * and crosses as it is; anything else is unexpected: it crosses as -32603
   * with its message (no stack), and is logged with its stack when `method`
   * names the call it came from.
   */
  #errorObject(error: unknown, method?: string): ErrorObject {
    if (error instanceof RpcError) return error.toJSON();
    if (method !== undefined && !(error instanceof DOMException && error.name === "AbortError")) {
      this.#logger.warn(`${this.#name}: handler '${method}' threw`, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    return { code: ErrorCode.InternalError, message };
  }

  #onSendFailed = (error: unknown): void => {
    if (!this.#closing) this.#logger.debug(`${this.#name}: could not send a reply`, error);
  };

  #ignore = (): void => {};

  // ---- closing --------------------------------------------------------------

  #shutdown(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const error = new ConnectionClosed(reason);
    this.#closeError = error;
    this.#outgoing.rejectAll(error);
    for (const ctx of this.#inbound.values()) ctx.abort(error);
    this.#inbound.clear();
    this.#room?.resolve();
    this.#room = undefined;
    const closeFrame = safeEncode(this.#codec, { kind: "close", reason });
    if (closeFrame !== undefined) this.#transport.send(closeFrame).catch(this.#ignore);
    this.#transport.close(reason).catch(this.#ignore);
  }
}

/** A transport's frames that can be taken without waiting (see `FrameQueue.poll`). */
interface PollableFrames<F> {
  poll(): F | undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

function success(message: RequestMessage, result: unknown): ResultMessage {
  return { kind: "result", id: message.id, result: result === undefined ? null : result };
}

function errorReply(id: Id | null, code: number, message: string, data?: unknown): ErrorMessage {
  return {
    kind: "error",
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  };
}

function safeEncode<F>(codec: Codec<F>, message: Message): F | undefined {
  try {
    return codec.encode(message);
  } catch {
    return undefined;
  }
}

/** A timeout option: undefined → fallback; 0 or Infinity → 0 (none). */
function timeoutOption(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(`timeout must be a non-negative number of milliseconds, got ${value}`);
  }
  return value === Infinity ? 0 : value;
}

/** A bound option: undefined → fallback; otherwise a whole number ≥ 1 or Infinity. */
function limitOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (value !== Infinity && !(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}
