/**
 * A table of calls in flight by id, for the hot path of both sides of a
 * peer.
 *
 * Why not a `Map`: its size swings from zero to the number in flight on
 * every round trip, and each rehash of an old `Map` leaves a dead table in
 * the old generation that keeps young call objects alive until they are
 * promoted (measured: 10-13% of a TCP client's time in GC, against 1% for a
 * hand-written client). Small whole-number ids (a counter's) go to a fixed
 * ring of slots cleared when a call ends; other ids (strings, UUIDs, a ring
 * collision) go to a `Map`. Internal; not exported from `mod.ts`.
 *
 * @module
 */

import type { Id } from "../wire/message.ts";

/** The ring's slots: twice the bound on calls in flight, within these limits. */
const MIN_SLOTS = 64;
const MAX_SLOTS = 8192;

/** Calls (anything with an `id`) by id. Each id is in the table at most once. */
export class CallTable<V extends { readonly id: Id | null | undefined }> {
  #ring: (V | undefined)[];
  #mask: number;
  #other = new Map<Id, V>();
  #size = 0;

  /** @param expected About how many calls are in flight at once. */
  constructor(expected: number) {
    let slots = MIN_SLOTS;
    while (slots < expected * 2 && slots < MAX_SLOTS) slots *= 2;
    this.#ring = new Array<V | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  /** Calls in the table. */
  get size(): number {
    return this.#size;
  }

  /** The call with this id, if any. */
  get(id: Id): V | undefined {
    if (isSlotted(id)) {
      const call = this.#ring[id & this.#mask];
      if (call !== undefined && call.id === id) return call;
    }
    return this.#other.size === 0 ? undefined : this.#other.get(id);
  }

  /** Adds a call whose id is not in the table. */
  add(call: V): void {
    const id = call.id as Id;
    if (isSlotted(id)) {
      const slot = id & this.#mask;
      if (this.#ring[slot] === undefined) {
        this.#ring[slot] = call;
        this.#size++;
        return;
      }
    }
    this.#other.set(id, call);
    this.#size++;
  }

  /** Removes `call` if it is in the table; returns whether it was. */
  remove(call: V): boolean {
    const id = call.id as Id;
    if (isSlotted(id)) {
      const slot = id & this.#mask;
      if (this.#ring[slot] === call) {
        this.#ring[slot] = undefined;
        this.#size--;
        return true;
      }
    }
    if (this.#other.get(id) !== call) return false;
    this.#other.delete(id);
    this.#size--;
    return true;
  }

  /** Every call, and empties the table. */
  drain(): V[] {
    const calls: V[] = [];
    if (this.#size === 0) return calls;
    for (let slot = 0; slot < this.#ring.length; slot++) {
      const call = this.#ring[slot];
      if (call !== undefined) {
        calls.push(call);
        this.#ring[slot] = undefined;
      }
    }
    for (const call of this.#other.values()) calls.push(call);
    this.#other.clear();
    this.#size = 0;
    return calls;
  }

  /** Calls `fn` for every call (do not change the table meanwhile). */
  forEach(fn: (call: V) => void): void {
    if (this.#size === 0) return;
    for (const call of this.#ring) if (call !== undefined) fn(call);
    for (const call of this.#other.values()) fn(call);
  }
}

/** Whether `id` goes in the ring: a whole number in [0, 2^31). */
function isSlotted(id: Id): id is number {
  return typeof id === "number" && (id | 0) === id && id >= 0;
}
