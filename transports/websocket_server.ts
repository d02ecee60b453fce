/**
 * The WebSocket wire, server side, on `Deno.serve`:
 * {@linkcode websocketHandler} mounts an endpoint in your own handler (it
 * answers its path and leaves other requests to you);
 * {@linkcode listen}`("ws://host:port/path")` is a {@linkcode Listener} with
 * its own socket (`wss://` with `cert` and `key`).
 *
 * Before upgrading, a request is checked in this order: its path, that it
 * asks for a WebSocket (426), `Host` against `hosts` (403: DNS rebinding),
 * `Origin` against `origins` (403), your `authorize` hook (401, or its
 * `Response`), a common subprotocol when `protocols` is given (400), and
 * that the server takes connections (503). Deno pings each socket and
 * closes it when no pong comes within `idleTimeout`.
 *
 * @example Mount an endpoint beside your own routes
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/websocket";
 * import { websocketHandler } from "@seed/rpc/websocket/server";
 *
 * const server = new Server({ handlers: { hello: ({ name }) => `hello ${name}` } });
 * const rpc = websocketHandler(server, {
 *   path: "/rpc",
 *   authorize: (request) => request.headers.get("authorization") === "Bearer let-me-in",
 * });
 * const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) =>
 *   (await rpc(request)) ?? new Response("the rest of your app", { status: 200 }));
 * const url = `ws://127.0.0.1:${http.addr.port}/rpc`;
 * const client = new Peer(await connect(url, { headers: { authorization: "Bearer let-me-in" } }));
 * assertEquals(await client.call("hello", { name: "Ada" }), "hello Ada");
 * await client.close();
 * await server.shutdown();
 * await http.shutdown();
 * ```
 *
 * @module
 */

import type { Dialect } from "../protocol/wire/dialect.ts";
import type { Listener, Transport } from "../protocol/wire/transport.ts";
import type { Server } from "../protocol/peer/server.ts";
import { consoleLogger } from "../protocol/shared/logger.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { CloseCode, closeReason } from "../protocol/wire/close.ts";
import { type WebSocketOptions, WebSocketTransport } from "./websocket.ts";
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

export type { BrowserAccessOptions, HttpListenerOptions };

/**
 * Options of a WebSocket endpoint.
 */
export interface WebSocketEndpointOptions extends WebSocketOptions, BrowserAccessOptions {
  /**
   * The path of the endpoint; requests for other paths are not its own.
   *
   * @default {"/"}
   */
  path?: string;
  /**
   * Decides, from the upgrade request, whether to upgrade: `true`, or
   * `false` (401), or a `Response` to answer with (a 403, a redirect).
   * Left out, everyone is let in.
   */
  authorize?: (request: Request) => boolean | Response | Promise<boolean | Response>;
  /**
   * Subprotocols and their dialects. The first subprotocol the client
   * offers that is listed here is chosen, and the connection speaks its
   * dialect; a client that offers none gets `dialect`, one that offers only
   * unknown ones gets 400. Left out, subprotocols are ignored.
   */
  protocols?: Readonly<Record<string, Dialect>>;
  /**
   * Milliseconds within which a client must answer Deno's ping; 0 turns the
   * pings off.
   *
   * @default {30000}
   */
  idleTimeout?: number;
}

/**
 * Options for {@linkcode listen}.
 */
export interface WebSocketListenOptions
  extends Omit<WebSocketEndpointOptions, "path">, HttpListenerOptions {}

/**
 * What an endpoint reads of `Deno.serve`'s handler info: the remote address
 * (a `Deno.ServeHandlerInfo` fits).
 */
export interface ServeInfo {
  /** Who connected. */
  readonly remoteAddr?: { readonly hostname?: string; readonly port?: number };
}

/** Where an upgraded connection goes, and whether one may come now. */
interface Sink {
  accepting(): boolean;
  take(transport: Transport<string>): void;
  /** Whether it listens on a loopback address (unknown for a handler: false). */
  loopback?: boolean;
}

