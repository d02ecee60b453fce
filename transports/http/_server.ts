/**
 * The server side of JSON-RPC over HTTP: the checks a POST goes through
 * before its body reaches the endpoint's one channel
 * ({@linkcode ExchangeChannel}), and the listener with its own socket.
 *
 * @module
 */

import type { Channel } from "../../protocol/wire/channel.ts";
import type { Listener, Transport } from "../../protocol/wire/transport.ts";
import type { Server } from "../../protocol/peer/server.ts";
import type { Message } from "../../protocol/wire/message.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../protocol/wire/dialect.ts";
import { consoleLogger, type Logger } from "../../protocol/shared/logger.ts";
import { FrameQueue } from "../../protocol/wire/_frame_queue.ts";
import { CloseCode, closeReason } from "../../protocol/wire/close.ts";
import {
  BrowserAccess,
  type BrowserAccessOptions,
  type ClientInfo,
  fromLoopback,
  isLoopback,
} from "../_browser.ts";
import {
  type HeadGate,
  type HttpListenerOptions,
  listenHttp,
  refusal,
  type RestartingServe,
} from "../_http_listener.ts";
import { type BodyTaker, readBody, type Unread, unread } from "./_body.ts";
import { type Answered, codec, ExchangeChannel, json, NO_HEADERS } from "./_exchange.ts";

