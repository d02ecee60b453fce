/**
 * The socket the WebSocket and mushroom `listen()` open: HTTP in front of
 * Deno's machinery, bounded so that a stranger cannot end the process or pin
 * its file descriptors.
 *
 * Why we read requests ourselves: `Deno.serve` (Deno 2.9) has no deadline
 * for a request head (500 half-sent heads stayed open for ever), and cannot
 * drop a connection whose body read stalls (denoland/deno#3515). So
 * {@linkcode HeadGate} is our own accept loop; {@linkcode RestartingServe}
 * is the `Deno.serve` fallback for a Deno that cannot hand our connections
 * to its WebSocket.
 *
 * @module
 */

import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";

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

/** Upgrades a request to a WebSocket; `Deno.upgradeWebSocket`'s shape. */
export type Upgrade = (request: Request, options: Deno.UpgradeWebSocketOptions) => {
  socket: WebSocket;
  response: Response;
};

/** Turns a request into a response; `upgrade` stands for `Deno.upgradeWebSocket`. */
export type GateHandler = (request: Request, info: ConnInfo, upgrade: Upgrade) => Promise<Response>;

/**
 * Options of the socket `listen()` opens, for the WebSocket and mushroom
 * wires: TLS keys, and the bounds of its own accept loop.
 */
export interface HttpListenerOptions {
  /** PEM certificate chain; required for `wss://` and `https://`. */
  cert?: string;
  /** PEM private key; required for `wss://` and `https://`. */
  key?: string;
  /**
   * Milliseconds a connection has to deliver a request head (the TLS
   * handshake included), from when it is accepted or its previous answer
   * was written; then it is closed.
   *
   * @default {10000}
   */
  headTimeout?: number;
  /**
   * The largest request head, in bytes; a larger one is answered 431.
   *
   * @default {65536}
   */
  maxHeadBytes?: number;
  /**
   * Milliseconds a write may wait for the other side to read (each answer
   * of the listener's own; on the WebSocket wire, each message too) before
   * the connection is closed; 0 waits forever.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * The most chunks a chunked request body may have; one with more is
   * refused (400) and its connection closed, so tiny chunks cannot cost
   * the server more than the bytes they carry.
   *
   * @default {1024}
   */
  maxBodyChunks?: number;
}

/** Options of a {@linkcode HeadGate}: the bounds, with their defaults applied. */
export interface HeadGateOptions {
  /** Milliseconds for a connection to deliver a request head (TLS handshake included). */
  headTimeout: number;
  /** The largest request head, in bytes; a larger one is answered 431. */
  maxHeadBytes: number;
  /** Milliseconds each write may take before the connection is closed. */
  writeTimeout: number;
  /** The most chunks a chunked body may have. */
  maxBodyChunks: number;
  /** Whether a connection may carry another request once one is answered. */
  keepAlive?: boolean;
  /** The most connections open at once; one more is closed when accepted. */
  maxConnections?: number;
  logger: Logger;
}

/** Options of {@linkcode listenHttp}: where, and a `listen()`'s options as the user gave them. */
export interface HttpListenOptions extends HttpListenerOptions {
  hostname: string;
  port: number;
  /** Whether to listen with TLS (`cert` and `key`). */
  secure: boolean;
  /** Whether a connection may carry another request once one is answered. */
  keepAlive?: boolean;
  /** The most connections open at once (JSON-RPC over HTTP's `listen()`). */
  maxConnections?: number;
  /** @default {consoleLogger} */
  logger?: Logger;
}

/**
 * Listens on `options`' address: a {@linkcode HeadGate}, or, on a Deno that
 * cannot hand our connections to its WebSocket, a {@linkcode RestartingServe}
 * (which has no head deadline). The defaults of {@linkcode HttpListenerOptions}
 * are applied here, for both wires.
 */
