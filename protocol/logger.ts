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
