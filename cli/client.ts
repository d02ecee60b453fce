/**
 * The `rpc` verbs that connect to a server: `call`, `notify`, `stream`,
 * `describe` and `watch`.
 *
 * @module
 */

import { DISCOVER_METHOD, type Handler, Peer, RemoteError, RpcError } from "../mod.ts";
import { connect as connectTcp } from "../transports/tcp.ts";
import { connect as connectWebSocket } from "../transports/websocket.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { connect as connectHttp, HttpError } from "../transports/http.ts";
import { quickRpcApi } from "../transports/quickrpc.ts";
import {
  dialectOf,
  isQuickRpcTransport,
  numberFlag,
  paramsOf,
  readPem,
  timeoutFlag,
  urlOf,
  UsageError,
} from "./args.ts";
import type { ParsedArgs } from "./parse_args.ts";
import { framingFlag, isStdioUrl, shownUrl, spawnPeer } from "./stdio.ts";
import {
  cliLogger,
  ExitStatus,
  reportConnectFailure,
  type Reporter,
  reportFailure,
} from "./report.ts";

/**
 * Milliseconds of silence after which `rpc watch` pings the server: well
 * under half of a server's idle timeout (`rpc serve`'s is 5 minutes).
 */
const DEFAULT_WATCH_KEEPALIVE = 30_000;

/** What the client verbs read and write. */
export interface ClientIo extends Reporter {
  stdout(line: string): void;
  /** All of stdin's text, for params `-`. */
  readStdin(): Promise<string>;
  /** Stops `watch` and `stream` (SIGINT, SIGTERM, or the caller's signal). */
  stop: Promise<string>;
}

/**
 * Connects to the URL of `flags`, or reports why not (then `undefined`);
 * `keepAlive`: the peer's pings after that many milliseconds of silence.
 */
async function open(
  verb: string,
  url: string,
  flags: ParsedArgs,
  io: ClientIo,
  fallback?: Handler,
  keepAlive?: number,
): Promise<Peer | undefined> {
  const dialect = dialectOf(flags, url);
  const timeout = timeoutFlag(flags);
  const caCerts = flags.ca === undefined ? undefined : [await readPem(flags.ca, "--ca")];
  const logger = cliLogger(io);
  framingFlag(flags, url);
  try {
    if (isStdioUrl(url) && dialect !== "mushroom") {
      return spawnPeer(url, flags, { dialect, logger, timeout, fallback });
    }
    // quickrpc's many-peer transports: a call without a receiver goes to every peer.
    if (isQuickRpcTransport(url)) {
      return (await quickRpcApi({ transport: url, logger, timeout, fallback })).peer;
    }
    const connection = dialect === "mushroom"
      ? await connectMushroom(url, {
        logger,
        fetch: fetchTrusting(caCerts),
        // Only `rpc stream` asks for streams: nothing extra goes to an original server otherwise.
        streams: verb === "stream",
      })
      : /^https?:/.test(url)
      ? await connectHttp(url, { caCerts })
      : /^wss?:/.test(url)
      ? await connectWebSocket(url, { dialect, caCerts, logger })
      : await connectTcp(url, { dialect, caCerts, logger });
    return new Peer(connection, { logger, timeout, fallback, keepAlive });
  } catch (error) {
    reportConnectFailure(io, verb, shownUrl(url), error);
    return undefined;
  }
}

/** `rpc call` and `rpc notify`. */
export async function callOrNotify(
  verb: "call" | "notify",
  flags: ParsedArgs,
  io: ClientIo,
): Promise<number> {
  const [urlText, method, paramsText, extra] = flags._.map(String);
  const url = urlOf(urlText, "connect");
  if (method === undefined) throw new UsageError("a method name is required");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const params = await paramsOf(paramsText, io.readStdin);
  const peer = await open(verb, url, flags, io);
  if (peer === undefined) return ExitStatus.Usage;
  try {
    if (verb === "notify") {
      await peer.notify(method, params);
      return ExitStatus.Ok;
    }
    const result = await peer.call(method, params);
    io.stdout(printable(result, flags.pretty === true));
    return ExitStatus.Ok;
  } catch (error) {
    return reportFailure(io, verb, hinted(error));
  } finally {
    await peer.close();
  }
}

/** `rpc stream`: a stream call's items, one JSON line each. */
export async function stream(flags: ParsedArgs, io: ClientIo): Promise<number> {
  const [urlText, method, paramsText, extra] = flags._.map(String);
  const url = urlOf(urlText, "connect");
  if (method === undefined) throw new UsageError("a method name is required");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const params = await paramsOf(paramsText, io.readStdin);
  const count = numberFlag(flags, "count", Infinity, 1);
  const credit = numberFlag(flags, "credit", 64, 1);
  const peer = await open("stream", url, flags, io);
  if (peer === undefined) return ExitStatus.Usage;
  const stopped = new AbortController();
  io.stop.then(() => stopped.abort(), () => {});
  try {
    let seen = 0;
    for await (const item of peer.stream(method, params, { credit, signal: stopped.signal })) {
      io.stdout(printable(item, false));
      if (++seen >= count) break;
    }
    return ExitStatus.Ok;
  } catch (error) {
    if (stopped.signal.aborted) return ExitStatus.Ok;
    return reportFailure(io, "stream", hinted(error));
  } finally {
    await peer.close();
  }
}

