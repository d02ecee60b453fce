/**
 * The {@linkcode Logger} the library writes to. Malformed input, failed
 * notifications and dropped replies are logged, never silently lost.
 *
 * @module
 */

/**
 * Where the library's log lines go. `data` is the structured detail (an
 * error, a frame excerpt).
 *
 * @example A logger of your own, collecting lines
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type Logger, memoryPair, Peer } from "@seed/rpc";
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: () => {},
 *   warn: (message) => lines.push(`warn ${message}`),
 *   error: (message) => lines.push(`error ${message}`),
 * };
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { logger, name: "demo" });
 * const client = new Peer(b);
 * await client.notify("nobody");
 * await client.call("rpc.ping"); // answered after the notification was handled
 * assertEquals(lines, ["warn demo: notification for unknown method 'nobody' dropped"]);
 * await client.close();
 * await server.closed;
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
 * @example The console logger writes warnings with console.warn
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { consoleLogger } from "@seed/rpc";
 * const seen: unknown[][] = [];
 * const warn = console.warn;
 * console.warn = (...args: unknown[]) => void seen.push(args);
 * try {
 *   consoleLogger.warn("disk almost full", { free: "2%" });
 *   consoleLogger.debug("dropped");
 * } finally {
 *   console.warn = warn;
 * }
 * assertEquals(seen, [["disk almost full", { free: "2%" }]]);
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
 * @example A peer that logs nothing
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, silentLogger } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { logger: silentLogger });
 * const client = new Peer(b);
 * await client.notify("nobody"); // would be logged as dropped
 * await client.call("rpc.ping");
 * assertEquals(server.stats().messagesReceived, 2);
 * await client.close();
 * await server.closed;
 * ```
 */
export const silentLogger: Logger = {
  debug(): void {},
  warn(): void {},
  error(): void {},
};

/**
 * Options for {@linkcode rateLimitedLogger}.
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
 * @example A flood of warnings, limited
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
