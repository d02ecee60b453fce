/**
 * The serving side of a peer, and the one dispatch path of every wire: an
 * incoming request or notification finds its handler (own, registered names
 * only), gets its {@linkcode CallContext}, runs under the bound on handlers
 * at once, can be cancelled, and its reply goes back to the reply address it
 * came from. Every delivery is settled once, with its outcome.
 *
 * Internal to the {@linkcode Peer}; {@linkcode Handler} is exported.
 *
 * @module
 */

import { BatchReplies } from "./batch.ts";
import { CallTable } from "./call_table.ts";
import type { Channel, Delivery, Outcome } from "../wire/channel.ts";
import { type CallContext, type Handler, InboundCall, type PeerHandle } from "./context.ts";
import { CallAgain, type ConnectionClosed, ErrorCode, RpcError } from "../wire/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type {
  CancelMessage,
  CreditMessage,
  ErrorMessage,
  ErrorObject,
  Id,
  InvalidMessage,
  NotificationMessage,
  RequestMessage,
  ResultMessage,
} from "../wire/message.ts";
import { incomingInvocation, intercept, type Interceptor } from "./intercept.ts";
import { PING_METHOD } from "./keepalive.ts";
import { DISCOVER_METHOD } from "../contract/openrpc.ts";
import type { LatencyHistogram } from "./latency.ts";
import type { ConcurrencyLimit } from "./limit.ts";
import { ACCEPTED } from "../wire/transport.ts";
import { clip } from "../shared/_text.ts";
import { Producer } from "../stream/producer.ts";

export type { Handler } from "./context.ts";

/** What a {@linkcode Dispatcher} needs from its peer. */
export interface DispatcherOptions {
  peer: PeerHandle;
  channel: Channel;
  /**
   * The peer's own calls: while any awaits its reply, a reply of ours that
   * waits for the wire does not pause reading (the other side may be
   * waiting for us to read before it reads ours).
   */
  outgoing: { readonly size: number };
  logger: Logger;
  name: string;
  /** The bound on handlers running at once. */
  maxRunning: number;
  /** The bound on the size of the calls being handled at once. */
  maxBytes: number;
  /** A bound shared with other peers (a server's). */
  shared: ConcurrencyLimit | undefined;
  /** Functions around every handler; none: handlers run as they are. */
  interceptors: readonly Interceptor[] | undefined;
  /** Where handler durations are recorded, when they are. */
  latency: LatencyHistogram | undefined;
  /** What `rpc.discover` answers; undefined: it is not served. */
  discover: unknown;
  /** The handler for methods without their own; undefined: "Method not found". */
  fallback: Handler | undefined;
  /** Whether an unexpected exception's message reaches the caller. */
  exposeErrors: boolean;
}

/**
 * Calls being served, by (reply address, id): two callers may share ids.
 * The one call of an address that has only it sits in a slot of its own
 * (an HTTP exchange's, one after another: no map entry made and dropped per
 * call); an address with one call among others holds it alone in the map,
 * without a table (a table per short-lived address was garbage). An
 * address is in the slot or in the map, never both.
 */
class InboundCalls {
  #direct: CallTable<InboundCall>;
  #lone: InboundCall | undefined;
  #byAddress: Map<string, InboundCall | CallTable<InboundCall>> | undefined;
  #expected: number;

  constructor(expected: number) {
    this.#expected = expected;
    this.#direct = new CallTable(expected);
  }

  get(from: string | undefined, id: Id): InboundCall | undefined {
    if (from === undefined) return this.#direct.get(id);
    const lone = this.#lone;
    if (lone !== undefined && lone.from === from) return lone.id === id ? lone : undefined;
    const entry = this.#byAddress?.get(from);
    if (entry instanceof CallTable) return entry.get(id);
    return entry !== undefined && entry.id === id ? entry : undefined;
  }