/** Checks a request and upgrades it; `undefined` when the path is not ours. */
function endpoint(
  sink: Sink,
  options: WebSocketEndpointOptions,
): (request: Request, info?: ServeInfo, upgrade?: Upgrade) => Promise<Response | undefined> {
  const path = options.path ?? "/";
  const access = new BrowserAccess(options, sink.loopback ?? false);
  // A handler in someone's Deno.serve: a loopback client gets listen()'s Host check.
  const onLoopback = sink.loopback === undefined ? new BrowserAccess(options, true) : access;
  const logger = options.logger ?? consoleLogger;
  const idleTimeout = Math.ceil((options.idleTimeout ?? 30_000) / 1000);
  return async (request, info, upgrade = denoUpgrade) => {
    const url = new URL(request.url);
    if (url.pathname !== path) return undefined;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refusal(426, "This endpoint speaks WebSocket only", { upgrade: "websocket" });
    }
    if (!(fromLoopback(info) ? onLoopback : access).hostAllowed(url)) {
      logger.debug(`refused a WebSocket sent to host ${url.host}`);
      return refusal(403, "Host not allowed");
    }
    if (access.allowedOrigin(request, url) === undefined) {
      logger.debug(`refused a WebSocket from origin ${request.headers.get("origin")}`);
      return refusal(403, "Origin not allowed");
    }
    if (options.authorize !== undefined) {
      let verdict: boolean | Response;
      try {
        verdict = await options.authorize(request);
      } catch (error) {
        logger.error("the authorize hook threw", error);
        return refusal(500, "Authorization failed");
      }
      if (verdict instanceof Response) return verdict;
      if (verdict !== true) return refusal(401, "Unauthorized");
    }
    let dialect = options.dialect;
    let protocol: string | undefined;
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((name) => name.trim()).filter((name) => name !== "");
    if (options.protocols !== undefined && offered.length > 0) {
      protocol = offered.find((name) => Object.hasOwn(options.protocols!, name));
      if (protocol === undefined) {
        return refusal(400, `No supported subprotocol (offered: ${offered.join(", ")})`);
      }
      dialect = options.protocols[protocol];
    }
    if (!sink.accepting()) return refusal(503, "Not accepting connections");
    // Read before upgrading: the request is gone afterwards.
    const addr = info?.remoteAddr;
    const remote = addr?.hostname === undefined
      ? undefined
      : `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = upgrade(request, { protocol, idleTimeout });
    } catch (error) {
      // Not a valid upgrade request (no key, no `Connection: upgrade`).
      return refusal(400, (error as Error).message);
    }
    sink.take(new WebSocketTransport(upgraded.socket, { ...options, dialect, remote }));
    return upgraded.response;
  };
}

/**
 * An endpoint for your own `Deno.serve` handler: every connection it
 * upgrades is added to `server`. The function resolves with the response
 * for requests to its path, and with `undefined` for the others, so your
 * handler can go on with them.
 *
 * @example Plain HTTP is refused with 426
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { websocketHandler } from "@seed/rpc/websocket/server";
 *
 * const server = new Server();
 * const handle = websocketHandler(server, { path: "/rpc" });
 * assertEquals(await handle(new Request("http://localhost/elsewhere")), undefined);
 * assertEquals((await handle(new Request("http://localhost/rpc")))?.status, 426);
 * await server.shutdown();
 * ```
 */
export function websocketHandler<S>(
  server: Server<S>,
  options: WebSocketEndpointOptions = {},
): (request: Request, info?: ServeInfo) => Promise<Response | undefined> {
  return endpoint({
    accepting: () => server.accepting,
    take: (transport) => void server.add(transport),
  }, options);
}

/**
 * Parses `ws://host:port/path` or `wss://host:port/path`.
 *
 * @example Parsing WebSocket URLs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseWebSocketUrl } from "@seed/rpc/websocket/server";
 * assertEquals(parseWebSocketUrl("wss://[::1]:4000/rpc"), {
 *   secure: true,
 *   hostname: "::1",
 *   port: 4000,
 *   path: "/rpc",
 * });
 * ```
 */
export function parseWebSocketUrl(
  url: string | URL,
): { secure: boolean; hostname: string; port: number; path: string } {
  const parsed = typeof url === "string" ? new URL(url) : url;
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`Expected a ws:// or wss:// URL, got '${parsed.href}'`);
  }
  if (parsed.port === "") throw new TypeError(`A port is required in '${parsed.href}'`);
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    secure: parsed.protocol === "wss:",
    hostname,
    port: Number(parsed.port),
    path: parsed.pathname,
  };
}

/**
 * A WebSocket endpoint on its own `Deno.serve`, as a {@linkcode Listener}.
 * Made by {@linkcode listen}.
 *
 * @example A WebSocket listener
 * ```ts
 * import { assertMatch } from "@std/assert";
 * import { listen } from "@seed/rpc/websocket/server";
 * const listener = listen("ws://127.0.0.1:0/rpc");
 * assertMatch(listener.addr, /^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
 * await listener.close();
 * ```
 */
export class WebSocketListener implements Listener<string> {
  /** Where it listens, with the real port (`ws://127.0.0.1:54321/rpc`). */
  readonly addr: string;
  #http: HeadGate | RestartingServe;
  #queue = new FrameQueue<Transport<string>>();
  #closing = false;
  #admit: () => boolean = () => true;

  /** Prefer {@linkcode listen}. */
  constructor(url: string | URL, options: WebSocketListenOptions = {}) {
    const { secure, hostname, port, path } = parseWebSocketUrl(url);
    if (secure && (options.cert === undefined || options.key === undefined)) {
      throw new TypeError("wss:// needs the cert and key options (PEM)");
    }
    const handle = endpoint({
      accepting: () => !this.#closing && this.#admit(),
      take: (transport) => {
        this.#queue.push(transport)?.catch(() => transport.close("not accepted"));
      },
      loopback: isLoopback(hostname),
    }, { ...options, path });
    // Our own accept loop, with a deadline for each request head.
    this.#http = listenHttp(
      { ...options, hostname, port, secure },
      async (request, info, upgrade) =>
        (await handle(request, info, upgrade)) ?? refusal(404, "Not found"),
    );
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.addr = `${secure ? "wss" : "ws"}://${host}:${this.#http.port}${path}`;
  }

  /** Stops accepting: the HTTP server stops; open connections stay open. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#queue.end(closeReason(CloseCode.Shutdown, "listener closed"));
    await this.#http.close();
  }

  /** Set by `Server.serve`: a request the server would refuse is answered 503, not upgraded. */
  admit(accepting: () => boolean): void {
    this.#admit = accepting;
  }

  /** Each upgraded connection, until the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Transport<string>> {
    return this.#queue;
  }
}

/**
 * Listens on `ws://host:port/path` (or `wss://` with `cert` and `key`),
 * with its own `Deno.serve`; port 0 picks a free one. Give it to
 * `server.serve(...)`.
 *
 * @example Serving WebSocket
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/websocket";
 * import { listen } from "@seed/rpc/websocket/server";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } })
 *   .serve(listen("ws://127.0.0.1:0/rpc", { origins: ["http://localhost:8000"] }));
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.shutdown();
 * ```
 */
export function listen(url: string | URL, options: WebSocketListenOptions = {}): WebSocketListener {
  return new WebSocketListener(url, options);
}
