/**
 * Timers for delays a user gives (timeouts, deadlines, intervals). A timer
 * cannot wait 2^31 ms (about 24.8 days) or more: such a delay fires after
 * 1 ms with a warning, each time. Here it means "never", like Infinity.
 *
 * @module
 */

/** The longest delay a timer can wait, in milliseconds (2^31 - 1). */
export const MAX_DELAY = 2 ** 31 - 1;

/** Whether a delay means "never": Infinity, or longer than a timer can wait. */
export function never(ms: number): boolean {
  return !(ms <= MAX_DELAY);
}

/** `setTimeout(callback, ms)`, or no timer (undefined) when `ms` means never. */
export function startTimer(
  callback: () => void,
  ms: number,
): ReturnType<typeof setTimeout> | undefined {
  return never(ms) ? undefined : setTimeout(callback, Math.max(0, ms));
}

/** `setInterval(callback, ms)`, or no timer (undefined) when `ms` means never. */
export function startInterval(
  callback: () => void,
  ms: number,
): ReturnType<typeof setInterval> | undefined {
  return never(ms) ? undefined : setInterval(callback, ms);
}