/**
 * A plain JSON-RPC POST that reached a mushroom handshake URL is answered
 * with mushroom's handshake error: say how to speak mushroom instead.
 */
function hinted(error: unknown): unknown {
  if (error instanceof HttpError && error.status === 400 && /handshake/i.test(error.message)) {
    return new Error(
      `${error.message}; this looks like a mushroom endpoint: add --dialect mushroom`,
    );
  }
  return error;
}

/** `rpc describe`: the server's `rpc.discover` document. */
export async function describe(flags: ParsedArgs, io: ClientIo): Promise<number> {
  const [urlText, extra] = flags._.map(String);
  const url = urlOf(urlText, "connect");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const peer = await open("describe", url, flags, io);
  if (peer === undefined) return ExitStatus.Usage;
  try {
    io.stdout(printable(await peer.call(DISCOVER_METHOD), true));
    return ExitStatus.Ok;
  } catch (error) {
    const unknown = error instanceof RemoteError && error.code === -32601;
    return reportFailure(
      io,
      "describe",
      unknown
        ? new RpcError(-32601, `${url} does not describe itself (no ${DISCOVER_METHOD})`)
        : hinted(error),
    );
  } finally {
    await peer.close();
  }
}

/** `rpc watch`: every notification, one JSON line each. */
export async function watch(flags: ParsedArgs, io: ClientIo): Promise<number> {
  const [urlText, method, paramsText, extra] = flags._.map(String);
  const url = urlOf(urlText, "connect");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  if (/^https?:/.test(url) && dialectOf(flags, url) !== "mushroom") {
    throw new UsageError(
      "watch needs notifications from the server, which JSON-RPC over HTTP POST cannot carry: " +
        "use --dialect mushroom for a mushroom server, or a ws:// or tcp:// URL",
    );
  }
  const params = await paramsOf(paramsText, io.readStdin);
  const count = numberFlag(flags, "count", Infinity, 1);
  // Pings while nothing arrives, so a quiet watch is not closed as idle by the server.
  const keepAlive = numberFlag(flags, "keep-alive", DEFAULT_WATCH_KEEPALIVE, 0);
  let seen = 0;
  const enough = Promise.withResolvers<string>();
  const print: Handler = (params, ctx) => {
    if (ctx.id !== undefined) {
      // A call, not a notification: nobody here answers calls.
      throw new RpcError(-32601, "Method not found", { method: ctx.method });
    }
    if (seen >= count) return undefined;
    const line: { method: string; params?: unknown } = { method: ctx.method };
    if (params !== undefined) line.params = params;
    io.stdout(printable(line, false));
    if (++seen >= count) enough.resolve("count");
    return undefined;
  };
  const peer = await open("watch", url, flags, io, print, keepAlive);
  if (peer === undefined) return ExitStatus.Usage;
  try {
    if (method !== undefined) {
      const answered = peer.call(method, params).then(() => "answered");
      // Notifications may arrive, and --count be reached, before the answer.
      if (await Promise.race([answered, enough.promise]) !== "answered") {
        answered.catch(() => {});
        return ExitStatus.Ok;
      }
    }
    const why = await Promise.race([
      enough.promise,
      io.stop,
      peer.closed.then(() => "closed"),
    ]);
    if (why === "closed") {
      const reason = peer.closeReason?.message ?? "closed";
      return reportFailure(io, "watch", new Error(`the connection closed: ${reason}`));
    }
    return ExitStatus.Ok;
  } catch (error) {
    return reportFailure(io, "watch", hinted(error));
  } finally {
    await peer.close();
  }
}

/** `value` as one line of JSON (indented when `pretty`), bytes as base64. */
function printable(value: unknown, pretty: boolean): string {
  return JSON.stringify(value, bytesAsBase64, pretty ? 2 : undefined) ?? "null";
}

function bytesAsBase64(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    let binary = "";
    for (const byte of value) binary += String.fromCharCode(byte);
    return { __bytes: btoa(binary) };
  }
  return value;
}

/** `fetch` trusting extra certificates (for https:// to a self-signed server). */
function fetchTrusting(caCerts: string[] | undefined): typeof fetch | undefined {
  if (caCerts === undefined) return undefined;
  const client = Deno.createHttpClient({ caCerts });
  return (input, init) => fetch(input, { ...init, client });
}
