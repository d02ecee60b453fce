/// <reference types="@types/node" />
// (The Node types every test program uses: jayson 5, in tests/http_peers_test.ts,
// brings @types/node 12, which has no `node:` module names such as `node:dgram`.)
// Shared test helpers: a Peer on one end of a memory pair, raw frames on the other.

import {
  type Handler,
  type Logger,
  memoryPair,
  type MemoryTransport,
  Peer,
  type PeerOptions,
  Server,
} from "../mod.ts";

/** A logger that keeps every line, by level. */
export interface RecordingLogger extends Logger {
  lines: { level: "debug" | "warn" | "error"; message: string; data: unknown[] }[];
  /** Messages at `level` (all levels when omitted). */
  messages(level?: "debug" | "warn" | "error"): string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger["lines"] = [];
  return {
    lines,
    debug: (message, ...data) => lines.push({ level: "debug", message, data }),
    warn: (message, ...data) => lines.push({ level: "warn", message, data }),
    error: (message, ...data) => lines.push({ level: "error", message, data }),
    messages: (level) => lines.filter((l) => !level || l.level === level).map((l) => l.message),
  };
}

/** A peer serving `handlers`, and the raw other end to send frames from. */
export interface RawHarness {
  peer: Peer;
  raw: MemoryTransport<string>;
  logger: RecordingLogger;
  /** Sends `frame` and resolves with the next frame the peer sends. */
  exchange(frame: string): Promise<string>;
  /** The next frame the peer sends. */
  next(): Promise<string>;
  close(): Promise<void>;
}

export function rawHarness(
  handlers: Record<string, Handler>,
  options: Partial<PeerOptions> = {},
): RawHarness {
  const [a, raw] = memoryPair<string>();
  const logger = recordingLogger();
  const peer = new Peer(a, { handlers, logger, ...options });
  const iterator = raw.frames[Symbol.asyncIterator]();
  const next = async () => {
    const item = await iterator.next();
    if (item.done) throw new Error("the peer closed the connection");
    return item.value;
  };
  return {
    peer,
    raw,
    logger,
    next,
    exchange: async (frame) => {
      await raw.send(frame);
      return await next();
    },
    close: async () => {
      await raw.close();
      await peer.closed;
    },
  };
}

/** Two peers speaking JSON-RPC over a memory pair. */
export function peerPair(
  serverOptions: Partial<PeerOptions> = {},
  clientOptions: Partial<PeerOptions> = {},
): { server: Peer; client: Peer; close(): Promise<void> } {
  const [a, b] = memoryPair<string>();
  const server = new Peer(a, { logger: recordingLogger(), ...serverOptions });
  const client = new Peer(b, { logger: recordingLogger(), ...clientOptions });
  return {
    server,
    client,
    close: async () => {
      await client.close();
      await server.closed;
    },
  };
}

/** A promise with its resolvers, for handlers that wait on the test. */
export function deferred<T = void>(): PromiseWithResolvers<T> {
  return Promise.withResolvers<T>();
}

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this many ms (the test then fails with `message`). @default {10000} */
  timeout?: number;
  /** Pause between checks, ms. @default {5} */
  interval?: number;
  /** What was awaited, for the failure. */
  message?: string;
}

/**
 * Resolves with the first truthy value of `condition` (checked now, then every
 * `interval` ms); rejects once `timeout` ms have passed, so a regression fails
 * the test instead of hanging the run. The pause is a real timer and is always
 * cleared, so the sanitizers stay happy.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeout = 10_000, interval = 5, message = "a condition" } = options;
  const deadline = performance.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (performance.now() >= deadline) {
      throw new Error(`waitFor: ${message} did not hold within ${timeout} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Rejects with a clear error when `promise` has not settled within `ms`; the
 * timer is cleared either way. For awaiting an event with a deadline.
 */
export async function within<T>(promise: Promise<T>, ms: number, what = "the event"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `Deno.test` with a deadline: the test fails when `fn` has not settled within
 * `timeout` ms, so a hang fails that test instead of hanging the run.
 */
export function test(
  name: string,
  fn: () => void | Promise<void>,
  timeout = 120_000,
): void {
  Deno.test(name, () => within(Promise.resolve().then(fn), timeout, `the test '${name}'`));
}

/** A server whose `stall` handler waits for `release`, and how many calls of it started. */
export function stallingServer(release: Promise<void>): { server: Server; started: () => number } {
  let started = 0;
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      stall: async () => {
        started++;
        await release;
        return "done";
      },
    },
  });
  return { server, started: () => started };
}