  add(call: InboundCall): void {
    const from = call.from;
    if (from === undefined) return this.#direct.add(call);
    const lone = this.#lone;
    if (lone !== undefined && lone.from === from) {
      // A second call of the slot's address: both go to the map.
      this.#lone = undefined;
      this.#byAddress ??= new Map();
      const table = new CallTable<InboundCall>(Math.min(this.#expected, 64));
      table.add(lone);
      table.add(call);
      this.#byAddress.set(from, table);
      return;
    }
    const entry = this.#byAddress === undefined || this.#byAddress.size === 0
      ? undefined
      : this.#byAddress.get(from);
    if (entry === undefined && lone === undefined) {
      this.#lone = call;
      return;
    }
    this.#byAddress ??= new Map();
    if (entry === undefined) {
      this.#byAddress.set(from, call);
    } else if (entry instanceof CallTable) {
      entry.add(call);
    } else {
      const table = new CallTable<InboundCall>(Math.min(this.#expected, 64));
      table.add(entry);
      table.add(call);
      this.#byAddress.set(from, table);
    }
  }

  remove(call: InboundCall): void {
    const from = call.from;
    if (from === undefined) return void this.#direct.remove(call);
    if (this.#lone === call) {
      this.#lone = undefined;
      return;
    }
    const entry = this.#byAddress?.get(from);
    if (entry === call) this.#byAddress!.delete(from);
    else if (entry instanceof CallTable && entry.remove(call) && entry.size === 0) {
      this.#byAddress!.delete(from);
    }
  }

  /** Aborts every call and forgets them. */
  abortAll(reason: unknown): void {
    for (const call of this.#direct.drain()) call.abort(reason);
    const lone = this.#lone;
    this.#lone = undefined;
    lone?.abort(reason);
    for (const entry of this.#byAddress?.values() ?? []) {
      if (!(entry instanceof CallTable)) entry.abort(reason);
      else for (const call of entry.drain()) call.abort(reason);
    }
    this.#byAddress?.clear();
  }
}

/** The serving side of one peer. */
export class Dispatcher {
  #peer: PeerHandle;
  #channel: Channel;
  #outgoing: { readonly size: number };
  #logger: Logger;
  #name: string;
  #maxRunning: number;
  #maxBytes: number;
  #shared: ConcurrencyLimit | undefined;
  #interceptors: readonly Interceptor[] | undefined;
  #latency: LatencyHistogram | undefined;
  #discover: unknown;
  #fallback: Handler | undefined;
  #exposeErrors: boolean;
  #handlers = new Map<string, Handler>();
  #calls: InboundCalls;
  /** Handlers running and replies being sent: what the bounds count. */
  #running = 0;
  /**
   * Batches open (entries still being routed or running). They hold no slot
   * of their own, so a batch never waits for room it holds itself; each
   * entry takes one, and the batch's replies take one while they are sent.
   */
  #batches = 0;
  /** The size of the calls whose handlers have not finished. */
  #bytes = 0;
  /** Replies handed to the channel that it has not accepted yet. */
  #unsent = 0;
  #room: PromiseWithResolvers<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;
  #draining = false;
  #closed = false;
  /** Replies handed to the channel. */
  sent = 0;
  /** Messages that were not valid, answered or logged. */
  invalid = 0;

  constructor(options: DispatcherOptions) {
    this.#peer = options.peer;
    this.#channel = options.channel;
    this.#outgoing = options.outgoing;
    this.#logger = options.logger;
    this.#name = options.name;
    this.#maxRunning = options.maxRunning;
    this.#maxBytes = options.maxBytes;
    this.#shared = options.shared;
    this.#interceptors = options.interceptors;
    this.#latency = options.latency;
    this.#discover = options.discover;
    this.#exposeErrors = options.exposeErrors;
    if (options.fallback !== undefined && typeof options.fallback !== "function") {
      throw new TypeError("The fallback handler must be a function");
    }
    this.#fallback = options.fallback === undefined
      ? undefined
      : this.#intercepted(options.fallback);
    this.#calls = new InboundCalls(Math.min(options.maxRunning, 1024));
  }

  // ---- handlers -------------------------------------------------------------

  /** Registers (or replaces) the handler for `method`. */
  handle(method: string, handler: Handler): void {
    if (typeof method !== "string" || method.length === 0) {
      throw new TypeError("A method name must be a non-empty string");
    }
    if (method.startsWith("rpc.")) {
      throw new TypeError(`'${method}': names starting with 'rpc.' are reserved by JSON-RPC`);
    }
    if (typeof handler !== "function") {
      throw new TypeError(`The handler for '${method}' must be a function`);
    }
    this.#handlers.set(method, this.#intercepted(handler));
  }

  /** `handler` behind the interceptors (as it is when there are none). */
  #intercepted(handler: Handler): Handler {
    const interceptors = this.#interceptors;
    if (interceptors === undefined) return handler;
    const peer = this.#peer;
    const terminal = (call: { params: unknown; context: CallContext | undefined }) =>
      handler(call.params, call.context!);
    return (params, ctx) =>
      intercept(interceptors, incomingInvocation(params, ctx, peer), terminal);
  }

  handles(method: string): boolean {
    return this.#handlers.has(method);
  }

  // ---- the bound on running handlers ----------------------------------------

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Whether a bound is reached (handlers, bytes, or our fair share of the
   * shared limit): the peer stops reading until {@linkcode room}.
   */
  get full(): boolean {
    return this.#ownFull() || (this.#shared !== undefined && !this.#shared.canTake(this.#running));
  }

  #ownFull(): boolean {
    return this.#running >= this.#maxRunning || this.#bytes >= this.#maxBytes ||
      // A reply waits for the other side to read: start nothing new, so
      // replies a client never reads cannot pile up. Unless we await replies
      // ourselves: two peers calling each other would each wait for the
      // other to read first (what is unsent stays bounded: maxUnsentBytes).
      (this.#unsent > 0 && this.#outgoing.size === 0 && this.#channel.congested === true);
  }

  /** Our own call started: a pause for a reply waiting on the wire may be over. */
  wake(): void {
    this.#wake();
  }

  /** Resolves when there is room again under every bound (or on close). */
  async room(): Promise<void> {
    while (!this.#closed) {
      if (this.#ownFull()) {
        this.#room ??= Promise.withResolvers<void>();
        await this.#room.promise;
      } else if (this.#shared !== undefined && !this.#shared.canTake(this.#running)) {
        await this.#shared.room(this.#running);
      } else {
        return;
      }
    }
  }

  /** Whether a handler runs, a reply waits to be sent, or a batch is open. */
  get busy(): boolean {
    return this.#running + this.#batches > 0;
  }

  /** Resolves when no handler is running (nor a batch open). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /** From now on, requests are answered "Shutting down" and notifications dropped. */
  drain(): void {
    this.#draining = true;
  }

  /** Aborts every running handler; their replies are dropped. */
  close(error: ConnectionClosed): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#calls.abortAll(error);
    const room = this.#room;
    this.#room = undefined;
    room?.resolve();
  }

  // ---- one delivery -----------------------------------------------------------

  /**
   * Starts a batch: each entry is routed (waiting for {@linkcode room}
   * between entries), then {@linkcode sealBatch}. The batch holds no handler
   * slot, and its bytes count only once it is sealed: its entries never wait
   * for room the batch holds itself.
   */
  openBatch(delivery: Delivery, size: number): BatchReplies {
    this.#batches++;
    return new BatchReplies(delivery, size);
  }

  /**
   * Every entry of `batch` was routed; its replies leave once all are done.
   * Until then its bytes count against `maxBytes`.
   */
  sealBatch(batch: BatchReplies): void {
    this.#bytes += batch.delivery.size ?? 0;
    if (batch.seal()) this.#flushBatch(batch);
  }

  /** A message that needed nothing more than routing (a reply, a cancel) is done. */
  done(delivery: Delivery, batch: BatchReplies | undefined, outcome: Outcome): void {
    if (batch === undefined) delivery.settle?.(outcome);
    else if (batch.end(outcome)) this.#flushBatch(batch);
  }

  /** Serves one request: the handler's reply goes back to `delivery.from`. */
  request(message: RequestMessage, delivery: Delivery, batch: BatchReplies | undefined): void {
    const { id, method } = message;
    if (this.#draining) {
      if (batch === undefined && delivery.retryable === true) {
        // Another consumer can take it: give it back rather than refuse it.
        this.done(delivery, batch, "retry");
        return;
      }
      this.#answer(errorReply(id, ErrorCode.ShuttingDown, "Shutting down"), delivery, batch);
      return;
    }
    let handler = this.#handlers.get(method);
    if (handler === undefined) {
      if (method === PING_METHOD) {
        this.#answer({ kind: "result", id, result: null }, delivery, batch, "ok");
        return;
      }
      if (method === DISCOVER_METHOD && this.#discover !== undefined) {
        this.#answer({ kind: "result", id, result: this.#discover }, delivery, batch, "ok");
        return;
      }
      handler = this.#fallback;
      if (handler === undefined) {
        this.#answer(
          errorReply(id, ErrorCode.MethodNotFound, "Method not found", { method: clip(method) }),
          delivery,
          batch,
        );
        return;
      }
    }
    if (
      (message.stream !== undefined || message.progress === true) &&
      this.#channel.features?.streams !== true
    ) {
      // A codec read the extension, but this channel cannot carry its items (HTTP POST).
      this.#answer(
        errorReply(
          id,
          ErrorCode.InvalidRequest,
          "Invalid Request",
          "this wire cannot carry streams",
        ),
        delivery,
        batch,
      );
      return;
    }
    if (id !== null && this.#calls.get(delivery.from, id) !== undefined) {
      this.#answer(
        errorReply(id, ErrorCode.InvalidRequest, "Invalid Request", "duplicate id in flight"),
        delivery,
        batch,
      );
      return;
    }
    const ctx = new InboundCall(this.#peer, method, id, message.meta, delivery, batch);
    if (message.stream !== undefined) {
      ctx.credit = message.stream;
      ctx.wantsProgress = true;
    } else if (message.progress === true) {
      ctx.wantsProgress = true;
    }
    if (id !== null) this.#calls.add(ctx);
    this.#acquire(batch === undefined ? delivery.size ?? 0 : 0);
    if (this.#latency !== undefined) ctx.started = performance.now();
    let result: unknown;
    try {
      result = handler(message.params, ctx);
    } catch (error) {
      this.#failed(ctx, error);
      return;
    }
    if (isPromiseLike(result)) this.#finishLater(result, ctx);
    else if (isAsyncIterable(result)) this.#stream(result, ctx);
    else this.#finish(ctx, success(id, result), "ok");
  }

  /** Runs a notification's handler; nothing is sent back. */
  notification(
    message: NotificationMessage,
    delivery: Delivery,
    batch: BatchReplies | undefined,
  ): void {
    const method = message.method;
    if (this.#draining) {
      this.#logger.warn(`${this.#name}: notification '${clip(method)}' dropped: shutting down`);
      this.done(delivery, batch, delivery.retryable === true && !batch ? "retry" : "failed");
      return;
    }
    const handler = this.#handlers.get(method) ?? this.#fallback;
    if (handler === undefined) {
      this.#logger.warn(
        `${this.#name}: notification for unknown method '${clip(method)}' dropped`,
      );
      this.done(delivery, batch, "failed");
      return;
    }
    this.#acquire(batch === undefined ? delivery.size ?? 0 : 0);
    const ctx = new InboundCall(this.#peer, method, undefined, message.meta, delivery, batch);
    if (this.#latency !== undefined) ctx.started = performance.now();
    let result: unknown;
    try {
      result = handler(message.params, ctx);
    } catch (error) {
      this.#notificationDone(ctx, error);
      return;
    }
    if (isPromiseLike(result)) this.#notificationLater(result, ctx);
    else this.#notificationDone(ctx, undefined);
  }

  /** The caller gave up on a call it sent: abort that call's handler. */
  cancel(message: CancelMessage, delivery: Delivery, batch: BatchReplies | undefined): void {
    const call = this.#calls.get(delivery.from, message.id);
    if (call !== undefined) {
      this.#calls.remove(call);
      call.abort(new DOMException(`Call ${message.id} was cancelled by the caller`, "AbortError"));
    }
    this.done(delivery, batch, "ok");
  }

  /** A stream's caller can take more items: its producer may go on. */
  credit(message: CreditMessage, delivery: Delivery, batch: BatchReplies | undefined): void {
    this.#calls.get(delivery.from, message.id)?.producer?.grant(message.credit);
    this.done(delivery, batch, "ok");
  }

  /** Input a codec could not read: answered where the dialect wants it, else logged. */
  invalidMessage(
    message: InvalidMessage,
    delivery: Delivery,
    batch: BatchReplies | undefined,
  ): void {
    this.invalid++;
    if (message.answer) {
      this.#logger.debug(`${this.#name}: answered invalid input`, message.error);
      this.#answer({ kind: "error", id: message.id, error: message.error }, delivery, batch);
    } else {
      const as = delivery.failedAs;
      this.#logger.warn(
        as === undefined
          ? `${this.#name}: dropped invalid input`
          : `${this.#name}: ${as} ${message.error.message}`,
        message.error,
      );
      this.done(delivery, batch, "failed");
    }
  }

  // ---- finishing a call -------------------------------------------------------

  /** Waits for an async handler, then finishes its call. */
  async #finishLater(pending: PromiseLike<unknown>, ctx: InboundCall): Promise<void> {
    let result: unknown;
    try {
      result = await pending;
    } catch (error) {
      this.#failed(ctx, error);
      return;
    }
    if (isAsyncIterable(result)) this.#stream(result, ctx);
    else this.#finish(ctx, success(ctx.id!, result), "ok");
  }

  /**
   * A handler returned items: pumped under the caller's credit when it made
   * a stream call (the call keeps its slot until the end), refused when it
   * made a plain one.
   */
  #stream(items: AsyncIterable<unknown>, ctx: InboundCall): void {
    if (ctx.credit === undefined || ctx.id === null) {
      try {
        items[Symbol.asyncIterator]().return?.().catch?.(ignore);
      } catch {
        // Nothing more to close.
      }
      const message = `'${clip(ctx.method)}' streams: call it as a stream ` +
        `(JSON-RPC: wrapped in rpc.stream; see the README, "Streams and progress")`;
      this.#finish(ctx, errorReply(ctx.id!, ErrorCode.InvalidRequest, message), "failed");
      return;
    }
    const producer = new Producer(items, ctx.credit, this.#channel, ctx.id!, ctx.delivery.from);
    ctx.producer = producer;
    if (ctx.aborted) producer.cancel();
    this.#streamLater(producer.run(), ctx);
  }

  async #streamLater(run: Promise<unknown>, ctx: InboundCall): Promise<void> {
    let result: unknown;
    try {
      result = await run;
    } catch (error) {
      this.#failed(ctx, error);
      return;
    }
    this.#finish(ctx, success(ctx.id!, result), "ok");
  }

