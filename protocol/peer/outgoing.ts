/**
 * The calling side of a peer: the calls it has made and awaits replies for.
 * Id correlation, one shared deadline timer, cancellation by `AbortSignal`
 * (the remote side is told with a `cancel` message), the bound on calls in
 * flight, and the counting of replies nobody waits for.
 *
 * Requests and notifications wait for room on the wire before they are
 * handed to the channel: once one of ours waits for the other side to read
 * (the channel is `congested`), the next ones queue here, in order, and go
 * one at a time as the wire drains. So a burst (a `Promise.all` of large
 * calls) keeps what is unsent near the transport's high water mark plus one
 * frame, instead of tripping the cut meant for a peer that never reads.
 *
 * Internal to the {@linkcode Peer}; not exported from `mod.ts`.
 *
 * @module
 */

import { CallTable } from "./call_table.ts";
import type { Channel } from "../wire/channel.ts";
import { CallTimeout, type ConnectionClosed, RemoteError, TooManyCalls } from "../wire/errors.ts";
import type { LatencyHistogram } from "./latency.ts";
import {
  BATCHED_CREDIT,
  DEFAULT_CREDIT,
  refusedExtension,
  StreamConsumer,
} from "../stream/consumer.ts";
import { never } from "../shared/_timer.ts";
import type { Logger } from "../shared/logger.ts";
import { ACCEPTED } from "../wire/transport.ts";
import type {
  CreditMessage,
  ErrorMessage,
  Id,
  ItemMessage,
  Meta,
  NotificationMessage,
  ProgressMessage,
  RequestMessage,
  ResultMessage,
} from "../wire/message.ts";

/**
 * Options for one call.
 */
export interface CallOptions {
  /**
   * Milliseconds to wait for the reply, counted from the call (time spent
   * waiting for room under `maxPendingCalls` included); 0 waits forever.
   *
   * @default {the peer's `timeout`}
   */
  timeout?: number;
  /** Cancels the call: it rejects with `signal.reason` and the remote is told. */
  signal?: AbortSignal;
  /** Metadata for dialects that carry it. */
  meta?: Meta;
  /**
   * Where the call goes, on channels that route (an AMQP service name, a
   * {@linkcode MemoryBus} name); channels with one party ignore it.
   */
  to?: string;
  /**
   * Called with each progress value the handler reports
   * (`ctx.progress(value)`). Given, the call asks for progress on the wire
   * (JSON-RPC: wrapped in `rpc.call`), so only dialects with streams carry it.
   */
  onProgress?: (value: unknown) => void;
}

/**
 * Options for one stream call ({@linkcode Peer.stream}). `timeout` counts
 * to the first item or progress only: an open stream is never timed out.
 *
 * @example A small window, and a deadline for the first item
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, type StreamOptions } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: {
 *     async *letters() {
 *       yield* ["a", "b", "c"];
 *     },
 *   },
 * });
 * const client = new Peer(b);
 * const options: StreamOptions = { credit: 1, timeout: 1000 };
 * const letters = [];
 * for await (const letter of client.stream("letters", undefined, options)) letters.push(letter);
 * assertEquals(letters, ["a", "b", "c"]);
 * await client.close();
 * await server.closed;
 * ```
 */
export interface StreamOptions extends CallOptions {
  /**
   * The window: items the handler may send before the reader takes them.
   * More credit is granted as the reader takes half of it.
   *
   * @default {256; 64 where items travel several to a frame (WebSocket)}
   */
  credit?: number;
}

/**
 * Options for one notification.
 */
export interface NotifyOptions {
  /** Metadata for dialects that carry it. */
  meta?: Meta;
  /** Where it goes, on channels that route; channels with one party ignore it. */
  to?: string;
}

/** How outgoing call ids are made: a counter from 1, UUIDs, or your function. */
export type IdSource = "counter" | "uuid" | (() => Id);

