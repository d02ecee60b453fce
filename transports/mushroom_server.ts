/**
 * The mushroom server: {@linkcode listen} on its own socket, or
 * {@linkcode mushroomHandler} inside your `Deno.serve`. A client's handshake,
 * `POST <base>` with `{"transports": [...], "auth": ...}`, opens a session
 * with a 22-character random id, served over a WebSocket at
 * `<base><session_id>/` or by long polling on the same URL (a body with a
 * heartbeat is a poll, held up to `pollTimeout`; one without is a send,
 * answered `null`). Each session joins a {@linkcode Server}'s registry once
 * its client first uses it, so handlers, push, limits and shutdown work as
 * on every wire.
 *
 * Strangers are bounded before they cost a connection (each option says
 * how): handshakes per second and sessions waiting for their client, in
 * total and per source address (429, 503); body size and time (413, 408);
 * browser origins and, on loopback, `Host` names (403, against DNS
 * rebinding). `authenticate` refusing answers 401, no transport in common
 * 501, another method 405. Session URLs come from `publicUrl` or the
 * listener's own address, never from the request's `Host`.
 *
 * @example A session by long polling, as the published client does it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { mushroomHandler } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server({ handlers: { get_time: () => 1342106240 } });
 * const handle = mushroomHandler(server, {
 *   path: "/mushroom/",
 *   publicUrl: "http://example.net/mushroom/",
 * });
 * const hello = await handle(new Request("http://example.net/mushroom/", {
 *   method: "POST",
 *   body: JSON.stringify({ transports: ["poll"], auth: null }),
 * }));
 * const { transport, url } = await hello!.json();
 * assertEquals(transport, "poll");
 * const post = (body: string) => handle(new Request(url, { method: "POST", body }));
 * assertEquals(await (await post('[[2, 0, "get_time"]]'))!.text(), "null");
 * assertEquals(await (await post("[[0, null]]"))!.text(), "[[3, 0, 0, 1342106240]]");
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { CloseCode, closeReason } from "../protocol/wire/close.ts";
import type { Channel } from "../protocol/wire/channel.ts";
import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";
import type { Server } from "../protocol/peer/server.ts";
import type { Listener, Transport } from "../protocol/wire/transport.ts";
import { pythonJson } from "../protocol/dialects/_python_json.ts";
import { MalformedBody } from "../protocol/dialects/mushroom_codec.ts";
import {
  MushroomBudget,
  MushroomSession,
  type MushroomSessionOptions,
} from "./mushroom/_session.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { type WebSocketOptions, WebSocketTransport } from "./websocket.ts";
import type { ServeInfo } from "./websocket_server.ts";
import {
  denoUpgrade,
  type HeadGate,
  type HttpListenerOptions,
  listenHttp,
  refusal,
  type RestartingServe,
  type Upgrade,
} from "./_http_listener.ts";
import { BrowserAccess, type BrowserAccessOptions, fromLoopback, isLoopback } from "./_browser.ts";
import { readBodyChunks, type Unread } from "./_http_body.ts";

export type { BrowserAccessOptions, HttpListenerOptions };

/**
 * A mushroom transport's name: `ws` (WebSocket) or `poll` (long polling).
 */
export type MushroomTransportName = "ws" | "poll";

/**
 * Options for {@linkcode mushroomHandler} and {@linkcode listen}.
 */