/** Options of a JSON-RPC over HTTP endpoint. */
export interface HttpEndpointOptions extends BrowserAccessOptions {
  /**
   * The path POSTs go to; other paths are answered 404.
   *
   * @default {"/"}
   */
  path?: string;
  /**
   * Decides, from the request and before its body is read, whether to
   * serve it: `true`, or `false` (401), or a `Response` to answer with
   * (a 403). Left out, everyone is served.
   */
  authorize?: (request: Request) => boolean | Response | Promise<boolean | Response>;
  /**
   * The largest request body, in bytes; a larger one is answered 413 (a
   * `Content-Length` over it before a byte is read).
   *
   * @default {16777216}
   */
  maxBodyBytes?: number;
  /**
   * Milliseconds a request body has to arrive; then it is answered 408.
   *
   * @default {10000}
   */
  bodyTimeout?: number;
  /**
   * The most POSTs past the checks at once (their bodies being read, or
   * waiting for or in their handlers); one more is answered 503 with
   * `Retry-After: 1` before its body is read.
   *
   * @default {1024}
   */
  maxConcurrentPosts?: number;
  /**
   * The most bytes of request bodies held at once (by `Content-Length`
   * before they are read, or as read); a POST past it is answered 503
   * with `Retry-After: 1`, before its body is read when it declared it.
   *
   * @default {67108864}
   */
  maxPendingBodyBytes?: number;
  /**
   * Where the endpoint logs refusals.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/** Options for {@linkcode listen}: an endpoint's, and the socket's own bounds and TLS keys. */
export interface HttpListenOptions extends Omit<HttpEndpointOptions, "path">, HttpListenerOptions {
  /**
   * The most connections open at once on the socket; one more is closed
   * as soon as it is accepted (a POST of each shares one channel, so the
   * server's own `maxConnections` does not bound them).
   *
   * @default {4096}
   */
  maxConnections?: number;
}

/** An answer given before the body is read. */
function answer(response: Response): Promise<Response> {
  return Promise.resolve(response);
}

/** A JSON-RPC error answer that no message of the body gets to: 400. */
function badRequest(
  code: number,
  message: string,
  data: string | undefined,
  cors: Record<string, string>,
): Response {
  const error = data === undefined ? { code, message } : { code, message, data };
  return json(400, JSON.stringify({ jsonrpc: "2.0", error, id: null }), cors);
}

/** The path of an absolute URL as sent (`/rpc` of `http://host/rpc?x`), without parsing it. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/**
 * The request handler of an endpoint whose POSTs go to `channel`; with
 * `loopback` unknown (a handler in someone's `Deno.serve`), a request from
 * a loopback client gets the `Host` check of an endpoint on loopback.
 */
function endpoint(
  channel: () => ExchangeChannel | undefined,
  options: HttpEndpointOptions,
  loopback: boolean | undefined,
): (request: Request, info?: ClientInfo) => Promise<Response> {
  const path = options.path ?? "/";
  const anywhere = new BrowserAccess(options, loopback ?? false);
  const onLoopback = loopback === undefined ? new BrowserAccess(options, true) : anywhere;
  const logger = options.logger ?? consoleLogger;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const bodyTimeout = options.bodyTimeout ?? 10_000;
  const maxPosts = options.maxConcurrentPosts ?? 1024;
  const maxPending = options.maxPendingBodyBytes ?? 64 * 1024 * 1024;
  /** POSTs past the checks, and the body bytes they hold. */
  let posts = 0;
  let pendingBytes = 0;
  // Whether `anywhere` reads the request's host (as BrowserAccess decides);
  // `onLoopback` always does, unless any host is allowed.
  // A path as a URL would write it: one sent as it is needs no parsing.
  const canonical = new URL(path, "http://host").pathname === path;
  const checksHost = options.hosts !== "*" && (options.hosts !== undefined || loopback === true);
  // The last URL whose host passed the strictest check (onLoopback's; for
  // listen() the only one): the same URL again (a client calling one
  // endpoint) passes any check without being parsed, and without asking
  // where the client is (Deno.serve's remoteAddr costs ~1 us a call): a
  // host onLoopback takes, anywhere takes too, and Origin does not depend
  // on which of them decides.
  let passed: string | undefined;
  const hostsChecked = checksHost || (loopback === undefined && options.hosts !== "*");
  // Declared before the handler is returned (a class is not hoisted).
  /** A POST past the checks: its body read, handed to the channel, and answered once. */
  class Taken implements BodyTaker, Answered {
    readonly answer = Promise.withResolvers<Response>();
    readonly #target: ExchangeChannel;
    readonly #cors: Record<string, string>;
    /** The body bytes it holds (by its declared length, or as read). */
    #held: number;
    #done = false;

    constructor(target: ExchangeChannel, cors: Record<string, string>, held: number) {
      this.#target = target;
      this.#cors = cors;
      this.#held = held;
    }

    /** Its body was empty, or not read: answered at once. */
    body(text: "" | Unread): void {
      this.answered(
        text === ""
          ? badRequest(-32600, "Invalid Request", "empty body", this.#cors)
          : unread(text, this.#cors, loopback !== undefined),
      );
    }

    /** Its body arrived parsed: answered at once, or handed to the channel. */
    parsed(value: unknown, size: number): void {
      try {
        const refused = this.#handOver(codec.decodeValue(value), size);
        if (refused !== undefined) this.answered(refused);
      } catch (error) {
        this.error(error);
      }
    }

    /** Its body is not JSON: a Parse error, as the codec answers one. */
    unparsable(reason: string): void {
      this.answered(badRequest(-32700, "Parse error", reason, this.#cors));
    }

    /** The answer to the POST; it lets go of what it held. */
    answered(response: Response): void {
      if (this.#release()) this.answer.resolve(response);
    }

    error(error: unknown): void {
      if (this.#release()) this.answer.reject(error);
    }

    #release(): boolean {
      if (this.#done) return false;
      this.#done = true;
      posts--;
      pendingBytes -= this.#held;
      return true;
    }

    /** Checks the body's messages and posts them to the channel; or the answer that refuses them. */
    #handOver(message: Message | readonly Message[], size: number): Response | undefined {
      const cors = this.#cors;
      if (Array.isArray(message)) {
        if (message.length === 0) return badRequest(-32600, "Invalid Request", "empty body", cors);
      } else {
        const one = message as Message;
        if (one.kind === "invalid") {
          return badRequest(one.error.code, one.error.message, one.error.data as string, cors);
        }
        if (one.kind !== "request" && one.kind !== "notification" && one.kind !== "cancel") {
          return badRequest(-32600, "Invalid Request", "a reply, not a call", cors);
        }
      }
      if (this.#held === 0 && size > 0) {
        // A body of no declared length (chunked) is held from when it was read.
        if (pendingBytes + size > maxPending) {
          return refusal(503, "Too many requests at once", { ...cors, "retry-after": "1" });
        }
        pendingBytes += size;
        this.#held = size;
      }
      this.#target.post(message, size, cors, this);
      return undefined;
    }
  }

  return (request, info) => {
    // Not async: a POST let through costs the one async step of `take`.
    try {
      return check(request, info);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /** The checks made before the body is read; a POST let through is taken. */
  function check(request: Request, info: ClientInfo | undefined): Promise<Response> {
    // The URL is parsed only when something needs more than its path as sent.
    const raw = request.url;
    let url: URL | undefined;
    if (!canonical || pathOf(raw) !== path) {
      url = new URL(raw);
      if (url.pathname !== path) return answer(refusal(404, "Not found"));
    }
    if (hostsChecked && raw !== passed) {
      const local = loopback === undefined && fromLoopback(info);
      if (checksHost || local) {
        const access = local ? onLoopback : anywhere;
        if (!access.hostAllowed(url ??= new URL(raw))) {
          logger.debug(`refused a POST sent to host ${url.host}`);
          return answer(refusal(403, "Host not allowed"));
        }
        // With `hosts` given, both take the same names.
        if (access === onLoopback || options.hosts !== undefined) passed = raw;
      }
    }
    // get, not has: Deno.serve reads one header without making the list of all.
    const origin = request.headers.get("origin") !== null
      ? anywhere.allowedOrigin(request, url ?? new URL(raw))
      : null;
    if (origin === undefined) {
      logger.debug(`refused a request from origin ${request.headers.get("origin")}`);
      return answer(refusal(403, "Origin not allowed"));
    }
    const cors = origin === null
      ? NO_HEADERS
      : { "access-control-allow-origin": origin, vary: "origin" };
    if (request.method === "OPTIONS" && origin !== null) {
      return answer(
        new Response(null, {
          status: 204,
          headers: {
            ...cors,
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": request.headers.get("access-control-request-headers") ??
              "content-type",
            "access-control-max-age": "600",
          },
        }),
      );
    }
    if (request.method !== "POST") {
      return answer(refusal(405, "JSON-RPC over HTTP takes POST only", { allow: "POST", ...cors }));
    }
    const type = request.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return answer(refusal(415, "The body must be application/json", cors));
    }
    if (options.authorize !== undefined) return authorized(options.authorize, request, cors);
    return admit(request, cors);
  }

  /** Asks the authorize hook, then admits the POST. */
  async function authorized(
    authorize: NonNullable<HttpEndpointOptions["authorize"]>,
    request: Request,
    cors: Record<string, string>,
  ): Promise<Response> {
    let verdict: boolean | Response;
    try {
      verdict = await authorize(request);
    } catch (error) {
      logger.error("the authorize hook threw", error);
      return refusal(500, "Authorization failed", cors);
    }
    if (verdict instanceof Response) return verdict;
    if (verdict !== true) return refusal(401, "Unauthorized", cors);
    return await admit(request, cors);
  }

  /** Admits a POST within the bounds on POSTs and their bytes, and takes it. */
  function admit(request: Request, cors: Record<string, string>): Promise<Response> {
    const target = channel();
    if (target === undefined || target.closeReason !== undefined) {
      return answer(refusal(503, "Not accepting requests", cors));
    }
    // Bounded before the body is read: POSTs at once, and their bytes.
    const declared = request.headers.get("content-length");
    let held = Number(declared ?? "0") || 0;
    if (!(held > 0) || held > maxBody) held = 0; // none, or refused unread (413)
    if (posts >= maxPosts || pendingBytes + held > maxPending) {
      logger.debug(`refused a POST: ${posts} POSTs and ${pendingBytes} body bytes held`);
      return answer(refusal(503, "Too many requests at once", { ...cors, "retry-after": "1" }));
    }
    posts++;
    pendingBytes += held;
    return take(target, request, declared, cors, held);
  }

  /**
   * Reads the body of a POST let through and hands it to `target`; once it
   * is answered, the POST and the bytes it held (`held`, by its declared
   * length) are let go. One promise from here to the answer: the body, the
   * exchange and the answer are callbacks of a {@linkcode Taken}.
   */
  function take(
    target: ExchangeChannel,
    request: Request,
    declared: string | null,
    cors: Record<string, string>,
    held: number,
  ): Promise<Response> {
    const taken = new Taken(target, cors, held);
    readBody(request, declared, maxBody, bodyTimeout, taken, loopback !== undefined);
    return taken.answer.promise;
  }
}

/**
 * An endpoint for your own `Deno.serve` handler: every POST to `path` is
 * served by `server` (through one connection of its own, named
 * `http <path>`); other paths are answered 404. Given `Deno.serve`'s
 * handler info, a POST from a loopback client (so on a loopback address)
 * to a `Host` that is not `localhost`, an IP address or in `hosts` is
 * refused 403, as `listen()` on loopback does (DNS rebinding): behind a
 * proxy on the same machine, list the names it forwards in `hosts`.
 */
export function httpHandler<S>(
  server: Server<S>,
  options: HttpEndpointOptions = {},
): (request: Request, info?: { readonly remoteAddr?: { readonly hostname?: string } }) => Promise<
  Response
> {
  const channel = new ExchangeChannel(`http ${options.path ?? "/"}`);
  const added = server.add(channel) !== undefined;
  return endpoint(() => added ? channel : undefined, options, undefined);
}

/**
 * Parses `http://host:port/path` or `https://host:port/path`.
 */
export function parseHttpUrl(
  url: string | URL,
): { secure: boolean; hostname: string; port: number; path: string } {
  const parsed = typeof url === "string" ? new URL(url) : url;
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`Expected an http:// or https:// URL, got '${parsed.href}'`);
  }
  if (parsed.port === "") throw new TypeError(`A port is required in '${parsed.href}'`);
  return {
    secure: parsed.protocol === "https:",
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(parsed.port),
    path: parsed.pathname,
  };
}

/**
 * A JSON-RPC over HTTP endpoint on its own socket, as a
 * {@linkcode Listener}: it yields its one channel to `server.serve`.
 * Made by {@linkcode listen}.
 */
export class HttpListener implements Listener<string> {
  /** Where it listens, with the real port (`http://127.0.0.1:54321/rpc`). */
  readonly addr: string;
  #http: HeadGate | RestartingServe;
  #queue = new FrameQueue<Channel>();
  #channel: ExchangeChannel;
  #closing = false;
  #admit: () => boolean = () => true;

  /** Prefer {@linkcode listen}. */
  constructor(url: string | URL, options: HttpListenOptions = {}) {
    const { secure, hostname, port, path } = parseHttpUrl(url);
    if (secure && (options.cert === undefined || options.key === undefined)) {
      throw new TypeError("https:// needs the cert and key options (PEM)");
    }
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.#channel = new ExchangeChannel(`http ${path}`);
    const handle = endpoint(
      () => !this.#closing && this.#admit() ? this.#channel : undefined,
      { ...options, path },
      isLoopback(hostname),
    );
    // Our own accept loop: deadlines for heads, one request after another per connection.
    this.#http = listenHttp({
      ...options,
      hostname,
      port,
      secure,
      keepAlive: true,
      maxConnections: options.maxConnections ?? 4096,
    }, handle);
    this.addr = `${secure ? "https" : "http"}://${host}:${this.#http.port}${path}`;
    this.#queue.push(this.#channel);
  }

  /** POSTs being handled now: read, and not answered yet. */
  get pending(): number {
    return this.#channel.open;
  }

  /** Stops accepting: the HTTP server stops; POSTs being handled are answered. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#queue.end(closeReason(CloseCode.Shutdown, "listener closed"));
    await this.#http.close();
  }

  /** Set by `Server.serve`: while the server would refuse, POSTs are answered 503. */
  admit(accepting: () => boolean): void {
    this.#admit = accepting;
  }

  /** The endpoint's one channel, then nothing until the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Transport<string> | Channel> {
    return this.#queue;
  }
}

/**
 * Serves JSON-RPC over HTTP POST on `http://host:port/path` (or `https://`
 * with `cert` and `key`) on its own socket; port 0 picks a free one. Give
 * it to `server.serve(...)`.
 */
export function listen(url: string | URL, options: HttpListenOptions = {}): HttpListener {
  return new HttpListener(url, options);
}