/** What {@linkcode OutgoingCalls} needs from its peer. */
export interface OutgoingOptions {
  channel: Channel;
  /** Default timeout in ms; 0 waits forever. */
  timeout: number;
  limit: number;
  whenFull: "wait" | "reject";
  ids: IdSource;
  logger: Logger;
  name: string;
  /** Where call durations (to the reply) are recorded, when they are. */
  latency: LatencyHistogram | undefined;
}

/** Given-up call ids remembered, to tell a late reply from a stray one. */
const REMEMBERED_GIVE_UPS = 1024;

const NO_OPTIONS: CallOptions = Object.freeze({});

/** One call awaiting its reply. */
class OutgoingCall {
  readonly id: Id;
  readonly method: string;
  readonly to: string | undefined;
  /** Milliseconds; 0 means none. */
  readonly timeout: number;
  /** `Date.now()` time after which the call times out (a stream's, until its first item). */
  deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  /** `performance.now()` when it was sent, when latency is measured. */
  started = 0;
  /** The request, while it waits for room on the wire (not yet sent). */
  waiting: RequestMessage | undefined;
  /** Where a stream call's items go. */
  readonly sink: StreamConsumer<unknown> | undefined;
  /** Where the handler's progress goes. */
  readonly onProgress: ((value: unknown) => void) | undefined;
  #table: OutgoingCalls;

  constructor(
    table: OutgoingCalls,
    id: Id,
    method: string,
    options: CallOptions,
    timeout: number,
    deadline: number,
    sink: StreamConsumer<unknown> | undefined,
  ) {
    this.#table = table;
    this.sink = sink;
    this.onProgress = options.onProgress;
    this.id = id;
    this.method = method;
    this.to = options.to;
    this.timeout = timeout;
    this.deadline = deadline;
    this.signal = options.signal;
    // An executor, not Promise.withResolvers(): no result object (80 bytes less a call).
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The `abort` listener: an object, so no closure is made per call. */
  handleEvent(): void {
    this.#table.giveUp(this, this.signal!.reason);
  }

  /** A stream's reader took items: the producer may send `credit` more. */
  grant(credit: number): void {
    this.#table.grant(this, credit);
  }
}

/** A notification waiting for room on the wire. */
class WaitingNotification {
  readonly message: NotificationMessage;
  readonly to: string | undefined;
  readonly sent: PromiseWithResolvers<void> = Promise.withResolvers<void>();

  constructor(message: NotificationMessage, to: string | undefined) {
    this.message = message;
    this.to = to;
  }
}

/** A call waiting for room under the bound on calls in flight. */
class RoomWaiter {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  #waiters: RoomWaiter[];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    waiters: RoomWaiter[],
    signal: AbortSignal | undefined,
    timeout: number,
    onTimeout: () => unknown,
  ) {
    this.#waiters = waiters;
    this.signal = signal;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.promise = promise;
    this.resolve = resolve;
    this.reject = reject;
    signal?.addEventListener("abort", this, { once: true });
    if (timeout > 0) {
      this.#timer = setTimeout(() => this.#leave(onTimeout()), timeout);
    }
  }

  /** The `abort` listener. */
  handleEvent(): void {
    this.#leave(this.signal!.reason);
  }

  #leave(reason: unknown): void {
    const at = this.#waiters.indexOf(this);
    if (at >= 0) this.#waiters.splice(at, 1);
    this.fail(reason);
  }

  wake(): void {
    this.#stop();
    this.resolve();
  }

  fail(reason: unknown): void {
    this.#stop();
    this.reject(reason);
  }

  #stop(): void {
    this.signal?.removeEventListener("abort", this);
    // Never clearTimeout(undefined): in Deno (2.9) it loads the Node-compatible
    // timers, 3 to 4 MiB, in a process that may have needed none.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