export interface MushroomServerOptions
  extends
    Omit<MushroomSessionOptions, "role" | "id" | "json" | "logger" | "budget" | "streams">,
    BrowserAccessOptions {
  /**
   * The base path: the handshake is `POST <path>`, sessions live at
   * `<path><session_id>/`.
   *
   * @default {"/"}
   */
  path?: string;
  /**
   * The transports offered, in the server's order of preference (the
   * client's order decides among them).
   *
   * @default {["ws", "poll"]}
   */
  transports?: readonly MushroomTransportName[];
  /**
   * Decides from the handshake's `auth` value (and the request) whether a
   * session may start; false answers 401.
   *
   * @default {everyone is let in}
   */
  authenticate?: (auth: unknown, request: Request) => boolean | Promise<boolean>;
  /**
   * Where clients reach the handshake (`https://app.example.net/live/`):
   * session URLs are built from it, and its origin may call. The request's
   * `Host` header is never used for them.
   *
   * @default {the listener's own address for listen(); for mushroomHandler, session URLs relative to the handshake (`/live/<id>/`)}
   */
  publicUrl?: string | URL;
  /**
   * The largest handshake body taken, in bytes; larger ones are answered
   * 413 (a handshake is tiny).
   *
   * @default {65536}
   */
  maxHandshakeBytes?: number;
  /**
   * The largest poll or send body taken, in bytes; larger ones are answered
   * 413.
   *
   * @default {16777216}
   */
  maxBodyBytes?: number;
  /**
   * Milliseconds a handshake, poll or send body may take to arrive; a
   * slower one is answered 408 and, with `listen()`, its connection closed
   * (Deno.serve cannot drop it).
   *
   * @default {10000}
   */
  bodyTimeout?: number;
  /**
   * Handshakes taken per second, over time (a burst of ten seconds' worth
   * is let through at once); beyond it, 429 with `Retry-After: 1`.
   *
   * @default {100}
   */
  maxHandshakesPerSecond?: number;
  /**
   * Handshakes taken per second from one remote address (a burst of ten
   * seconds' worth at once); beyond it, 429 with `Retry-After: 1`, so that
   * one source cannot use up `maxHandshakesPerSecond` for everyone. Sources
   * are told apart by address only (clients behind one proxy are one
   * source; an IPv6 client may have many); at most 10 000 are tracked at
   * once, beyond which the endpoint's own limits alone hold.
   *
   * @default {25}
   */
  maxHandshakesPerSecondPerSource?: number;
  /**
   * Sessions started from one remote address whose client has not come
   * back yet; beyond it, a handshake from there is answered 503.
   *
   * @default {250}
   */
  maxPendingSessionsPerSource?: number;
  /**
   * Sessions started whose client has not come back yet (no socket, no
   * poll); beyond it, a handshake is answered 503. They do not count
   * against the server's `maxConnections` until the client comes back.
   *
   * @default {1000}
   */
  maxPendingSessions?: number;
  /**
   * Milliseconds a new session waits for its client's first socket or poll
   * before it is dropped.
   *
   * @default {10000}
   */
  attachTimeout?: number;
  /**
   * The most characters of unacknowledged messages all sessions of this
   * endpoint keep together; beyond it, the sessions keeping the most drop
   * their oldest, and one keeping only its newest is closed
   * ({@linkcode MushroomBudget}).
   *
   * @default {67108864}
   */
  maxUnacknowledgedBytesTotal?: number;
  /**
   * Limits of each session's WebSocket (message size, write buffer).
   *
   * @default {{}}
   */
  websocket?: WebSocketOptions;
  /**
   * Where refusals and failures are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/** Where sessions go once their client comes back, and whether one may come now. */
interface Sink {
  accepting(): boolean;
  take(session: MushroomSession): boolean;
  /** The listener's own address (`http://127.0.0.1:8080/live/`), when it has one. */
  address?(): string | undefined;
  /** Whether it listens on a loopback address (unknown for a handler: false). */
  loopback?: boolean;
  /** Told when a poll starts being served (1) and when it is answered (-1). */
  polling?(change: 1 | -1): void;
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A new session id: 22 characters from `[A-Za-z0-9]`, drawn without bias
 * from `crypto.getRandomValues` (about 131 bits).
 *
 * @example Session ids are 22 alphanumeric characters
 * ```ts
 * import { assertMatch } from "@std/assert";
 * import { newSessionId } from "@seed/rpc/mushroom/server";
 * assertMatch(newSessionId(), /^[A-Za-z0-9]{22}$/);
 * ```
 */
export function newSessionId(): string {
  let id = "";
  const bytes = new Uint8Array(32);
  while (id.length < 22) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      // 248 = 4 × 62: bytes above it would favour the first letters.
      if (byte < 248 && id.length < 22) id += ALPHANUMERIC[byte % 62];
    }
  }
  return id;
}

