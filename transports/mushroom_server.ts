/**
 * The mushroom server, on `Deno.serve`: the handshake at a base path,
 * sessions of 22 random alphanumeric characters, each served over a
 * WebSocket at `<base><session_id>/` or by long polling on the same URL.
 * Every session joins a {@linkcode Server}'s registry, so its handlers, push
 * to one, some or all, limits and shutdown work as on every wire.
 *
 * - Handshake: `POST <base>` with `{"transports": [...], "auth": ...}`
 *   (sent as `text/plain` by browsers). The first transport in the client's
 *   list that the server offers wins; the answer is `{"transport": "ws",
 *   "url": "ws://host/<base><session_id>/"}` (or `poll` and `http://`).
 *   `authenticate` returning false answers 401 with
 *   `WWW-Authenticate: Mushroom`; no transport in common, 501; another
 *   method, 405 with `Allow: POST`. Every answer carries
 *   `Access-Control-Allow-Origin: *`.
 * - WebSocket: one message list per text frame; what the session has not
 *   had acknowledged is sent again when a socket attaches.
 * - Long polling: `POST <base><session_id>/` with a list of messages. A body
 *   with a heartbeat is a poll: held up to `pollTimeout` (40 s) and
 *   answered with every unacknowledged message. A body without one is a
 *   send, answered `null`.
 * - A session expires `sessionTimeout` (60 s) after its last transport went
 *   away; then its connection closes.
 *
 * @example A session by long polling, as the published client does it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { mushroomHandler } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server({ handlers: { get_time: () => 1342106240 } });
 * const handle = mushroomHandler(server, { path: "/mushroom/" });
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

import {
  type Channel,
  CloseCode,
  closeReason,
  consoleLogger,
  type Listener,
  type Logger,
  type Server,
  type Transport,
} from "../mod.ts";
import { pythonJson } from "../protocol/dialects/_python_json.ts";
import {
  MushroomSession,
  type MushroomSessionOptions,
} from "../protocol/dialects/mushroom_session.ts";
import { FrameQueue } from "../protocol/_frame_queue.ts";
import { type WebSocketOptions, WebSocketTransport } from "./websocket.ts";
import type { ServeInfo } from "./websocket_server.ts";
import { RestartingServe } from "./_http_listener.ts";

/**
 * A mushroom transport's name: `ws` (WebSocket) or `poll` (long polling).
 *
 * @example Both transports, preferred in order
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { MushroomTransportName } from "@seed/rpc/mushroom/server";
 * const preferred: MushroomTransportName[] = ["ws", "poll"];
 * assertEquals(preferred.length, 2);
 * ```
 */
export type MushroomTransportName = "ws" | "poll";

/**
 * Options for {@linkcode mushroomHandler} and {@linkcode listen}.
 *
 * @example Only long polling, with a password
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { MushroomServerOptions } from "@seed/rpc/mushroom/server";
 * const options: MushroomServerOptions = {
 *   path: "/live/",
 *   transports: ["poll"],
 *   authenticate: (auth) => auth === "open sesame",
 * };
 * assertEquals(options.transports, ["poll"]);
 * ```
 */
export interface MushroomServerOptions
  extends Omit<MushroomSessionOptions, "role" | "id" | "json" | "logger"> {
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
   * The largest handshake or poll body taken, in bytes; larger ones are
   * answered 413.
   *
   * @default {16777216}
   */
  maxBodyBytes?: number;
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

/** Where new sessions go, and whether one may come now. */
interface Sink {
  accepting(): boolean;
  take(session: MushroomSession): boolean;
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

const CORS = { "access-control-allow-origin": "*" };

function answer(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json", ...CORS, ...headers },
  });
}

function refuse(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...CORS, ...headers },
  });
}