/** The calling side of one peer. */
export class OutgoingCalls {
  /** The bound on calls in flight. */
  readonly limit: number;
  #channel: Channel;
  #timeout: number;
  #whenFull: "wait" | "reject";
  #nextId: () => Id;
  #logger: Logger;
  #name: string;
  #latency: LatencyHistogram | undefined;
  #calls: CallTable<OutgoingCall>;
  /**
   * The deadline timer: an `AbortSignal.timeout` that fires at `#signalAt`
   * (see #arm), kept pending while no call waits, to be listened to again.
   */
  #signal: AbortSignal | undefined;
  #signalAt = Infinity;
  /** Microtasks since the last call settled with none left, while waiting to disarm; 0: not waiting. */
  #idleTurns = 0;
  /** A call with a deadline was made since the table was last empty. */
  #timed = false;
  /** When the sweep runs next: `#signalAt` while it listens to `#signal`, else Infinity. */
  #timerAt = Infinity;
  #waiters: RoomWaiter[] = [];
  /** Our requests and notifications waiting for room on the wire, oldest first. */
  #line: (OutgoingCall | WaitingNotification)[] = [];
  #lineHead = 0;
  /** A send of ours waits for the other side to read: later ones wait in `#line`. */
  #blocked = false;
  #gaveUp = new Set<Id>();
  #closeError: ConnectionClosed | undefined;
  /** Requests and notifications handed to the channel. */
  sent = 0;
  /** Replies to calls that had already timed out or been cancelled. */
  lateReplies = 0;
  /** Replies to ids this side is not waiting for. */
  unknownReplies = 0;

  constructor(options: OutgoingOptions) {
    this.#channel = options.channel;
    this.#timeout = options.timeout;
    this.limit = options.limit;
    this.#calls = new CallTable(options.limit);
    this.#whenFull = options.whenFull;
    this.#nextId = idSource(options.ids);
    this.#logger = options.logger;
    this.#name = options.name;
    this.#latency = options.latency;
  }