  /** A handler threw: an error reply, or a redelivery for {@linkcode CallAgain}. */
  #failed(ctx: InboundCall, error: unknown): void {
    if (error instanceof CallAgain && ctx.batch === undefined && ctx.delivery.retryable === true) {
      this.#calls.remove(ctx);
      this.#releaseBytes(ctx.delivery.size ?? 0);
      this.#release();
      ctx.delivery.settle?.(ctx.aborted ? "cancelled" : "retry");
      return;
    }
    const reply: ErrorMessage = {
      kind: "error",
      id: ctx.id!,
      error: this.#errorObject(error, ctx.method),
    };
    this.#finish(ctx, reply, "failed");
  }

  /**
   * Sends a handler's reply (or files it in its batch). The handler's slot
   * is released once the channel accepted the reply, so a caller that does
   * not read its replies stops being served. The delivery is settled then.
   */
  #finish(ctx: InboundCall, reply: ResultMessage | ErrorMessage, outcome: Outcome): void {
    this.#latency?.record(performance.now() - ctx.started);
    this.#calls.remove(ctx);
    const batch = ctx.batch;
    // The call's input is done with; its reply is what is left to send.
    if (batch === undefined) this.#releaseBytes(ctx.delivery.size ?? 0);
    if (batch !== undefined) {
      if (!ctx.aborted) batch.slots[ctx.slot] = reply;
      this.#release();
      if (batch.end(ctx.aborted ? "cancelled" : outcome)) this.#flushBatch(batch);
      return;
    }
    const delivery = ctx.delivery;
    if (ctx.aborted || this.#closed) {
      this.#release();
      delivery.settle?.("cancelled");
      return;
    }
    this.sent++;
    const sent = this.#channel.send(reply, delivery.from);
    if (sent === ACCEPTED) {
      this.#release();
      delivery.settle?.(outcome);
    } else if (delivery.settle === undefined) {
      this.#whenSent(sent);
    } else {
      this.#whenSent(sent).then(() => delivery.settle!(outcome));
    }
  }

  async #notificationLater(pending: PromiseLike<unknown>, ctx: InboundCall): Promise<void> {
    let failure: unknown;
    try {
      await pending;
    } catch (error) {
      failure = error ?? new Error(String(error));
    }
    this.#notificationDone(ctx, failure);
  }

  #notificationDone(ctx: InboundCall, failure: unknown): void {
    this.#latency?.record(performance.now() - ctx.started);
    if (failure !== undefined) {
      this.#logger.warn(`${this.#name}: notification '${clip(ctx.method)}' failed`, failure);
    }
    if (ctx.batch === undefined) this.#releaseBytes(ctx.delivery.size ?? 0);
    this.#release();
    this.done(ctx.delivery, ctx.batch, failure === undefined ? "ok" : "failed");
  }

  #releaseAfterSend = (): void => this.#release();

  #releaseAfterFailedSend = (error: unknown): void => {
    this.#onSendFailed(error);
    this.#release();
  };

  /**
   * Releases a reply's slot once the channel accepts it; until then it
   * counts as unsent. While the peer awaits replies of its own on a wire
   * that is full, the slot is released at once: the other side may be
   * holding its slots for replies we have to read first, and neither would
   * ever read (what waits is bounded by the transport's `maxUnsentBytes`).
   */
  #whenSent(sent: Promise<void>): Promise<void> {
    if (sent === ACCEPTED) return sent.then(this.#releaseAfterSend, this.#releaseAfterFailedSend);
    this.#unsent++;
    if (this.#outgoing.size > 0 && this.#channel.congested === true) {
      this.#release();
      return sent.then(this.#unsentLeft, this.#unsentFailed);
    }
    return sent.then(this.#releaseUnsent, this.#releaseUnsentAfterFailure);
  }

  #releaseUnsent = (): void => {
    this.#unsent--;
    this.#release();
  };

  #releaseUnsentAfterFailure = (error: unknown): void => {
    this.#unsent--;
    this.#releaseAfterFailedSend(error);
  };

  /** A reply whose slot was released already left. */
  #unsentLeft = (): void => {
    this.#unsent--;
    this.#wake();
  };

  #unsentFailed = (error: unknown): void => {
    this.#onSendFailed(error);
    this.#unsentLeft();
  };

  /** Work starts: a handler, a reply to send, an open batch. */
  #acquire(bytes: number): void {
    this.#running++;
    this.#bytes += bytes;
    this.#shared?.acquire();
  }

  #releaseBytes(bytes: number): void {
    if (bytes === 0) return;
    this.#bytes -= bytes;
    this.#wake();
  }

  #release(): void {
    this.#running--;
    this.#shared?.release();
    this.#wake();
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#idle !== undefined && !this.busy) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle.resolve();
    }
  }

  #wake(): void {
    if (this.#room !== undefined && !this.#ownFull()) {
      const room = this.#room;
      this.#room = undefined;
      room.resolve();
    }
  }

  // ---- replies --------------------------------------------------------------

  /** Sends a reply that needed no handler, or files it in its batch, and settles. */
  #answer(
    reply: ResultMessage | ErrorMessage,
    delivery: Delivery,
    batch: BatchReplies | undefined,
    outcome: Outcome = "failed",
  ): void {
    if (batch !== undefined) {
      batch.slots[batch.index] = reply;
      if (batch.end(outcome)) this.#flushBatch(batch);
      return;
    }
    if (this.#closed) {
      delivery.settle?.(outcome);
      return;
    }
    // An answer holds a slot until it is sent, like a handler's reply: a
    // caller that sends junk and never reads is not answered without bound.
    this.#acquire(0);
    this.sent++;
    const sent = this.#whenSent(this.#channel.send(reply, delivery.from));
    if (delivery.settle !== undefined) sent.then(() => delivery.settle!(outcome));
  }

  /**
   * Sends a batch's replies together; like any reply, they hold a slot until
   * the channel accepts them.
   */
  #flushBatch(batch: BatchReplies): void {
    const delivery = batch.delivery;
    this.#batches--;
    this.#releaseBytes(delivery.size ?? 0);
    const replies = batch.replies();
    if (replies.length === 0 || this.#closed) {
      this.#checkIdle();
      delivery.settle?.(batch.outcome);
      return;
    }
    this.#acquire(0);
    this.sent++;
    const channel = this.#channel;
    const sent = channel.sendBatch === undefined
      ? Promise.all(replies.map((reply) => channel.send(reply, delivery.from))).then(() => {})
      : channel.sendBatch(replies, delivery.from);
    const settled = this.#whenSent(sent);
    if (delivery.settle !== undefined) settled.then(() => delivery.settle!(batch.outcome));
  }

  /**
   * The error object for a handler's exception. An `RpcError` (from any
   * copy of the library) is deliberate and crosses as it is; anything else
   * is unexpected: it crosses as -32603 with its message (no stack), or as a
   * bare "Internal error" when `exposeErrors` is off, and is logged with its
   * stack.
   */
  #errorObject(error: unknown, method: string): ErrorObject {
    if (RpcError.is(error)) {
      const { code, message, data } = error;
      return data === undefined ? { code, message } : { code, message, data };
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof CallAgain) return { code: ErrorCode.CallAgainRefused, message };
    if (!(error instanceof DOMException && error.name === "AbortError")) {
      this.#logger.warn(`${this.#name}: handler '${clip(method)}' threw`, error);
    }
    return this.#exposeErrors
      ? { code: ErrorCode.InternalError, message }
      : { code: ErrorCode.InternalError, message: "Internal error" };
  }

  #onSendFailed = (error: unknown): void => {
    if (!this.#closed) this.#logger.debug(`${this.#name}: could not send a reply`, error);
  };
}

function ignore(): void {}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

function success(id: Id | null, result: unknown): ResultMessage {
  return { kind: "result", id, result: result === undefined ? null : result };
}

function errorReply(id: Id | null, code: number, message: string, data?: unknown): ErrorMessage {
  return {
    kind: "error",
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  };
}
