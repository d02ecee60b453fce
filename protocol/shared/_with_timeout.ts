/**
 * {@linkcode withTimeout}: wait for a promise, but not longer than a delay.
 *
 * @module
 */

import { startTimer } from "./_timer.ts";

/**
 * Resolves as `promise` settles, or with `timedOut` once `ms` milliseconds
 * passed first (a delay that means never, such as Infinity, waits for
 * `promise` alone). The timer is cleared either way. `promise` is not
 * cancelled: a caller that gives up on it handles its rejection if it cares.
 *
 * @example Drain for at most a second
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { withTimeout } from "./_with_timeout.ts";
 * const never = new Promise<string>(() => {});
 * assertEquals(await withTimeout(Promise.resolve("done"), 1000, "late"), "done");
 * assertEquals(await withTimeout(never, 1, "late"), "late");
 * ```
 */
export async function withTimeout<T, U>(
  promise: Promise<T>,
  ms: number,
  timedOut: U,
): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<U>((resolve) => timer = startTimer(() => resolve(timedOut), ms));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
