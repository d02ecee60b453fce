/**
 * The calls a peer has made and awaits replies for: id correlation, one
 * shared deadline timer, cancellation by `AbortSignal`, and the bound on calls
 * in flight.
 *
 * Internal to the {@linkcode Peer}; not exported from `mod.ts`.
 *
 * @module
 */

import type { Id } from "./message.ts";

/** What the table tells its owner when it gives up on a call. */
export type GiveUp = (call: OutgoingCall, reason: unknown) => void;

/** One call awaiting its reply. */
export class OutgoingCall {
  readonly id: Id;
  readonly method: string;
  /** Milliseconds; 0 or Infinity means none. */
  readonly timeout: number;
  /** `Date.now()` time after which the call times out. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  #table: OutgoingCalls;

  constructor(
    table: OutgoingCalls,
    id: Id,
    method: string,
    timeout: number,
    signal: AbortSignal | undefined,
  ) {
    this.#table = table;
    this.id = id;
    this.method = method;
    this.timeout = timeout;
    this.deadline = timeout > 0 ? Date.now() + timeout : Infinity;
    this.signal = signal;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.promise = promise;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** The `abort` listener: an object, so no closure is made per call. */
  handleEvent(): void {
    this.#table.giveUp(this, this.signal!.reason);
  }
}

class RoomWaiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly promise: Promise<void>;
  readonly signal: AbortSignal | undefined;
  #waiters: RoomWaiter[];

  constructor(waiters: RoomWaiter[], signal: AbortSignal | undefined) {
    this.#waiters = waiters;
    this.signal = signal;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.promise = promise;
    this.resolve = resolve;
    this.reject = reject;
    signal?.addEventListener("abort", this, { once: true });
  }

  handleEvent(): void {
    const at = this.#waiters.indexOf(this);
    if (at >= 0) this.#waiters.splice(at, 1);
    this.reject(this.signal!.reason);
  }

  wake(): void {
    this.signal?.removeEventListener("abort", this);
    this.resolve();
  }

  fail(reason: unknown): void {
    this.signal?.removeEventListener("abort", this);
    this.reject(reason);
  }
}

/** The table of calls in flight. */
export class OutgoingCalls {
  /** The bound on calls in flight. */
  readonly limit: number;
  #calls = new Map<Id, OutgoingCall>();
  #onGiveUp: GiveUp;
  #onTimeout: (call: OutgoingCall) => unknown;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #waiters: RoomWaiter[] = [];

  /**
   * @param limit The bound on calls in flight.
   * @param onTimeout Makes the error a timed-out call is rejected with.
   * @param onGiveUp Told after a call was rejected by timeout or abort.
   */
  constructor(limit: number, onTimeout: (call: OutgoingCall) => unknown, onGiveUp: GiveUp) {
    this.limit = limit;
    this.#onTimeout = onTimeout;
    this.#onGiveUp = onGiveUp;
  }

  get size(): number {
    return this.#calls.size;
  }

  get full(): boolean {
    return this.#calls.size >= this.limit;
  }

  /** Starts tracking a call (its id must not be in flight). */
  add(call: OutgoingCall): void {
    this.#calls.set(call.id, call);
    call.signal?.addEventListener("abort", call, { once: true });
    if (call.deadline < this.#timerAt) this.#arm(call.deadline);
  }

  /** Removes and returns the call with this id, if it is in flight. */
  take(id: Id): OutgoingCall | undefined {
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#remove(call);
    return call;
  }

  /** Rejects a call with `reason` and tells the owner (timeout or abort). */
  giveUp(call: OutgoingCall, reason: unknown): void {
    if (this.#calls.get(call.id) !== call) return;
    this.#remove(call);
    call.reject(reason);
    this.#onGiveUp(call, reason);
  }

  /** Resolves when a call may be added; rejects if `signal` aborts first. */
  waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    const waiter = new RoomWaiter(this.#waiters, signal);
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** Rejects every call in flight and every waiter with `reason`. */
  rejectAll(reason: unknown): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    this.#disarm();
    for (const call of calls) {
      call.signal?.removeEventListener("abort", call);
      call.reject(reason);
    }
    for (const waiter of this.#waiters.splice(0)) waiter.fail(reason);
  }

  #remove(call: OutgoingCall): void {
    this.#calls.delete(call.id);
    call.signal?.removeEventListener("abort", call);
    if (this.#calls.size === 0) this.#disarm();
    if (this.#waiters.length > 0 && !this.full) this.#waiters.shift()!.wake();
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweep, Math.max(0, at - Date.now()));
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #sweep = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    // Timers may fire up to a millisecond early against the wall clock.
    const now = Date.now() + 1;
    let next = Infinity;
    const expired: OutgoingCall[] = [];
    for (const call of this.#calls.values()) {
      if (call.deadline <= now) expired.push(call);
      else if (call.deadline < next) next = call.deadline;
    }
    for (const call of expired) this.giveUp(call, this.#onTimeout(call));
    if (next < Infinity && this.#calls.size > 0 && next < this.#timerAt) this.#arm(next);
  };
}