export function listenHttp(
  options: HttpListenOptions,
  handler: GateHandler,
): HeadGate | RestartingServe {
  const { hostname, port, secure, logger = consoleLogger } = options;
  const tls = secure ? { cert: options.cert!, key: options.key! } : undefined;
  const listener = tls !== undefined
    ? Deno.listenTls({ hostname, port, ...tls, alpnProtocols: ["http/1.1"] })
    : Deno.listen({ hostname, port });
  if (canUpgradeOwnConnections(listener)) {
    return new HeadGate(listener, secure, {
      headTimeout: options.headTimeout ?? 10_000,
      maxHeadBytes: options.maxHeadBytes ?? 64 * 1024,
      writeTimeout: options.writeTimeout ?? 30_000,
      maxBodyChunks: options.maxBodyChunks ?? 1024,
      keepAlive: options.keepAlive,
      maxConnections: options.maxConnections,
      logger,
    }, handler);
  }
  listener.close();
  return new RestartingServe(
    { hostname, port, ...tls, logger },
    (request, info) => handler(request, info, denoUpgrade),
  );
}

/** `Deno.upgradeWebSocket`, as an {@linkcode Upgrade} (requests from `Deno.serve`). */
export const denoUpgrade: Upgrade = (request, options) => Deno.upgradeWebSocket(request, options);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
/** The longest chunk-size line taken (size and extensions). */
const MAX_CHUNK_LINE = 1024;
/** Empty lines skipped before a request line (RFC 9112 §2.2 asks for at least one). */
const MAX_EMPTY_LINES = 8;
/** The most bytes one read of a body asks for. */
const READ_SIZE = 64 * 1024;

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

/**
 * An accept loop (a failed accept, such as too many open files, does not
 * stop it) that reads each request head under a deadline and a size cap.
 *
 * - The body (`Content-Length` or chunked) is a stream read as the handler
 *   reads it, never buffered here; more than `maxBodyChunks` chunks fail.
 *   `Expect: 100-continue` is answered when the handler starts reading.
 * - A WebSocket upgrade goes to Deno's WebSocket (`Deno.upgradeWebSocket`'s
 *   `socket` option); any other answer is awaited whole (a long poll) and
 *   written with its length, each write within `writeTimeout`.
 * - Header bytes are Latin-1 (as `Deno.serve` reads them). After a body
 *   read to its end, `keepAlive` lets the connection carry the next request
 *   under the head deadline again; otherwise it is closed after the answer,
 *   which also ends a stalled body.
 *
 * Not a general HTTP server: HTTP/1.1, one request at a time, no trailers,
 * no streamed answers.
 */
export class HeadGate {
  /** The port it listens on. */
  readonly port: number;
  #listener: Deno.Listener;
  #secure: boolean;
  #options: HeadGateOptions;
  #handler: GateHandler;
  /** Connections not upgraded (reading a head or a body, being answered, or idle). */
  #open = new Set<Deno.Conn>();
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

