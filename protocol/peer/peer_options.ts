/**
 * {@linkcode PeerOptions}, and how a peer reads them: the channel it talks
 * through (a transport is framed with its dialect's codec) and the checks on
 * bound options.
 *
 * Internal to the {@linkcode Peer}; {@linkcode PeerOptions} is exported.
 *
 * @module
 */

import type { Channel } from "../wire/channel.ts";
import type { Handler } from "./context.ts";
import type { Dialect } from "../wire/dialect.ts";
import { framed } from "../wire/framed.ts";
import type { Interceptor } from "./intercept.ts";
import { jsonRpc } from "../dialects/jsonrpc.ts";
import type { ConcurrencyLimit } from "./limit.ts";
import type { Logger } from "../shared/logger.ts";
import type { IdSource } from "./outgoing.ts";
import type { Transport } from "../wire/transport.ts";

/**
 * Options for a {@linkcode Peer}.
 */
export interface PeerOptions {
  /**
   * The dialect, when the peer is given a transport: its codec for `role`
   * is made for this connection. Ignored for a channel, which has its own.
   *
   * @default {the transport's `dialect`, else `jsonRpc`}
   */
  dialect?: Dialect;
  /**
   * Which side of the dialect this peer speaks, when given a transport
   * (simplerpc's two sides differ; JSON-RPC's do not).
   *
   * @default {"client"}
   */
  role?: "client" | "server";
  /** Handlers by method name (own enumerable keys only). */
  handlers?: Readonly<Record<string, Handler>>;
  /**
   * The handler for every method that has none of its own (`ctx.method`
   * names it): a proxy, a logger of every notification. Left out, such
   * calls are answered "Method not found" and such notifications dropped.
   *
   * @default {undefined}
   */
  fallback?: Handler;
  /**
   * Default call timeout in milliseconds; 0 waits forever.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Bound on our calls awaiting replies.
   *
   * @default {1024}
   */
  maxPendingCalls?: number;
  /**
   * At the bound: `"wait"` for room or `"reject"` with {@linkcode TooManyCalls}.
   *
   * @default {"wait"}
   */
  whenFull?: "wait" | "reject";
  /**
   * Bound on incoming calls being handled at once (each entry of a batch
   * counts, and so does a reply waiting to be sent, unless this peer awaits
   * replies of its own then: two peers calling each other must both keep
   * reading). At the bound the peer stops reading from the channel, which
   * slows the sender.
   *
   * @default {256}
   */
  maxConcurrentHandlers?: number;
  /**
   * Bound on the size of the incoming calls being handled at once, in
   * characters of their frames: many large calls to slow handlers pause
   * reading as many small ones do.
   *
   * @default {67108864}
   */
  maxConcurrentBytes?: number;
  /**
   * A bound on running handlers shared with other peers (a server passes
   * one to each of its connections: `maxRunningHandlers`). The peer takes a
   * slot only while it holds fewer than are free (its fair share).
   */
  limit?: ConcurrencyLimit;
  /**
   * How our call ids are made: `"counter"` (1, 2, 3...), `"uuid"` (32 hex
   * digits, for channels shared by many callers), or a function.
   *
   * @default {"counter"}
   */
  ids?: IdSource;
  /**
   * Milliseconds of silence after which the peer pings the other side
   * (`rpc.ping`); no answer within as long again closes the channel
   * (`CloseCode.Unresponsive`). Any answer counts, even "Method not found",
   * so it works against any server of the dialect. 0: never.
   *
   * @default {0}
   */
  keepAlive?: number;
  /**
   * Functions around every call this peer serves and makes (auth, logging,
   * metrics); the first is the outermost. See {@linkcode Interceptor}.
   *
   * @default {[]}
   */
  interceptors?: readonly Interceptor[];
  /**
   * Measure how long our calls take to be answered and our handlers take to
   * finish, for {@linkcode Peer.stats} (`callLatency`, `handlerLatency`).
   * Costs two clock reads a call.
   *
   * @default {false}
   */
  latency?: boolean;
  /**
   * What the peer answers to `rpc.discover`: a description of what it
   * serves, usually a contract's {@linkcode Contract.openrpc} document.
   * Left out, `rpc.discover` is "Method not found", like any unknown method.
   *
   * @default {undefined}
   */
  discover?: unknown;
  /**
   * Whether the message of an unexpected exception (anything a handler
   * throws that is not an {@linkcode RpcError}) reaches the caller. `false`
   * answers it with a bare -32603 "Internal error", so internal details
   * (paths, hosts, credentials in a driver's message) stay on this side; the
   * exception is logged with its stack either way.
   *
   * @default {true}
   */
  exposeErrors?: boolean;
  /**
   * Where malformed input, failed notifications and dropped replies are
   * logged (at most 20 warnings and errors a second per peer; then a count
   * of the dropped ones).
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * A name for log lines.
   *
   * @default {the channel's `remote`}
   */
  name?: string;
}

/**
 * The channel a peer talks through: `connection` itself, or a transport
 * framed with the codec of its dialect (the `dialect` option, else the
 * transport's, else JSON-RPC) for the `role` side.
 */
export function peerChannel(
  connection: Transport<string> | Channel,
  options: PeerOptions,
  logger: Logger,
): Channel {
  if ("incoming" in connection) return connection;
  const dialect = options.dialect ?? connection.dialect ?? jsonRpc;
  const codec = options.role === "server" ? dialect.server() : dialect.client();
  return framed(connection, codec, { logger, maxBatchReplyBytes: dialect.maxFrameBytes });
}

/** The `interceptors` option, copied; undefined when there are none. */
export function interceptorsOption(
  interceptors: readonly Interceptor[] | undefined,
): readonly Interceptor[] | undefined {
  if (interceptors === undefined || interceptors.length === 0) return undefined;
  if (!interceptors.every((f) => typeof f === "function")) {
    throw new TypeError("interceptors must be functions");
  }
  return [...interceptors];
}

/** A bound option: undefined → fallback; otherwise a whole number ≥ 1 or Infinity. */
export function limitOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (value !== Infinity && !(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}