/** Headers of every answer: CORS for an allowed browser origin. */
type Cors = Record<string, string>;

const NO_CORS: Cors = {};
const ANY_ORIGIN: Cors = { "access-control-allow-origin": "*" };

function answer(cors: Cors, status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "application/json", ...cors } });
}

const encoder = new TextEncoder();

function ignore(): void {}

/**
 * The refusal of a body that was not read. `listen()` closes the connection
 * after it. In your own Deno.serve: one too large is answered with a body
 * that fails after its text, which makes Deno.serve close the connection
 * (it would wait for the rest of the body, and offers no other way to drop
 * a connection; it passes the failure, one line, to its `onError`). One too
 * slow is answered as it is: Deno.serve cannot drop a connection while a
 * body read waits, and keeps it until the client sends more or leaves; the
 * body's memory is let go.
 */
function unread(cors: Cors, status: Unread): Response {
  const headers = { "content-type": "text/plain; charset=utf-8", ...cors, connection: "close" };
  if (status === 408) return new Response("The body did not arrive in time\n", { status, headers });
  if (status === 400) return new Response("The body could not be read\n", { status, headers });
  const bytes = encoder.encode("Body too large\n");
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
    },
    pull(controller) {
      controller.error(CUT);
    },
  });
  return new Response(body, { status, headers });
}

/** What ends a 413 answer: printed as one line, without a stack. */
const CUT = new Error("mushroom: a request body was too large; its connection is closed");
CUT.stack = CUT.message;

/** Handshake tokens (ten seconds' worth at most), and sessions started and not attached yet. */
interface Bucket {
  tokens: number;
  refilled: number;
  pending: number;
}

/** Takes a token from `bucket`, refilled at `rate` per second up to ten seconds' worth. */
function takeToken(bucket: Bucket, rate: number): boolean {
  const now = performance.now();
  bucket.tokens = Math.min(rate * 10, bucket.tokens + (now - bucket.refilled) * rate / 1000);
  bucket.refilled = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens--;
  return true;
}

/** The most remote addresses whose handshakes are counted apart. */
const MAX_SOURCES = 10_000;

/**
 * Handshake buckets per remote address, so that one source cannot use up
 * an endpoint's rate or pending sessions. When `MAX_SOURCES` are tracked,
 * the idle ones are forgotten (at most once a second); a new address that
 * still finds no room is not tracked, and only the endpoint's limits apply.
 */
class Sources {
  #buckets = new Map<string, Bucket>();
  #rate: number;
  #swept = 0;

  constructor(rate: number) {
    this.#rate = rate;
  }

