/**
 * {@linkcode ConcurrencyLimit}: a bound on work in progress shared by many
 * peers. A {@linkcode Server} makes one for all its connections
 * (`maxRunningHandlers`), so a thousand clients cannot each run their own
 * full share of handlers at once: a peer that finds the shared limit full
 * stops reading until another peer finishes something.
 *
 * It is shared fairly: a peer may start work only while it holds fewer
 * slots than are free ({@linkcode ConcurrencyLimit.canTake}). One client,
 * over as many connections as it likes, cannot take every slot (each of its
 * connections stops while it holds as many as are left), so another client
 * always finds room, and a slot that frees goes to whoever holds fewer.
 *
 * @example Two peers, one limit of one handler
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ConcurrencyLimit, memoryPair, Peer } from "@seed/rpc";
 *
 * const limit = new ConcurrencyLimit(1);
 * let running = 0;
 * let most = 0;
 * const work = async () => {
 *   most = Math.max(most, ++running);
 *   await new Promise((resolve) => setTimeout(resolve, 5));
 *   running--;
 *   return "done";
 * };
 * const [a1, b1] = memoryPair();
 * const [a2, b2] = memoryPair();
 * const servers = [new Peer(a1, { limit, handlers: { work } }), new Peer(a2, { limit, handlers: { work } })];
 * const clients = [new Peer(b1), new Peer(b2)];
 * assertEquals(await Promise.all(clients.map((c) => c.call("work"))), ["done", "done"]);
 * assertEquals(most, 1);
 * await Promise.all(clients.map((c) => c.close()));
 * await Promise.all(servers.map((s) => s.closed));
 * ```
 *
 * @module
 */

/**
 * A counter of work in progress with a bound, and a way to wait for room.
 *
 * @example Waiting for room
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ConcurrencyLimit } from "@seed/rpc";
 * const limit = new ConcurrencyLimit(2);
 * limit.acquire();
 * limit.acquire();
 * assertEquals([limit.used, limit.full], [2, true]);
 * const room = limit.room();
 * limit.release();
 * await room;
 * assertEquals(limit.full, false);
 * ```
 */
export class ConcurrencyLimit {
  /** The bound. */
  readonly limit: number;
  #used = 0;
  #room: PromiseWithResolvers<void> | undefined;

  /**
   * Makes a limit.
   *
   * @param limit The most work in progress at once (a whole number ≥ 1, or Infinity).
   */
  constructor(limit: number) {
    if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`A limit must be a whole number of at least 1, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Work in progress now. */
  get used(): number {
    return this.#used;
  }

  /** Whether the bound is reached. */
  get full(): boolean {
    return this.#used >= this.limit;
  }

  /** One more piece of work started (it may go past the bound: check `full` first). */
  acquire(): void {
    this.#used++;
  }

  /** One piece of work ended: everyone waiting for room looks again. */
  release(): void {
    this.#used--;
    if (this.#room !== undefined) {
      const room = this.#room;
      this.#room = undefined;
      room.resolve();
    }
  }

  /**
   * Whether a holder of `holding` slots may take one more: the bound is not
   * reached, and it holds fewer than are free (so nobody can take the last
   * ones while holding many).
   *
   * @param holding How many slots the one asking holds now.
   */
  canTake(holding: number): boolean {
    return holding < this.limit - this.#used;
  }

  /**
   * Resolves when a holder of `holding` slots may take one more (at once if
   * it may): after the next release, when it may not yet.
   *
   * @param holding How many slots the one asking holds now.
   */
  room(holding = 0): Promise<void> {
    if (this.canTake(holding)) return Promise.resolve();
    this.#room ??= Promise.withResolvers<void>();
    return this.#room.promise;
  }
}
