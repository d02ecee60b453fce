/**
 * What the WebSocket and mushroom listeners (`listen()`) put in front of
 * Deno's HTTP machinery, so that a stranger cannot end the process or pin
 * its file descriptors:
 *
 * - {@linkcode HeadGate}: our own accept loop (a failed accept, such as too
 *   many open files, does not stop it, as for TCP) that reads each request
 *   head under a deadline and a size cap, then hands the request over. A
 *   WebSocket upgrade goes to Deno's own WebSocket (through
 *   `Deno.upgradeWebSocket`'s `socket` option); anything else is answered
 *   here and the connection closed. `Deno.serve` offers no header-read
 *   timeout (Deno 2.9), hence this.
 * - {@linkcode RestartingServe}: `Deno.serve` whose serve loop, when it
 *   fails (too many open files rejects `finished` and stops it), is started
 *   again on the same port instead of leaving an unhandled rejection.
 *
 * @module
 */

import type { Logger } from "../protocol/logger.ts";

/** What a handler reads of the connection: who connected. */
export interface ConnInfo {
  readonly remoteAddr: Deno.NetAddr;
}

/** Where the listening socket is, and how to make it. */
export interface HttpAddress {
  hostname: string;
  port: number;
  /** PEM certificate chain and key, for TLS. */
  cert?: string;
  key?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLFCRLF = [13, 10, 13, 10];

/** The internal symbol under which Deno keeps a connection's resource id. */
function ridOf(conn: object): number | undefined {
  for (const symbol of Object.getOwnPropertySymbols(conn)) {
    if (symbol.description === "Deno.internal.rid") {
      return (conn as Record<symbol, number>)[symbol];
    }
  }
  return undefined;
}

/**
 * Whether this Deno can hand a connection we accepted to its WebSocket
 * (the `socket` option of `Deno.upgradeWebSocket` and a connection's
 * resource id); if not, the listeners fall back to `Deno.serve`.
 */
export function canUpgradeOwnConnections(listener: Deno.Listener): boolean {
  return ridOf(listener) !== undefined;
}

/** Options of a {@linkcode HeadGate}. */
export interface HeadGateOptions {
  /** Milliseconds for a connection to deliver its request head (TLS handshake included). */
  headTimeout: number;
  /** The largest request head, in bytes; a larger one is answered 431. */
  maxHeadBytes: number;
  logger: Logger;
}

/**
 * Turns a request into a response. `upgrade` upgrades this request to a
 * WebSocket; call it instead of `Deno.upgradeWebSocket`.
 */
export type GateHandler = (
  request: Request,
  info: ConnInfo,
  upgrade: (options: Deno.UpgradeWebSocketOptions) => WebSocket,
) => Promise<Response>;

/** An accept loop that reads each request head under a deadline; see the module doc. */
export class HeadGate {
  /** The port it listens on. */
  readonly port: number;
  #listener: Deno.Listener;
  #secure: boolean;
  #options: HeadGateOptions;
  #handler: GateHandler;
  /** Connections whose head is being read or whose answer is being written. */
  #pending = new Set<Deno.Conn>();
  #closed = false;
  #loop: Promise<void>;

  constructor(
    listener: Deno.Listener,
    secure: boolean,
    options: HeadGateOptions,
    handler: GateHandler,
  ) {
    this.#listener = listener;
    this.#secure = secure;
    this.#options = options;
    this.#handler = handler;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#loop = this.#accept();
  }

