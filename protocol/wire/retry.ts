/**
 * {@linkcode Backoff}: the wait between attempts of a reconnect loop,
 * written once. Each failure in a row doubles the wait (with jitter) up to
 * `maxDelay`; a success, or a connection that stayed up long enough, starts
 * over; closing aborts the wait.
 *
 * @module
 */

import { startTimer } from "../shared/_timer.ts";

/** Options for a {@linkcode Backoff}. */
export interface BackoffOptions {
  /**
   * Milliseconds before the first retry; each failure in a row doubles it.
   *
   * @default {250}
   */
  minDelay?: number;
  /**
   * The longest wait between attempts, in milliseconds.
   *
   * @default {30000}
   */
  maxDelay?: number;
  /**
   * Milliseconds a connection must stay up for its drop to start the
   * backoff over (see {@linkcode Backoff.disconnected}).
   *
   * @default {1000}
   */
  stableAfter?: number;
}

/**
 * Counts failures in a row and waits before the next attempt.
 *
 * @example A loop that retries until it connects
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Backoff } from "./retry.ts";
 *
 * const backoff = new Backoff({ minDelay: 1, maxDelay: 4 });
 * let tries = 0;
 * const connect = () => ++tries === 3;
 * while (!connect()) {
 *   backoff.fail();
 *   await backoff.wait();
 * }
 * backoff.reset();
 * assertEquals([tries, backoff.failures], [3, 0]);
 * ```
 *
 * @internal
 */
export class Backoff {
  /** Milliseconds before the first retry. */
  readonly minDelay: number;
  /** The longest wait between attempts. */
  readonly maxDelay: number;
  /** Milliseconds up after which a drop starts the backoff over. */
  readonly stableAfter: number;
  #failures = 0;
  #since = 0;

  /**
   * Makes a backoff with no failure yet.
   *
   * @param options The first and longest wait, and when a connection counts as stable.
   */
  constructor(options: BackoffOptions = {}) {
    this.minDelay = options.minDelay ?? 250;
    this.maxDelay = options.maxDelay ?? 30_000;
    this.stableAfter = options.stableAfter ?? 1000;
  }

  /** Failed attempts in a row. */
  get failures(): number {
    return this.#failures;
  }

  /** The attempt the next wait comes before: 1 for the first retry, then 2, 3... */
  get attempt(): number {
    return Math.max(1, this.#failures);
  }

  /** One more attempt failed. */
  fail(): void {
    this.#failures++;
  }

  /** An attempt succeeded: the next wait is the first one again. */
  reset(): void {
    this.#failures = 0;
  }

  /** A connection opened now (see {@linkcode Backoff.disconnected}). */
  connected(): void {
    this.#since = Date.now();
  }

  /** The connection dropped: the backoff starts over if it stayed up `stableAfter`, else counts a failure. */
  disconnected(): void {
    if (Date.now() - this.#since >= this.stableAfter) this.reset();
    else this.fail();
  }

  /** The wait before the next attempt, with jitter (see {@linkcode backoffDelay}). */
  delay(): number {
    return backoffDelay(this.attempt, this.minDelay, this.maxDelay);
  }

  /**
   * Waits `ms` (a new {@linkcode Backoff.delay} when left out), or until
   * `signal` aborts; never rejects. A delay of 2^31 ms or more waits for
   * the abort only.
   */
  wait(signal?: AbortSignal, ms: number = this.delay()): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = startTimer(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        if (timer !== undefined) clearTimeout(timer); // (not undefined: see outgoing.ts)
        signal?.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}

/**
 * Exponential backoff with jitter: the wait before attempt `attempt` (from
 * 1), between half and all of `min × 2^(attempt-1)`, capped at `max`.
 *
 * @internal
 */
export function backoffDelay(attempt: number, min: number, max: number): number {
  const step = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
  return Math.round(step / 2 + Math.random() * step / 2);
}