  /** Connections open and not upgraded. */
  get pending(): number {
    return this.#open.size;
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
    for (const conn of this.#open) closeQuietly(conn);
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
      if (this.#open.size >= (this.#options.maxConnections ?? Infinity)) {
        closeQuietly(conn);
        continue;
      }
      this.#serve(conn).catch((error) => {
        this.#options.logger.debug(`a connection failed: ${error}`);
      });
    }
  }

  /** Answers the requests on `conn`, one after another, until it closes or is upgraded. */
  async #serve(conn: Deno.Conn): Promise<void> {
    this.#open.add(conn);
    // Nagle off, as Deno.serve does: a WebSocket's small frames written one
    // after another otherwise wait for the peer's delayed ACK (40 ms).
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const connection = new Connection(conn, this.#options.writeTimeout);
    let upgraded = false;
    try {
      for (;;) {
        const next = await this.#exchange(connection);
        upgraded = next === "upgraded";
        if (next !== "again" || this.#closed) return;
      }
    } finally {
      connection.stop();
      this.#open.delete(conn);
      if (!upgraded) closeQuietly(conn);
    }
  }

  /** Reads one request and answers it: what the connection does next. */
  async #exchange(connection: Connection): Promise<"again" | "close" | "upgraded"> {
    const { headTimeout, maxHeadBytes, keepAlive = false, logger } = this.#options;
    connection.deadline(headTimeout);
    let head: Uint8Array | "too large" | undefined;
    try {
      if (!await connection.skipEmptyLines(MAX_EMPTY_LINES)) return "close";
      head = await connection.until(CRLFCRLF, maxHeadBytes);
    } catch (error) {
      if (connection.late) return "close";
      throw error;
    } finally {
      connection.deadline(0);
    }
    if (head === undefined) return "close";
    if (head === "too large") {
      return await answerAndClose(connection, 431, "Request head too large");
    }
    const parsed = parseHead(latin1(head));
    if (parsed === undefined) return await answerAndClose(connection, 400, "Bad request");
    const { method } = parsed;
    const framing = framingOf(parsed);
    if (typeof framing === "object") {
      return await answerAndClose(connection, framing.refuse, "Bad request body");
    }
    const expectContinue = parsed.expect?.toLowerCase() === "100-continue";
    // A Content-Length body that came with its head is handed over as bytes:
    // no stream to read it through (most of a small POST's cost here).
    const whole = typeof framing === "number" && framing > 0 && !expectContinue
      ? connection.taken(framing)
      : undefined;
    const body = framing === 0 || whole !== undefined
      ? undefined
      : new Body(connection, framing, expectContinue, this.#options.maxBodyChunks);
    let request: Request;
    try {
      // The header lines as they came: Request checks names and values.
      request = new Request(
        `${this.#secure ? "https" : "http"}://${parsed.host ?? connection.host}${parsed.target}`,
        {
          method,
          headers: parsed.fields,
          body: whole ??
            (body === undefined ? null : new ReadableStream(body, { highWaterMark: 0 })),
        },
      );
    } catch {
      return await answerAndClose(connection, 400, "Bad request");
    }
    let response: Response;
    try {
      response = await this.#handler(request, connection.info, connection.upgrade);
    } catch (error) {
      logger.error("the request handler threw", error);
      response = refusal(500, "Internal error");
    }
    if (connection.upgraded) return "upgraded";
    // Only a body read to its end leaves the connection where the next head starts.
    const again = keepAlive && !this.#closed && (body === undefined || body.complete) &&
      method !== "HEAD" && !hasClose(parsed.connection ?? "") &&
      !hasClose(response.headers.get("connection") ?? "");
    try {
      return await writeResponse(connection, response, again, method === "HEAD")
        ? "again"
        : "close";
    } catch (error) {
      logger.debug(`an answer was cut short: ${error}`);
      return "close";
    }
  }
}

/** One accepted connection: its read buffer, its deadline, its upgrade. */
class Connection {
  readonly conn: Deno.Conn;
  readonly info: ConnInfo;
  /** Whether the deadline closed the connection. */
  late = false;
  /** Whether a WebSocket took the connection over. */
  upgraded = false;
  /** Bytes read and not taken yet: `#buffer[#start..#end]`. */
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  /**
   * The deadline (monotonic ms; 0: none) and the one timer that checks it,
   * set to fire at `#timerAt`. Setting or cancelling a deadline moves the
   * timer only when it would fire too late: a deadline set and cancelled
   * around every request head and every write costs a clock read, not a
   * timer made and cleared (10% of a small POST's CPU in a profile).
   */
  #at = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  #writeTimeout: number;

  constructor(conn: Deno.Conn, writeTimeout: number) {
    this.conn = conn;
    this.info = { remoteAddr: conn.remoteAddr as Deno.NetAddr };
    this.#writeTimeout = writeTimeout;
  }