/** The request's body as text, or `undefined` when it is over `limit` bytes. */
async function readBody(request: Request, limit: number): Promise<string | undefined> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > limit) return undefined;
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The handshake, the sessions' sockets and polls, for one base path. */
function endpoint(
  sink: Sink,
  options: MushroomServerOptions,
): (request: Request, info?: ServeInfo) => Promise<Response | undefined> {
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
  const sessions = new Map<string, MushroomSession>();

  const handshake = async (request: Request): Promise<Response> => {
    if (request.method !== "POST") return refuse(405, "Method not allowed", { allow: "POST" });
    const text = await readBody(request, maxBody);
    if (text === undefined) return refuse(413, "Body too large");
    let hello: { transports?: unknown; auth?: unknown };
    try {
      hello = JSON.parse(text);
    } catch {
      return refuse(400, "The handshake must be JSON");
    }
    if (hello === null || typeof hello !== "object" || !Array.isArray(hello.transports)) {
      return refuse(400, 'The handshake must be {"transports": [...], "auth": ...}');
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
        return refuse(401, "Unauthorized", { "www-authenticate": "Mushroom" });
      }
    }
    const transport = (hello.transports as unknown[]).find((name): name is MushroomTransportName =>
      offered.includes(name as MushroomTransportName)
    );
    if (transport === undefined) return refuse(501, "No transport in common");
    if (!sink.accepting()) return refuse(503, "Not accepting sessions");
    const id = newSessionId();
    const session = new MushroomSession({ ...options, role: "server", id, logger });
    if (!sink.take(session)) {
      await session.close(closeReason(CloseCode.Refused, "not accepted"));
      return refuse(503, "Not accepting sessions");
    }
    sessions.set(id, session);
    session.closed.then(() => sessions.delete(id));
    const url = new URL(request.url);
    const scheme = transport === "ws"
      ? (url.protocol === "https:" ? "wss" : "ws")
      : url.protocol.slice(0, -1);
    const host = request.headers.get("host") ?? url.host;
    return answer(200, pythonJson({ transport, url: `${scheme}://${host}${base}${id}/` }));
  };

  const session = async (
    request: Request,
    found: MushroomSession,
    info: ServeInfo | undefined,
  ): Promise<Response> => {
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (upgrade && request.method === "GET" && offered.includes("ws")) {
      const addr = info?.remoteAddr;
      const remote = addr === undefined ? found.id : `${addr.hostname}:${addr.port}`;
      const { socket, response } = Deno.upgradeWebSocket(request);
      found.attach(new WebSocketTransport(socket, { ...options.websocket, remote, logger }));
      return response;
    }
    if (request.method !== "POST" || !offered.includes("poll")) {
      return refuse(405, "Method not allowed", { allow: "POST" });
    }
    const text = await readBody(request, maxBody);
    if (text === undefined) return refuse(413, "Body too large");
    // Not request.signal: Deno.serve aborts it when the response is sent
    // (its "legacy abort", with a warning). A client that left is noticed by
    // the poll's timeout, or when its next poll replaces this one.
    return answer(200, await found.poll(text));
  };

  return async (request, info) => {
    const path = new URL(request.url).pathname;
    if (path === base) return await handshake(request);
    if (!path.startsWith(base)) return undefined;
    const rest = path.slice(base.length);
    const match = /^([A-Za-z0-9]{22})\/?$/.exec(rest);
    if (match === null) return undefined;
    const found = sessions.get(match[1]!);
    if (found === undefined || found.closeReason !== undefined) {
      return refuse(404, "No such session");
    }
    return await session(request, found, info);
  };
}

/**
 * A mushroom endpoint for your own `Deno.serve` handler: every session it
 * starts is added to `server`. Resolves with the response for requests
 * under its base path, and with `undefined` for the others, so your handler
 * can go on with them.
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
 *
 * @example Listening over TLS
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { MushroomListenOptions } from "@seed/rpc/mushroom/server";
 * const options: MushroomListenOptions = { cert: "-----BEGIN CERTIFICATE-----\n...", key: "..." };
 * assertEquals(typeof options.cert, "string");
 * ```
 */
export interface MushroomListenOptions extends Omit<MushroomServerOptions, "path"> {
  /** PEM certificate chain; required for `https://`. */
  cert?: string;
  /** PEM private key; required for `https://`. */
  key?: string;
}

/**
 * A mushroom endpoint on its own `Deno.serve`, as a {@linkcode Listener}
 * of sessions. Made by {@linkcode listen}.
 *
 * @example A mushroom listener
 * ```ts
 * import { assertMatch } from "@std/assert";
 * import { listen } from "@seed/rpc/mushroom/server";
 * const listener = listen("http://127.0.0.1:0/");
 * assertMatch(listener.addr, /^http:\/\/127\.0\.0\.1:\d+\/$/);
 * await listener.close();
 * ```
 */
export class MushroomListener implements Listener<string> {
  /** Where the handshake is, with the real port (`http://127.0.0.1:54321/`). */
  readonly addr: string;
  #http: RestartingServe;
  #queue = new FrameQueue<Channel>();
  #closing = false;

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
      accepting: () => !this.#closing,
      take: (session) => {
        if (this.#closing) return false;
        this.#queue.push(session)?.catch(() => session.close("not accepted"));
        return true;
      },
    }, { ...options, path });
    const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    // Deno.serve, started again if its loop fails (too many open files).
    this.#http = new RestartingServe(
      {
        hostname,
        port: Number(parsed.port),
        cert: options.cert,
        key: options.key,
        logger: options.logger ?? consoleLogger,
      },
      async (request, info) => (await handle(request, info)) ?? refuse(404, "Not found"),
    );
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.addr = `${secure ? "https" : "http"}://${host}:${this.#http.port}${path}`;
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

  /** Each new session, until the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Transport<string> | Channel> {
    return this.#queue;
  }
}

/**
 * Serves mushroom on `http://host:port/path/` (or `https://` with `cert`
 * and `key`), with its own `Deno.serve`; port 0 picks a free one. Give it to
 * `server.serve(...)`.
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
