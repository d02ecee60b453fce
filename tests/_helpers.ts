// Shared test helpers: a Peer on one end of a memory pair, raw frames on the other.

import {
  type Handler,
  type Logger,
  memoryPair,
  type MemoryTransport,
  Peer,
  type PeerOptions,
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