  /** The host a request without a `Host` header is taken to name: the listener's address. */
  get host(): string {
    const { hostname, port } = this.conn.localAddr as Deno.NetAddr;
    return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  /** Closes the connection in `ms` (which ends a read waiting on it); 0 cancels. */
  deadline(ms: number): void {
    if (!(ms > 0 && ms < 2 ** 31)) {
      this.#at = 0; // the timer, if any, finds nothing to do
      return;
    }
    const at = performance.now() + ms;
    this.#at = at;
    if (this.#timer === undefined || at < this.#timerAt) this.#arm(at, ms);
  }

  /** Stops the timer: the connection is done with. */
  stop(): void {
    this.#at = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(at: number, ms: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#expire, ms);
  }

  #expire = (): void => {
    this.#timer = undefined;
    if (this.#at === 0) return;
    const left = this.#at - performance.now();
    // A later deadline was set since the timer was: wait for it.
    if (left > 0) return this.#arm(this.#at, Math.ceil(left));
    this.late = true;
    closeQuietly(this.conn);
  };

  /** Writes all of `bytes` within `writeTimeout`, or closes the connection (the write rejects). */
  async write(bytes: Uint8Array): Promise<void> {
    this.deadline(this.#writeTimeout);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
    } finally {
      this.deadline(0);
    }
  }

  /** Upgrades the current request on this connection (Deno writes the 101). */
  upgrade: Upgrade = (request, options) => {
    const { socket } = Deno.upgradeWebSocket(request, {
      ...options,
      socket: nodeSocketOf(this),
      head: this.#buffer.slice(this.#start, this.#end),
    } as Deno.UpgradeWebSocketOptions);
    this.upgraded = true;
    return { socket, response: UPGRADED };
  };

  /**
   * Skips up to `max` empty lines (CRLF) before a request line; false when
   * the connection ends first.
   */
  async skipEmptyLines(max: number): Promise<boolean> {
    for (let skipped = 0; skipped < max;) {
      if (this.#end - this.#start >= 1 && this.#buffer[this.#start] !== 13) return true;
      if (this.#end - this.#start < 2) {
        if (!await this.#fill(this.#buffer.length)) return false;
        continue;
      }
      if (this.#buffer[this.#start + 1] !== 10) return true;
      this.#start += 2;
      skipped++;
    }
    return true;
  }

  /** The bytes read and not taken yet (a view, valid until the next read or `skip`). */
  get buffered(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Takes `length` of the buffered bytes as read. */
  skip(length: number): void {
    this.#start += length;
  }

  /** Reads more into the buffer; false at the end. */
  more(): Promise<boolean> {
    return this.#fill(READ_SIZE);
  }

  /**
   * The bytes up to `delimiter` (a view, valid until the next read), which
   * is taken too; "too large" when more than `max` come first; `undefined`
   * when the connection ends first.
   */
  async until(delimiter: Uint8Array, max: number): Promise<Uint8Array | "too large" | undefined> {
    let scanned = 0;
    for (;;) {
      const at = indexOf(this.#buffer, this.#start + scanned, this.#end, delimiter);
      if (at !== -1) {
        if (at - this.#start > max) return "too large";
        const bytes = this.#buffer.subarray(this.#start, at);
        this.#start = at + delimiter.length;
        return bytes;
      }
      const length = this.#end - this.#start;
      if (length >= max + delimiter.length) return "too large";
      scanned = Math.max(0, length - delimiter.length + 1);
      if (!await this.#fill(max + delimiter.length)) return undefined;
    }
  }

  /** The next `length` bytes (copied) when they were read already, else `undefined`. */
  taken(length: number): Uint8Array<ArrayBuffer> | undefined {
    if (this.#end - this.#start < length) return undefined;
    this.#start += length;
    return this.#buffer.slice(this.#start - length, this.#start);
  }

  /** Up to `max` bytes (those read already first, copied); `null` at the end. */
  async take(max: number): Promise<Uint8Array | null> {
    const buffered = this.#end - this.#start;
    if (buffered > 0) {
      const bytes = this.#buffer.slice(this.#start, this.#start + Math.min(buffered, max));
      this.#start += bytes.length;
      return bytes;
    }
    const bytes = new Uint8Array(Math.min(max, READ_SIZE));
    const n = await this.conn.read(bytes);
    return n === null ? null : bytes.subarray(0, n);
  }

  /** Reads more into the buffer, grown up to `limit` bytes when full; false at the end. */
  async #fill(limit: number): Promise<boolean> {
    const length = this.#end - this.#start;
    if (this.#end === this.#buffer.length) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(Math.min(this.#buffer.length * 2, limit));
        bigger.set(this.#buffer);
        this.#buffer = bigger;
      }
      this.#start = 0;
      this.#end = length;
    }
    const n = await this.conn.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }
}

/** Why a request body could not be read (the handler sees its stream fail). */
class BodyError extends Error {}

/** Where a chunked body's reading is: a size line, data, the CRLF after it, the last line. */
const enum Chunked {
  Size,
  Data,
  DataEnd,
  Last,
}

/**
 * A request body read from its connection as the handler pulls it (the
 * underlying source of its stream): `Content-Length` bytes, or chunks.
 * Chunk framing is parsed from what was read, without a promise per chunk,
 * and the data of the chunks read together is handed over as one piece: a
 * body of a million one-byte chunks took 4 s of the event loop when each
 * chunk was a read of its own.
 */
class Body {
  /** Whether the body was read to its end. */
  complete = false;
  #connection: Connection;
  #chunked: boolean;
  /** Bytes left of the body (`Content-Length`) or of the current chunk. */
  #left: number;
  #state = Chunked.Size;
  #chunks = 0;
  #maxChunks: number;
  #continue: boolean;
  /** Start and end offsets of the data found by `#parse` in the connection's buffer. */
  #spans: number[] = [];

  constructor(
    connection: Connection,
    framing: number | "chunked",
    expectContinue: boolean,
    maxChunks: number,
  ) {
    this.#connection = connection;
    this.#chunked = framing === "chunked";
    this.#left = framing === "chunked" ? 0 : framing;
    this.#continue = expectContinue;
    this.#maxChunks = maxChunks;
  }

  /**
   * Called once, as the stream is made: a `Content-Length` body that came
   * with its head is handed over whole (no pull, no promise per read).
   */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#chunked || this.#continue) return;
    const bytes = this.#connection.taken(this.#left);
    if (bytes === undefined) return;
    this.#left = 0;
    this.complete = true;
    controller.enqueue(bytes);
    controller.close();
  }

  /** Called by the stream each time the handler reads. */
  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.#continue) {
      this.#continue = false;
      await this.#connection.write(CONTINUE);
    }
    if (this.#chunked) return await this.#pullChunks(controller);
    if (this.#left === 0) {
      this.complete = true;
      return controller.close();
    }
    const bytes = await this.#connection.take(this.#left);
    if (bytes === null) throw new BodyError("the connection ended within the body");
    this.#left -= bytes.length;
    if (this.#left === 0) this.complete = true;
    controller.enqueue(bytes);
  }

  /** Hands over the data of every chunk read so far, reading more when there is none. */
  async #pullChunks(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const connection = this.#connection;
    for (;;) {
      const data = this.#parse();
      if (data !== undefined) controller.enqueue(data);
      if (this.complete) return controller.close();
      if (data !== undefined) return;
      if (this.#state === Chunked.Data && connection.buffered.length === 0) {
        // A large chunk's data is read straight, not through the buffer.
        const bytes = await connection.take(this.#left);
        if (bytes === null) throw new BodyError("the connection ended within the body");
        this.#left -= bytes.length;
        if (this.#left === 0) this.#state = Chunked.DataEnd;
        return controller.enqueue(bytes);
      }
      if (!await connection.more()) throw new BodyError("the connection ended within the body");
    }
  }

  /**
   * Parses the chunk framing in what the connection has buffered, and
   * takes it: the data found (copied into one piece), or `undefined` when
   * there was none.
   */
  #parse(): Uint8Array | undefined {
    const buffered = this.#connection.buffered;
    const end = buffered.length;
    const spans = this.#spans;
    spans.length = 0;
    let total = 0;
    let at = 0;
    parsing: for (;;) {
      switch (this.#state) {
        case Chunked.Size: {
          const lineEnd = crlfIn(buffered, at, Math.min(end, at + MAX_CHUNK_LINE + 2));
          if (lineEnd === -1) {
            if (end - at > MAX_CHUNK_LINE) {
              throw new BodyError("a chunk is not framed as it should be");
            }
            break parsing;
          }
          const size = chunkSize(buffered, at, lineEnd);
          at = lineEnd + 2;
          if (size === 0) {
            this.#state = Chunked.Last;
          } else {
            if (++this.#chunks > this.#maxChunks) {
              throw new BodyError(`more than ${this.#maxChunks} chunks`);
            }
            this.#left = size;
            this.#state = Chunked.Data;
          }
          break;
        }
        case Chunked.Data: {
          const length = Math.min(this.#left, end - at);
          if (length === 0) break parsing;
          spans.push(at, at + length);
          total += length;
          at += length;
          this.#left -= length;
          if (this.#left === 0) this.#state = Chunked.DataEnd;
          break;
        }
        default: {
          // The CRLF after a chunk's data, or the empty line after the last
          // chunk (no trailers).
          if (end - at < 2) break parsing;
          if (buffered[at] !== 13 || buffered[at + 1] !== 10) {
            throw new BodyError("a chunk is not framed as it should be");
          }
          at += 2;
          if (this.#state === Chunked.Last) {
            this.complete = true;
            break parsing;
          }
          this.#state = Chunked.Size;
        }
      }
    }
    let data: Uint8Array | undefined;
    if (spans.length === 2) {
      data = buffered.slice(spans[0], spans[1]);
    } else if (total > 0) {
      data = new Uint8Array(total);
      for (let i = 0, to = 0; i < spans.length; i += 2) {
        data.set(buffered.subarray(spans[i], spans[i + 1]), to);
        to += spans[i + 1]! - spans[i]!;
      }
    }
    this.#connection.skip(at);
    return data;
  }
}

/** Where a CRLF starts in `bytes[from..to]`, or -1. */
function crlfIn(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  return -1;
}

/** The size on a chunk-size line (`bytes[from..to]`): 1 to 8 hex digits, then extensions. */
function chunkSize(bytes: Uint8Array, from: number, to: number): number {
  let size = 0;
  let at = from;
  for (; at < to && at - from < 9; at++) {
    const byte = bytes[at]!;
    const digit = byte >= 48 && byte <= 57
      ? byte - 48
      : byte >= 97 && byte <= 102
      ? byte - 87
      : byte >= 65 && byte <= 70
      ? byte - 55
      : -1;
    if (digit === -1) break;
    size = size * 16 + digit;
  }
  if (at === from || at - from > 8 || (at < to && bytes[at] !== 59 /* ; */)) {
    const line = latin1(bytes.subarray(from, Math.min(to, from + 40)));
    throw new BodyError(`not a chunk size: ${line}`);
  }
  return size;
}

const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

/** Stands for the 101 answer, which Deno writes itself on a connection we accepted. */
const UPGRADED = new Response(null, { status: 200 });

/**
 * What `Deno.upgradeWebSocket`'s `socket` option reads of a `node:net`
 * socket, made from a connection we accepted: Deno writes the 101 answer
 * through `write`, then takes the stream over from `_handle`.
 */
function nodeSocketOf(connection: Connection): unknown {
  return {
    destroyed: false,
    _handle: {
      readStop() {},
      takeStream: () => ridOf(connection.conn),
    },
    write(text: string, done: (error?: Error) => void) {
      connection.write(encoder.encode(text)).then(() => done(), done);
    },
  };
}

/** Where `pattern` starts in `bytes[from..to]`, or -1. */
function indexOf(bytes: Uint8Array, from: number, to: number, pattern: Uint8Array): number {
  outer: for (let i = from; i + pattern.length <= to; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** A request head: its header lines as they came, and those the gate reads. */
interface Head {
  method: string;
  target: string;
  fields: [string, string][];
  host: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  expect: string | undefined;
  connection: string | undefined;
}

/**
 * An HTTP/1.1 request head, or `undefined` when it is not one. (Header lines
 * stay a list: a `Headers` built here and copied into the `Request` cost
 * three times as much.)
 */
function parseHead(text: string): Head | undefined {
  const lines = text.split("\r\n");
  const [method, target, version, extra] = lines[0]!.split(" ");
  if (extra !== undefined || version !== "HTTP/1.1" || !target?.startsWith("/")) return undefined;
  if (method === undefined || !/^[A-Z]+$/.test(method)) return undefined;
  const head: Head = {
    method,
    target,
    fields: [],
    host: undefined,
    contentLength: undefined,
    transferEncoding: undefined,
    expect: undefined,
    connection: undefined,
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") return undefined;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    head.fields.push([name, value]);
    // Repeated ones are joined, as Headers does (two lengths are no length).
    switch (name.length <= 17 ? name.toLowerCase() : "") {
      case "host":
        head.host = join(head.host, value);
        break;
      case "content-length":
        head.contentLength = join(head.contentLength, value);
        break;
      case "transfer-encoding":
        head.transferEncoding = join(head.transferEncoding, value);
        break;
      case "expect":
        head.expect = join(head.expect, value);
        break;
      case "connection":
        head.connection = join(head.connection, value);
    }
  }
  // The Host goes into the request's URL: a host and a port, not a path.
  if (head.host !== undefined && !/^[\w.:[\]-]+$/.test(head.host)) return undefined;
  return head;
}

function join(before: string | undefined, value: string): string {
  return before === undefined ? value : `${before}, ${value}`;
}

/**
 * How a request's body is framed: its length (0: none), chunked, or the
 * status that refuses it: both framings at once or a bad length 400, an
 * unknown transfer coding 501, a POST, PUT or PATCH with neither 411, and a
 * body on a GET or HEAD 400 (a `Request` cannot carry one).
 */
function framingOf(
  { method, transferEncoding: coding, contentLength: length }: Head,
): number | "chunked" | { refuse: number } {
  let framing: number | "chunked";
  if (coding !== undefined) {
    if (length !== undefined) return { refuse: 400 };
    if (coding.toLowerCase() !== "chunked") return { refuse: 501 };
    framing = "chunked";
  } else if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) return { refuse: 400 };
    framing = Number(length);
  } else {
    return method === "POST" || method === "PUT" || method === "PATCH" ? { refuse: 411 } : 0;
  }
  return framing !== 0 && (method === "GET" || method === "HEAD") ? { refuse: 400 } : framing;
}

/** Whether a `Connection` header's value says `close`. */
function hasClose(connection: string): boolean {
  return /(?:^|,)\s*close\s*(?:,|$)/i.test(connection);
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** A refusal: `status`, with `text` and `headers`; for the gate and both wires. */
export function refusal(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Answers `status` and closes: what came is not a request we can read. */
async function answerAndClose(
  connection: Connection,
  status: number,
  text: string,
): Promise<"close"> {
  await writeResponse(connection, refusal(status, text), false, false);
  return "close";
}

/** Headers we write ourselves, for the framing we chose. */
const FRAMING = new Set(["connection", "content-length", "transfer-encoding", "keep-alive"]);

/** The status line and headers of `response`, then `framing` (header lines). */
function headOf(response: Response, framing: string): Uint8Array {
  const lines = {
    text: `HTTP/1.1 ${response.status} ${
      response.statusText || REASONS[response.status] || ""
    }\r\n`,
  };
  // forEach costs a quarter of for-of over Headers; no closure per answer.
  response.headers.forEach(addLine, lines);
  return encoder.encode(`${lines.text}${framing}\r\n`);
}

/** Adds a header line to `this.text`, but not one that frames the body. */
function addLine(this: { text: string }, value: string, name: string): void {
  if (!FRAMING.has(name)) this.text += `${name}: ${value}\r\n`;
}

/**
 * Writes `response` as HTTP/1.1 in one write, with its length: its body is
 * read whole first (the listeners' answers are small, a poll's at most
 * `maxPollBytes`; a stream that never ends is not for this gate, and reading
 * a body as a stream cost more than the rest of a request together). A
 * body that fails, as mushroom's 413 does to drop the connection, is
 * answered empty and the connection closes. Resolves with whether the
 * connection may carry another request.
 */
async function writeResponse(
  connection: Connection,
  response: Response,
  keepAlive: boolean,
  headOnly: boolean,
): Promise<boolean> {
  let body = EMPTY;
  try {
    body = await response.bytes();
  } catch {
    keepAlive = false;
  }
  const close = keepAlive ? "" : "connection: close\r\n";
  const head = headOf(response, `content-length: ${body.length}\r\n${close}`);
  await connection.write(headOnly ? head : concat(head, body));
  return keepAlive;
}

const EMPTY = new Uint8Array(0);

function concat(head: Uint8Array, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * Header bytes as Latin-1, one character a byte (HTTP's obs-text), as
 * `Deno.serve` reads them: a UTF-8 decoder made U+FFFD of them (a 400).
 * `TextDecoder("latin1")` is windows-1252, which maps 0x80-0x9F elsewhere.
 */
function latin1(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return decoder.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
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
    // A handler that throws is a bug: logged as an error, answered 500.
    this.#handler = async (request, info) => {
      try {
        return await handler(request, info);
      } catch (error) {
        options.logger.error("the request handler threw", error);
        return refusal(500, "Internal error");
      }
    };
    this.#http = this.#start(options.port);
    this.port = this.#http.addr.port;
  }

  /**
   * Deno.serve's `onError` now sees only answers whose body failed, as
   * mushroom's 413 does on purpose to drop its connection: a debug line,
   * not one printed line per refusal.
   */
  #onError = (error: unknown): Response => {
    this.#options.logger.debug(`an answer was cut short: ${error}`);
    return refusal(500, "Internal error");
  };

  #start(port: number): Deno.HttpServer<Deno.NetAddr> {
    const { hostname, cert, key } = this.#options;
    const http = Deno.serve(
      {
        hostname,
        port,
        onListen() {},
        onError: this.#onError,
        ...(cert !== undefined ? { cert, key: key! } : {}),
      },
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