  /** Connections still reading their head or being answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Stops accepting and drops connections that have not been upgraded. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#pending) closeQuietly(conn);
    await this.#loop;
  }

  async #accept(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        failures = 0;
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // A failed accept (too many open files, an aborted handshake) does
        // not stop the listener; the warning is not repeated while it lasts.
        if (failures++ === 0) this.#options.logger.warn(`accept failed: ${error}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      this.#serve(conn).catch((error) => {
        this.#options.logger.debug(`a connection failed before its upgrade: ${error}`);
      });
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    this.#pending.add(conn);
    const { headTimeout, maxHeadBytes } = this.#options;
    // Closing the connection ends a read that waits for the rest of the head.
    let late = false;
    const timer = headTimeout > 0 && headTimeout < 2 ** 31
      ? setTimeout(() => {
        late = true;
        closeQuietly(conn);
      }, headTimeout)
      : undefined;
    let upgraded = false;
    try {
      const head = await readHead(conn, maxHeadBytes).catch((error) => {
        if (late) return "late" as const;
        throw error;
      });
      clearTimeout(timer);
      if (head === "late" || head === undefined) return;
      if (head === "too large") {
        await answer(conn, refusal(431, "Request head too large"));
        return;
      }
      const request = parseHead(head.text, this.#secure, conn.localAddr as Deno.NetAddr);
      if (request === undefined) {
        await answer(conn, refusal(400, "Bad request"));
        return;
      }
      const upgrade = (options: Deno.UpgradeWebSocketOptions) => {
        const { socket } = Deno.upgradeWebSocket(request, {
          ...options,
          socket: nodeSocketOf(conn),
          head: head.rest,
        } as Deno.UpgradeWebSocketOptions);
        upgraded = true;
        return socket;
      };
      const info = { remoteAddr: conn.remoteAddr as Deno.NetAddr };
      let response: Response;
      try {
        response = await this.#handler(request, info, upgrade);
      } catch (error) {
        this.#options.logger.error("the request handler threw", error);
        response = refusal(500, "Internal error");
      }
      if (!upgraded) await answer(conn, response);
    } finally {
      clearTimeout(timer);
      this.#pending.delete(conn);
      if (!upgraded) closeQuietly(conn);
    }
  }
}

/**
 * What `Deno.upgradeWebSocket`'s `socket` option reads of a `node:net`
 * socket, made from a connection we accepted: Deno writes the 101 answer
 * through `write`, then takes the stream over from `_handle`.
 */
function nodeSocketOf(conn: Deno.Conn): unknown {
  return {
    destroyed: false,
    _handle: {
      readStop() {},
      takeStream: () => ridOf(conn),
    },
    write(text: string, done: (error?: Error) => void) {
      writeAll(conn, encoder.encode(text)).then(() => done(), done);
    },
  };
}

/** Reads up to the blank line; `undefined` when the connection ends first. */
async function readHead(
  conn: Deno.Conn,
  maxBytes: number,
): Promise<{ text: string; rest: Uint8Array } | "too large" | undefined> {
  let buffer = new Uint8Array(Math.min(4096, maxBytes + 4));
  let length = 0;
  let searched = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length >= maxBytes) return "too large";
      const bigger = new Uint8Array(Math.min(buffer.length * 2, maxBytes + 4));
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await conn.read(buffer.subarray(length));
    if (n === null) return undefined;
    length += n;
    const end = indexOf(buffer, length, CRLFCRLF, Math.max(0, searched - 3));
    searched = length;
    if (end !== -1) {
      if (end > maxBytes) return "too large";
      return {
        text: decoder.decode(buffer.subarray(0, end)),
        rest: buffer.slice(end + 4, length),
      };
    }
  }
}

function indexOf(bytes: Uint8Array, length: number, pattern: number[], from: number): number {
  outer: for (let i = from; i + pattern.length <= length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** An HTTP/1.1 request head as a `Request`, or `undefined` when it is not one. */
function parseHead(text: string, secure: boolean, local: Deno.NetAddr): Request | undefined {
  const lines = text.split("\r\n");
  const [method, target, version, extra] = lines[0]!.split(" ");
  if (extra !== undefined || version !== "HTTP/1.1" || !target?.startsWith("/")) return undefined;
  if (method === undefined || !/^[A-Z]+$/.test(method)) return undefined;
  try {
    const headers = new Headers();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0 || line[0] === " " || line[0] === "\t") return undefined;
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const host = headers.get("host") ??
      (local.hostname.includes(":") ? `[${local.hostname}]` : local.hostname) + `:${local.port}`;
    const url = new URL(`${secure ? "https" : "http"}://${host}${target}`);
    return new Request(url, { method, headers });
  } catch {
    return undefined;
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

function refusal(status: number, text: string): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Writes `response` as HTTP/1.1; the connection is closed afterwards. */
async function answer(conn: Deno.Conn, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${
    response.statusText || REASONS[response.status] || ""
  }\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "connection") head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(encoder.encode(head));
  bytes.set(body, head.length);
  await writeAll(conn, bytes);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed (or taken over by a WebSocket).
  }
}

/** Options of a {@linkcode RestartingServe}. */
export interface RestartingServeOptions extends HttpAddress {
  logger: Logger;
}

/**
 * `Deno.serve` on a fixed address that is started again when its serve
 * loop fails (too many open files), until it is closed.
 */
export class RestartingServe {
  /** The port it listens on (the first one picked, when asked for port 0). */
  readonly port: number;
  #options: RestartingServeOptions;
  #handler: Deno.ServeHandler<Deno.NetAddr>;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closed = false;
  #restarting: Promise<void> | undefined;
  /** Times the serve loop failed and was started again. */
  restarts = 0;

  constructor(options: RestartingServeOptions, handler: Deno.ServeHandler<Deno.NetAddr>) {
    this.#options = options;
    this.#handler = handler;
    this.#http = this.#start(options.port);
    this.port = this.#http.addr.port;
  }

  #start(port: number): Deno.HttpServer<Deno.NetAddr> {
    const { hostname, cert, key } = this.#options;
    const http = Deno.serve(
      { hostname, port, onListen() {}, ...(cert !== undefined ? { cert, key: key! } : {}) },
      this.#handler,
    );
    http.finished.catch((error) => {
      if (this.#closed || this.#http !== http) return;
      this.#http = undefined;
      this.#options.logger.warn(`the HTTP server failed: ${error}; starting it again`);
      this.#restarting = this.#restart();
    });
    return http;
  }

  async #restart(): Promise<void> {
    for (let delay = 10; !this.#closed; delay = Math.min(delay * 2, 1000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed) return;
      try {
        this.#http = this.#start(this.port);
        this.restarts++;
        return;
      } catch {
        // Still out of file descriptors (or the port is taken): try again.
      }
    }
  }

  /** Stops the HTTP server (open upgraded sockets stay open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#restarting;
    await this.#http?.shutdown();
  }
}