  /** Calls awaiting a reply. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * The reader of a stream call about to be made: send the call with
   * {@linkcode call} (`consumer` as its sink, options with its `signal`),
   * and have it follow the reply.
   */
  consumer(method: string, options: StreamOptions = NO_OPTIONS): StreamConsumer<unknown> {
    // Where items travel several to a frame (WebSocket), a smaller window keeps the rate.
    const credit = options.credit ??
      (this.#channel.sendItems !== undefined ? BATCHED_CREDIT : DEFAULT_CREDIT);
    if (!Number.isSafeInteger(credit) || credit < 1) {
      throw new RangeError(`credit must be a whole number of at least 1, got ${credit}`);
    }
    return new StreamConsumer<unknown>(method, credit, options.signal);
  }

  /** An item of one of our stream calls arrived. */
  item(message: ItemMessage): void {
    const call = this.#calls.get(message.id);
    if (call?.sink === undefined) return this.#stray(message);
    // The timeout counts to the first item only: an open stream may idle.
    call.deadline = Infinity;
    call.sink.push(message.value);
  }

  /** Progress of one of our calls arrived. */
  progress(message: ProgressMessage): void {
    const call = this.#calls.get(message.id);
    if (call === undefined) return this.#stray(message);
    if (call.sink !== undefined) call.deadline = Infinity;
    try {
      call.onProgress?.(message.value);
    } catch (error) {
      this.#logger.warn(`${this.#name}: onProgress for '${call.method}' threw`, error);
    }
  }

  /** Grants a stream call's producer `credit` more items. */
  grant(call: OutgoingCall, credit: number): void {
    if (this.#calls.get(call.id) !== call || this.#closeError !== undefined) return;
    const message: CreditMessage = { kind: "credit", id: call.id, credit };
    this.#channel.send(message, call.to).catch(ignore);
  }

  #stray(message: ItemMessage | ProgressMessage): void {
    // Items still on their way when the call was given up are expected.
    if (!this.#gaveUp.has(message.id)) {
      this.#logger.debug(`${this.#name}: dropped ${message.kind} for unknown call ${message.id}`);
    }
  }

  /** Sends a request and resolves with the result its reply carries. */
  call(
    method: string,
    params: unknown,
    options: CallOptions = NO_OPTIONS,
    sink?: StreamConsumer<unknown>,
  ): Promise<unknown> {
    if (this.#closeError !== undefined) return Promise.reject(this.#closeError);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let timeout: number;
    try {
      timeout = timeoutOption(options.timeout, this.#timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const deadline = timeout > 0 ? Date.now() + timeout : Infinity;
    if (this.#calls.size >= this.limit) {
      return this.#callWhenRoom(method, params, options, timeout, sink);
    }
    return this.#send(method, params, options, timeout, deadline, sink);
  }

  /**
   * Sends a notification; resolves once the channel accepted it (after the
   * requests and notifications waiting for room before it).
   */
  notify(method: string, params: unknown, options: NotifyOptions = NO_OPTIONS): Promise<void> {
    if (this.#closeError !== undefined) return Promise.reject(this.#closeError);
    const message: NotificationMessage = params === undefined
      ? { kind: "notification", method }
      : { kind: "notification", method, params };
    if (options.meta !== undefined) message.meta = options.meta;
    if (this.#blocked) {
      const waiting = new WaitingNotification(message, options.to);
      this.#line.push(waiting);
      return waiting.sent.promise;
    }
    return this.#write(message, options.to);
  }

  /** Matches a reply to its call; counts (and logs) replies nobody waits for. */
  settle(reply: ResultMessage | ErrorMessage): void {
    const id = reply.id;
    const call = id === null ? undefined : this.#calls.get(id);
    if (call !== undefined) {
      this.#remove(call);
      this.#latency?.record(performance.now() - call.started);
      if (reply.kind === "result") call.resolve(reply.result);
      else call.reject(this.#remoteError(call, reply));
      return;
    }
    if (id !== null && this.#gaveUp.has(id)) {
      this.lateReplies++;
      this.#logger.debug(`${this.#name}: dropped a late reply to call ${id}`);
      return;
    }
    this.unknownReplies++;
    if (reply.kind === "error") {
      this.#logger.warn(
        `${this.#name}: the remote side reported an error for id ${JSON.stringify(id)}`,
        reply.error,
      );
    } else {
      this.#logger.warn(`${this.#name}: dropped a reply to unknown id ${JSON.stringify(id)}`);
    }
  }

  #remoteError(call: OutgoingCall, reply: ErrorMessage): unknown {
    const error = new RemoteError(reply.error, call.method);
    // A call that asked for progress went out wrapped (a stream's consumer explains its own).
    return call.onProgress === undefined || call.sink !== undefined
      ? error
      : refusedExtension(error, call.method, "progress");
  }

  /** Rejects the call `id` with `error`: the channel lost it. */
  lose(id: Id, error: unknown): void {
    const call = this.#calls.get(id);
    if (call !== undefined && this.#remove(call)) call.reject(error);
  }

  /** Rejects every call in flight and every waiter, and every call from now on. */
  close(error: ConnectionClosed): void {
    if (this.#closeError !== undefined) return;
    this.#closeError = error;
    const calls = this.#calls.drain();
    this.#disarm();
    for (const call of calls) {
      call.signal?.removeEventListener("abort", call);
      call.reject(error);
    }
    for (const waiter of this.#waiters.splice(0)) waiter.fail(error);
    for (let i = this.#lineHead; i < this.#line.length; i++) {
      const waiting = this.#line[i]!;
      if (waiting instanceof WaitingNotification) {
        waiting.sent.reject(error);
        waiting.sent.promise.catch(ignore);
      }
    }
    this.#line = [];
    this.#lineHead = 0;
  }

  /** Rejects a call with `reason` (timeout or abort) and tells the remote side. */
  giveUp(call: OutgoingCall, reason: unknown): void {
    if (!this.#remove(call)) return;
    this.#remember(call.id);
    call.reject(reason);
    if (call.waiting !== undefined) {
      // Never sent: nothing to cancel, and it leaves the line now.
      call.waiting = undefined;
      const at = this.#line.indexOf(call, this.#lineHead);
      if (at >= 0) this.#line.splice(at, 1);
    } else if (this.#closeError === undefined) {
      this.#channel.send({ kind: "cancel", id: call.id }, call.to).catch(ignore);
    }
  }

  #send(
    method: string,
    params: unknown,
    options: CallOptions,
    timeout: number,
    deadline: number,
    sink: StreamConsumer<unknown> | undefined,
  ): Promise<unknown> {
    const id = this.#nextId();
    const message: RequestMessage = params === undefined
      ? { kind: "request", id, method }
      : { kind: "request", id, method, params };
    if (options.meta !== undefined) message.meta = options.meta;
    if (sink !== undefined) message.stream = sink.window;
    else if (options.onProgress !== undefined) message.progress = true;
    const call = new OutgoingCall(this, id, method, options, timeout, deadline, sink);
    sink?.bind(call);
    this.#calls.add(call);
    call.signal?.addEventListener("abort", call, { once: true });
    if (this.#latency !== undefined) call.started = performance.now();
    if (deadline < Infinity) {
      this.#timed = true;
      if (deadline < this.#timerAt) this.#arm(deadline);
    }
    if (this.#blocked) {
      call.waiting = message;
      this.#line.push(call);
    } else {
      this.#sendRequest(call, message);
    }
    return call.promise;
  }

  #sendRequest(call: OutgoingCall, message: RequestMessage): void {
    const sent = this.#write(message, call.to);
    if (sent !== ACCEPTED) sent.catch((error) => this.#sendFailed(call, error));
  }

  /**
   * Hands a request or notification to the channel. When it has to wait for
   * the other side to read, the next ones wait in line until it is accepted.
   */
  #write(message: RequestMessage | NotificationMessage, to: string | undefined): Promise<void> {
    this.sent++;
    const sent = this.#channel.send(message, to);
    if (sent !== ACCEPTED && this.#channel.congested === true) {
      this.#blocked = true;
      sent.then(this.#unblock, this.#unblock);
    }
    return sent;
  }

  /** The send we waited on was accepted (or failed): the line moves on. */
  #unblock = (): void => {
    this.#blocked = false;
    const line = this.#line;
    while (!this.#blocked && this.#lineHead < line.length) {
      const next = line[this.#lineHead]!;
      line[this.#lineHead++] = undefined as never;
      if (next instanceof WaitingNotification) {
        this.#write(next.message, next.to).then(next.sent.resolve, next.sent.reject);
      } else {
        const message = next.waiting!;
        next.waiting = undefined;
        this.#sendRequest(next, message);
      }
    }
    if (this.#lineHead === line.length) {
      line.length = 0;
      this.#lineHead = 0;
    }
  };

  #sendFailed(call: OutgoingCall, error: unknown): void {
    if (this.#remove(call)) call.reject(error);
  }

  async #callWhenRoom(
    method: string,
    params: unknown,
    options: CallOptions,
    timeout: number,
    sink: StreamConsumer<unknown> | undefined,
  ): Promise<unknown> {
    if (this.#whenFull === "reject") throw new TooManyCalls(this.limit);
    const started = Date.now();
    const waiter = new RoomWaiter(
      this.#waiters,
      options.signal,
      timeout,
      () => new CallTimeout(method, timeout),
    );
    this.#waiters.push(waiter);
    await waiter.promise;
    // The time spent waiting for room counts against the call's timeout.
    const left = timeout === 0 ? 0 : Math.max(1, timeout - (Date.now() - started));
    return this.call(method, params, { ...options, timeout: left }, sink);
  }

  /** Takes `call` out of the table; false when it was not in it. */
  #remove(call: OutgoingCall): boolean {
    if (!this.#calls.remove(call)) return false;
    call.signal?.removeEventListener("abort", call);
    // No call waits: the sweep stops listening (so the timer no longer keeps
    // the process alive) unless a call comes within a few microtasks.
    if (this.#calls.size === 0) this.#disarmWhenIdle();
    if (this.#waiters.length > 0 && this.#calls.size < this.limit) this.#waiters.shift()!.wake();
    return true;
  }

  #remember(id: Id): void {
    if (this.#gaveUp.size >= REMEMBERED_GIVE_UPS) {
      this.#gaveUp.delete(this.#gaveUp.values().next().value!);
    }
    this.#gaveUp.add(id);
  }

  /**
   * The sweep runs by `at` (before `#timerAt`). The timer is an
   * `AbortSignal.timeout`, not a `setTimeout`: in Deno (2.9) the first
   * setTimeout loads its Node-compatible timers, 3 to 4 MiB more for a
   * client; and it keeps the process alive only while listened to. It
   * cannot be cleared: a pending one that fires by `at` is listened to
   * again (the sweep then re-arms for what is left), so a caller that calls
   * again and again makes one timer per timeout, not one per call.
   */
  #arm(at: number): void {
    let signal = this.#signal;
    if (signal === undefined || signal.aborted || this.#signalAt > at) {
      if (this.#timerAt < Infinity) signal!.removeEventListener("abort", this.#sweep);
      signal = this.#signal = AbortSignal.timeout(Math.max(0, at - Date.now()));
      this.#signalAt = at;
    }
    signal.addEventListener("abort", this.#sweep);
    this.#timerAt = this.#signalAt;
  }

  /**
   * The sweep stops listening once no call with a deadline came for
   * {@linkcode IDLE_TURNS} microtasks. A caller that calls again as soon as
   * its last call settled (in its `await`'s continuation) finds the timer
   * still listened to. In Deno (2.9) listening again and letting go around
   * each call cost about 8,000 instructions a call (callgrind, a fetch
   * loop; our HTTP client makes ~6,500-8,800 fewer with this, our TCP client
   * ~5,200), a check a few microtasks later next to nothing.
   * Microtasks all run before the event loop looks for work, so the process
   * ends as soon as before.
   */
  #disarmWhenIdle(): void {
    this.#timed = false;
    if (this.#timerAt === Infinity || this.#idleTurns > 0) return;
    this.#idleTurns = 1;
    queueMicrotask(this.#idle);
  }

  #idle = (): void => {
    if (this.#calls.size > 0 || this.#timerAt === Infinity) {
      this.#idleTurns = 0;
      // Only calls without a deadline came: as if the timer had been let go
      // at once, it must not keep the process alive for them.
      if (!this.#timed) this.#disarm();
    } else if (this.#idleTurns++ < IDLE_TURNS) {
      queueMicrotask(this.#idle);
    } else {
      this.#idleTurns = 0;
      this.#disarm();
    }
  };

  /** The sweep stops listening (the timer, unheld, may stay pending). */
  #disarm(): void {
    if (this.#timerAt === Infinity) return;
    this.#signal!.removeEventListener("abort", this.#sweep);
    this.#timerAt = Infinity;
  }

  #sweep = (): void => {
    this.#timerAt = Infinity;
    // Timers may fire up to a millisecond early against the wall clock.
    const now = Date.now() + 1;
    let next = Infinity;
    const expired: OutgoingCall[] = [];
    this.#calls.forEach((call) => {
      if (call.deadline <= now) expired.push(call);
      else if (call.deadline < next) next = call.deadline;
    });
    for (const call of expired) this.giveUp(call, new CallTimeout(call.method, call.timeout));
    if (next < Infinity && this.#calls.size > 0 && next < this.#timerAt) this.#arm(next);
  };
}

/** Microtasks the sweep keeps listening after the last call settled (see #disarmWhenIdle). */
const IDLE_TURNS = 4;

function ignore(): void {}

/** The id maker for an {@linkcode IdSource}. */
function idSource(ids: IdSource): () => Id {
  if (typeof ids === "function") return ids;
  if (ids === "uuid") return () => crypto.randomUUID().replaceAll("-", "");
  let last = 0;
  return () => ++last;
}

/**
 * A timeout option: undefined → fallback; 0, Infinity, or more than a timer
 * can wait (2^31 ms or more) → 0 (none).
 */
export function timeoutOption(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(`timeout must be a non-negative number of milliseconds, got ${value}`);
  }
  return never(value) ? 0 : value;
}