  /** The bucket of `address`, made if need be; `undefined` when it is not tracked. */
  of(address: string | undefined): Bucket | undefined {
    if (address === undefined) return undefined;
    let bucket = this.#buckets.get(address);
    if (bucket !== undefined) return bucket;
    const now = performance.now();
    if (this.#buckets.size >= MAX_SOURCES) {
      if (now - this.#swept < 1000) return undefined;
      this.#swept = now;
      for (const [key, idle] of this.#buckets) {
        const full = idle.tokens + (now - idle.refilled) * this.#rate / 1000 >= this.#rate * 10;
        if (full && idle.pending === 0) this.#buckets.delete(key);
      }
      if (this.#buckets.size >= MAX_SOURCES) return undefined;
    }
    bucket = { tokens: this.#rate * 10, refilled: now, pending: 0 };
    this.#buckets.set(address, bucket);
    return bucket;
  }
}

/** Whether `url` names a wildcard address (`0.0.0.0`, `[::]`), which clients cannot reach. */
function isWildcard(url: URL): boolean {
  return url.hostname === "0.0.0.0" || url.hostname === "[::]";
}

/** The handshake, the sessions' sockets and polls, for one base path. */
function endpoint(
  sink: Sink,
  options: MushroomServerOptions,
): (request: Request, info?: ServeInfo, upgrade?: Upgrade) => Promise<Response | undefined> {
  const base = options.path ?? "/";
  if (!base.startsWith("/") || !base.endsWith("/")) {
    throw new TypeError(`path must start and end with '/', got '${base}'`);
  }
  const offered = options.transports ?? ["ws", "poll"];
  for (const name of offered) {
    if (name !== "ws" && name !== "poll") throw new TypeError(`unknown transport '${name}'`);
  }
  const logger = options.logger ?? consoleLogger;
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxHandshake = options.maxHandshakeBytes ?? 64 * 1024;
  const bodyTimeout = options.bodyTimeout ?? 10_000;
  const maxPending = options.maxPendingSessions ?? 1000;
  const attachTimeout = options.attachTimeout ?? 10_000;
  const rate = options.maxHandshakesPerSecond ?? 100;
  const sourceRate = options.maxHandshakesPerSecondPerSource ?? 25;
  const maxPendingPerSource = options.maxPendingSessionsPerSource ?? 250;
  let publicUrl: URL | undefined;
  if (options.publicUrl !== undefined) {
    publicUrl = new URL(options.publicUrl);
    if (!publicUrl.pathname.endsWith("/")) publicUrl.pathname += "/";
  }
  const access = new BrowserAccess(options, sink.loopback ?? false, publicUrl);
  // A handler in someone's Deno.serve: a loopback client gets listen()'s Host check.
  const onLoopback = sink.loopback === undefined
    ? new BrowserAccess(options, true, publicUrl)
    : access;
  const budget = new MushroomBudget(options.maxUnacknowledgedBytesTotal ?? 64 * 1024 * 1024);
  const sessions = new Map<string, MushroomSession>();
  /**
   * Ids handed out whose client has not come back yet, with their deadline
   * (oldest first) and their source's bucket. No session, no timer: one is
   * made when the client comes.
   */
  const pending = new Map<
    string,
    { deadline: number; source: Bucket | undefined; streams: boolean }
  >();
  /** The endpoint's handshake tokens (its pending sessions are `pending.size`). */
  const all: Bucket = { tokens: rate * 10, refilled: performance.now(), pending: 0 };
  const sources = new Sources(sourceRate);

  /** Forgets a pending id: its client came back, or did not in time. */
  const unpend = (id: string): void => {
    const source = pending.get(id)?.source;
    if (source !== undefined) source.pending--;
    pending.delete(id);
  };

  /** Whether a session may be started now for a client from `source`. */
  const mayStart = (source: Bucket | undefined): boolean =>
    sink.accepting() && pending.size < maxPending &&
    (source === undefined || source.pending < maxPendingPerSource);

  /** The CORS headers for `request`, or `undefined` when its origin may not call. */
  const corsOf = (request: Request, url: URL): Cors | undefined => {
    const allowed = access.allowedOrigin(request, url);
    if (allowed === null) return NO_CORS;
    if (allowed === "*") return ANY_ORIGIN;
    return allowed === undefined
      ? undefined
      : { "access-control-allow-origin": allowed, vary: "origin" };
  };

  /** Where the session `id` is, for the handshake's answer. */
  const sessionUrl = (transport: MushroomTransportName, id: string): string => {
    const address = sink.address?.();
    const root = publicUrl ??
      (address === undefined || isWildcard(new URL(address)) ? undefined : new URL(address));
    if (root === undefined) return `${base}${id}/`;
    const url = new URL(`${id}/`, root);
    if (transport === "ws") url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  };

  /** Forgets the ids whose client did not come back in time. */
  const purge = (): void => {
    const now = performance.now();
    for (const [id, { deadline }] of pending) {
      if (deadline > now) return;
      unpend(id);
    }
  };

  /** Whether `id` was handed out and its client may still come back. */
  const isPending = (id: string): boolean => (pending.get(id)?.deadline ?? 0) > performance.now();

  /**
   * The session `id` names; when its client comes back for the first time,
   * the session is made and joins the server now. 404: no such session (any
   * more); 503: the server refused it.
   */
  const open = (id: string): MushroomSession | 404 | 503 => {
    const found = sessions.get(id);
    if (found !== undefined) return found.closeReason === undefined ? found : 404;
    if (!isPending(id)) return 404;
    if (!sink.accepting()) return 503;
    const streams = pending.get(id)!.streams;
    unpend(id);
    const session = new MushroomSession({
      ...options,
      role: "server",
      id,
      logger,
      budget,
      streams,
    });
    if (!sink.take(session)) return 503;
    sessions.set(id, session);
    session.closed.then(() => sessions.delete(id));
    return session;
  };

  /** The refusal for a session that could not be opened. */
  const notOpen = (status: 404 | 503, cors: Cors): Response =>
    status === 404
      ? refusal(404, "No such session", cors)
      : refusal(503, "Not accepting sessions", { ...cors, "retry-after": "1" });

  const handshake = async (
    request: Request,
    cors: Cors,
    info: ServeInfo | undefined,
  ): Promise<Response> => {
    if (request.method !== "POST") {
      return refusal(405, "Method not allowed", { ...cors, allow: "POST" });
    }
    // The source's own bucket first: a source past its rate takes none of the endpoint's.
    const source = sources.of(info?.remoteAddr?.hostname);
    if ((source !== undefined && !takeToken(source, sourceRate)) || !takeToken(all, rate)) {
      await request.body?.cancel().catch(ignore);
      return refusal(429, "Too many handshakes", { ...cors, "retry-after": "1" });
    }
    purge();
    if (!mayStart(source)) {
      await request.body?.cancel().catch(ignore);
      return refusal(503, "Not accepting sessions", { ...cors, "retry-after": "1" });
    }
    const text = await readBodyChunks(request, maxHandshake, bodyTimeout);
    if (typeof text === "number") return unread(cors, text);
    let hello: { transports?: unknown; auth?: unknown; streams?: unknown };
    try {
      hello = JSON.parse(text);
    } catch {
      return refusal(400, "The handshake must be JSON", cors);
    }
    if (hello === null || typeof hello !== "object" || !Array.isArray(hello.transports)) {
      return refusal(400, 'The handshake must be {"transports": [...], "auth": ...}', cors);
    }
    if (options.authenticate !== undefined) {
      let allowed: boolean;
      try {
        allowed = await options.authenticate(hello.auth ?? null, request);
      } catch (error) {
        logger.error("mushroom: the authenticate hook threw", error);
        allowed = false;
      }
      if (allowed !== true) {
        return refusal(401, "Unauthorized", { ...cors, "www-authenticate": "Mushroom" });
      }
    }
    const transport = (hello.transports as unknown[]).find((name): name is MushroomTransportName =>
      offered.includes(name as MushroomTransportName)
    );
    if (transport === undefined) return refusal(501, "No transport in common", cors);
    // Asked again: authenticate may have taken a while.
    if (!mayStart(source)) {
      return refusal(503, "Not accepting sessions", { ...cors, "retry-after": "1" });
    }
    const id = newSessionId();
    // A client of ours says it streams; only it is told that we do (mushroom.js never asks).
    const streams = hello.streams === true;
    pending.set(id, { deadline: performance.now() + attachTimeout, source, streams });
    if (source !== undefined) source.pending++;
    const url = sessionUrl(transport, id);
    return answer(
      cors,
      200,
      pythonJson(streams ? { transport, url, streams: true } : { transport, url }),
    );
  };

  /** A socket, once open, carries the session unless a newer one came meanwhile. */
  const latest = new WeakMap<MushroomSession, WebSocketTransport>();

  const serveSession = async (
    request: Request,
    id: string,
    cors: Cors,
    info: ServeInfo | undefined,
    upgradeWebSocket: Upgrade,
  ): Promise<Response> => {
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (upgrade && request.method === "GET" && offered.includes("ws")) {
      const found = open(id);
      if (typeof found === "number") return notOpen(found, cors);
      const addr = info?.remoteAddr;
      const remote = addr === undefined ? found.id : `${addr.hostname}:${addr.port}`;
      let upgraded: { socket: WebSocket; response: Response };
      try {
        upgraded = upgradeWebSocket(request, {});
      } catch (error) {
        // Not a valid upgrade request (no key, no `Connection: upgrade`).
        return refusal(400, (error as Error).message, cors);
      }
      const { socket, response } = upgraded;
      const transport = new WebSocketTransport(socket, { ...options.websocket, remote, logger });
      latest.set(found, transport);
      // Attached once open: a socket closed while it is still connecting
      // stays open in Deno, so one replaced that early is closed here.
      socket.addEventListener("open", () => {
        if (latest.get(found) === transport) found.attach(transport);
        else transport.close(closeReason(CloseCode.Local, "replaced by a newer connection"));
      }, { once: true });
      return response;
    }
    if (request.method !== "POST" || !offered.includes("poll")) {
      return refusal(405, "Method not allowed", { ...cors, allow: "POST" });
    }
    const text = await readBodyChunks(request, maxBody, bodyTimeout);
    if (typeof text === "number") return unread(cors, text);
    const found = open(id);
    if (typeof found === "number") return notOpen(found, cors);
    sink.polling?.(1);
    try {
      // Not request.signal: Deno.serve aborts it when the response is sent
      // (its "legacy abort", with a warning). A client that left is noticed by
      // the poll's timeout, or when its next poll replaces this one.
      return answer(cors, 200, await found.poll(text));
    } catch (error) {
      if (!(error instanceof MalformedBody)) throw error;
      return refusal(400, `Not a list of mushroom messages: ${error.message}`, cors);
    } finally {
      sink.polling?.(-1);
    }
  };

  return async (request, info, upgrade = denoUpgrade) => {
    const url = new URL(request.url);
    const path = url.pathname;
    const ours = path === base ? undefined : sessionPath(path);
    if (path !== base && ours === undefined) return undefined;
    if (!(fromLoopback(info) ? onLoopback : access).hostAllowed(url)) {
      logger.debug(`mushroom: refused a request sent to host ${url.host}`);
      await request.body?.cancel().catch(ignore);
      return refusal(403, "Host not allowed");
    }
    const cors = corsOf(request, url);
    if (cors === undefined) {
      logger.debug(`mushroom: refused a request from origin ${request.headers.get("origin")}`);
      await request.body?.cancel().catch(ignore);
      return refusal(403, "Origin not allowed");
    }
    if (path === base) return await handshake(request, cors, info);
    const id = ours!;
    const found = sessions.get(id);
    if (found === undefined ? !isPending(id) : found.closeReason !== undefined) {
      await request.body?.cancel().catch(ignore);
      return refusal(404, "No such session", cors);
    }
    return await serveSession(request, id, cors, info, upgrade);
  };

  /** The session id in `path`, or `undefined` when `path` is not a session's. */
  function sessionPath(path: string): string | undefined {
    if (!path.startsWith(base)) return undefined;
    return /^([A-Za-z0-9]{22})\/?$/.exec(path.slice(base.length))?.[1];
  }
}

/**
 * A mushroom endpoint for your own `Deno.serve` handler: every session it
 * starts is added to `server` once its client comes back (its first socket
 * or poll). Resolves with the response for requests under its base path,
 * and with `undefined` for the others, so your handler can go on with them.
 * Without `publicUrl`, the session URLs it answers are relative to the
 * handshake (`/live/<id>/`), since it cannot know where it is reached.
 *
 * @example Mounted beside the rest of an app
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { mushroomHandler } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server();
 * const mushroom = mushroomHandler(server, { path: "/live/" });
 * assertEquals(await mushroom(new Request("http://localhost/index.html")), undefined);
 * assertEquals((await mushroom(new Request("http://localhost/live/")))?.status, 405);
 * await server.shutdown();
 * ```
 *
 * @example Pages from another site are refused
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { mushroomHandler } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server();
 * const mushroom = mushroomHandler(server, { path: "/live/" });
 * const hello = (origin: string) =>
 *   mushroom(new Request("http://app.example/live/", {
 *     method: "POST",
 *     headers: { origin, host: "app.example" },
 *     body: '{"transports": ["poll"], "auth": null}',
 *   }));
 * assertEquals((await hello("https://evil.example"))?.status, 403);
 * const same = await hello("http://app.example");
 * assertEquals(same?.headers.get("access-control-allow-origin"), "http://app.example");
 * assertEquals((await same!.json()).url.startsWith("/live/"), true);
 * await server.shutdown();
 * ```
 */
export function mushroomHandler<S>(
  server: Server<S>,
  options: MushroomServerOptions = {},
): (request: Request, info?: ServeInfo) => Promise<Response | undefined> {
  return endpoint({
    accepting: () => server.accepting,
    take: (session) => server.add(session, { name: session.id }) !== undefined,
  }, options);
}

/**
 * Options for {@linkcode listen}: a mushroom endpoint's, and TLS keys for
 * `https://`.
 */
export interface MushroomListenOptions
  extends Omit<MushroomServerOptions, "path">, HttpListenerOptions {}

/**
 * A mushroom endpoint on its own socket, as a {@linkcode Listener} of
 * sessions. Made by {@linkcode listen}.
 */
export class MushroomListener implements Listener<string> {
  /** Where the handshake is, with the real port (`http://127.0.0.1:54321/`). */
  readonly addr: string;
  #http: HeadGate | RestartingServe;
  #queue = new FrameQueue<Channel>();
  #closing = false;
  #admit: () => boolean = () => true;
  #polls = 0;

  /** Prefer {@linkcode listen}. */
  constructor(url: string | URL, options: MushroomListenOptions = {}) {
    const parsed = typeof url === "string" ? new URL(url) : url;
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`Expected an http:// or https:// URL, got '${parsed.href}'`);
    }
    if (parsed.port === "") throw new TypeError(`A port is required in '${parsed.href}'`);
    const secure = parsed.protocol === "https:";
    if (secure && (options.cert === undefined || options.key === undefined)) {
      throw new TypeError("https:// needs the cert and key options (PEM)");
    }
    const path = parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`;
    const handle = endpoint({
      accepting: () => !this.#closing && this.#admit(),
      take: (session) => {
        if (this.#closing) return false;
        this.#queue.push(session)?.catch(() => session.close("not accepted"));
        return true;
      },
      address: () => this.addr,
      loopback: isLoopback(parsed.hostname),
      polling: (change) => this.#polls += change,
    }, { ...options, path });
    const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    // Our own accept loop: deadlines for heads, and a connection whose body
    // stalls is closed (Deno.serve can do neither); one request after another.
    this.#http = listenHttp(
      { ...options, hostname, port: Number(parsed.port), secure, keepAlive: true },
      async (request, info, upgrade) =>
        (await handle(request, info, upgrade)) ?? refusal(404, "Not found"),
    );
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.addr = `${secure ? "https" : "http"}://${host}:${this.#http.port}${path}`;
  }

  /** Long polls being served now: read, and not answered yet (most are held, waiting). */
  get polls(): number {
    return this.#polls;
  }

  /**
   * Stops accepting sessions and stops the HTTP server: sessions lose their
   * sockets and polls, and expire unless closed first.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#queue.end(closeReason(CloseCode.Shutdown, "listener closed"));
    await this.#http.close();
  }

  /** Set by `Server.serve`: while the server would refuse a session, handshakes are answered 503. */
  admit(accepting: () => boolean): void {
    this.#admit = accepting;
  }

  /** Each new session, until the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Transport<string> | Channel> {
    return this.#queue;
  }
}

/**
 * Serves mushroom on `http://host:port/path/` (or `https://` with `cert`
 * and `key`) on its own socket; port 0 picks a free one. Give it to
 * `server.serve(...)`. Request heads are read under `headTimeout` and
 * `maxHeadBytes`, and a connection whose body does not arrive within
 * `bodyTimeout` is answered 408 and closed; {@linkcode mushroomHandler} in
 * your own `Deno.serve` has neither.
 *
 * @example Serving mushroom
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/mushroom";
 * import { listen } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server({ handlers: { add: ([a, b]) => a + b } })
 *   .serve(listen("http://127.0.0.1:0/"));
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await client.call("add", [1, 2]), 3);
 * await client.close();
 * await server.shutdown();
 * ```
 */
export function listen(url: string | URL, options: MushroomListenOptions = {}): MushroomListener {
  return new MushroomListener(url, options);
}
