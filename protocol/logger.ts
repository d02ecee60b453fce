/**
 * The {@linkcode Logger} the library writes to. Malformed input, failed
 * notifications and dropped replies are logged, never silently lost.
 *
 * @example Capture log lines in a test
 * ```ts
 * import type { Logger } from "@seed/rpc";
 *
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: () => {},
 *   warn: (message) => lines.push(message),
 *   error: (message) => lines.push(message),
 * };
 * logger.warn("dropped a late reply");
 * console.log(lines);
 * ```
 *
 * @module
 */

/**
 * Where the library's log lines go. `data` is the structured detail (an
 * error, a frame excerpt).
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@seed/rpc";
 * consoleLogger.debug("not printed: debug lines are dropped");
 * ```
 */
export interface Logger {
  /** Detail useful when chasing a problem. */
  debug(message: string, ...data: unknown[]): void;
  /** Something was wrong with input or timing; service went on. */
  warn(message: string, ...data: unknown[]): void;
  /** Something failed that the user must look at. */
  error(message: string, ...data: unknown[]): void;
}

/**
 * The default logger: warnings and errors to the console, debug dropped.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@seed/rpc";
 * consoleLogger.debug("dropped");
 * ```
 */
export const consoleLogger: Logger = {
  debug(): void {},
  warn(message: string, ...data: unknown[]): void {
    console.warn(message, ...data);
  },
  error(message: string, ...data: unknown[]): void {
    console.error(message, ...data);
  },
};

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@seed/rpc";
 * silentLogger.error("nobody hears this");
 * ```
 */
export const silentLogger: Logger = {
  debug(): void {},
  warn(): void {},
  error(): void {},
};

/**
 * Options for {@linkcode rateLimitedLogger}.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { RateLimitOptions } from "@seed/rpc";
 * const options: RateLimitOptions = { lines: 5, interval: 1000 };
 * assertEquals(options.lines, 5);
 * ```
 */
export interface RateLimitOptions {
  /**
   * Lines let through per interval.
   *
   * @default {20}
   */
  lines?: number;
  /**
   * The interval, in milliseconds.
   *
   * @default {1000}
   */
  interval?: number;
}

const LIMITED = Symbol("rate limited");

/**
 * A logger that passes on at most `lines` lines per `interval` to `logger`,
 * and then says how many it dropped: one hostile connection sending junk
 * cannot flood the log (a peer wraps its logger in one).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type Logger, rateLimitedLogger } from "@seed/rpc";
 * const lines: string[] = [];
 * const sink: Logger = { debug: () => {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
 * const logger = rateLimitedLogger(sink, { lines: 2, interval: 60_000 });
 * for (let i = 0; i < 1000; i++) logger.warn(`dropped reply ${i}`);
 * assertEquals(lines, ["dropped reply 0", "dropped reply 1"]);
 * ```
 */
export function rateLimitedLogger(logger: Logger, options: RateLimitOptions = {}): Logger {
  if ((logger as { [LIMITED]?: boolean })[LIMITED]) return logger;
  const limit = options.lines ?? 20;
  const interval = options.interval ?? 1000;
  let windowStart = 0;
  let passed = 0;
  let dropped = 0;
  const admit = (): boolean => {
    const now = Date.now();
    if (now - windowStart >= interval) {
      if (dropped > 0) {
        logger.warn(`(${dropped} log lines dropped in the last ${interval} ms: too many)`);
      }
      windowStart = now;
      passed = 0;
      dropped = 0;
    }
    if (passed < limit) {
      passed++;
      return true;
    }
    dropped++;
    return false;
  };
  return {
    [LIMITED]: true,
    debug: (message, ...data) => logger.debug(message, ...data),
    warn: (message, ...data) => {
      if (admit()) logger.warn(message, ...data);
    },
    error: (message, ...data) => {
      if (admit()) logger.error(message, ...data);
    },
  } as Logger;
}
