/**
 * Delimited frames over TCP or TLS (`tcp://host:port`, `tls://host:port`),
 * or a unix socket (`unix:///path/to.sock`, see {@linkcode listenUnix}):
 * each frame is one line of UTF-8 text ending with the delimiter (`\n` by
 * default, `\0` for quickrpc). Name the dialect once, in `connect(url,
 * { dialect })` or `listen(url, { dialect })`: it sets the delimiter and
 * size limit, and a peer or server on the connection speaks it.
 *
 * - Frames are cut on the delimiter byte, then decoded whole, so frames and
 *   characters split across reads are reassembled; a `\r` before `\n` is
 *   dropped. A frame over `maxFrameBytes` ends the frames with
 *   {@linkcode FrameTooLarge}: the peer answers it where the dialect can,
 *   then we end our side and drain the rest for up to `closeTimeout`, so the
 *   sender reads the answer rather than a reset.
 * - Frames sent while a write is on the wire are coalesced into the next
 *   write (the replies to one read leave in one or two writes); Nagle is off.
 * - Backpressure both ways (see the options), so a peer that never reads
 *   cannot pin a server's memory.
 *
 * @example A newline-JSON-RPC server and client on loopback
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } })
 *   .serve(listen("tcp://127.0.0.1:0"));
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @example quickrpc: the dialect sets the NUL delimiter on both ends
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { quickRpc } from "@seed/rpc/quickrpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } })
 *   .serve(listen("tcp://127.0.0.1:0", { dialect: quickRpc }));
 * const client = new Peer(await connect(server.addr, { dialect: quickRpc }));
 * assertEquals(await client.call("add", { a: 2, b: 3 }), 5);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import {
  CloseCode,
  CLOSED_REMOTELY,
  type CloseReason,
  closeReason,
  toCloseReason,
} from "../protocol/wire/close.ts";
import type { Dialect } from "../protocol/wire/dialect.ts";
import { ConnectionClosed, FrameTooLarge } from "../protocol/wire/errors.ts";
import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";
import { InvalidFrame, type Listener, type Transport } from "../protocol/wire/transport.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { utf8Length, utf8Text } from "../protocol/shared/_utf8.ts";
import { startTimer } from "../protocol/shared/_timer.ts";
import { ByteWriter } from "./_byte_writer.ts";
import {
  bindUnix,
  bindUnixReplacingStale,
  type BoundSocket,
  DEFAULT_SOCKET_MODE,
  parseUnixUrl,
  removeSocket,
} from "./_unix_socket.ts";

/**
 * Options for a TCP or TLS connection.
 */
export interface TcpOptions {
  /**
   * The dialect the connection speaks: it sets the delimiter and the frame
   * size limit (unless given here), and a peer or server on the connection
   * speaks it.
   *
   * @default {jsonRpc}
   */
  dialect?: Dialect;
  /**
   * The byte that ends each frame: `"\n"` or `"\0"`.
   *
   * @default {the dialect's delimiter}
   */
  delimiter?: "\n" | "\0";
  /**
   * The largest frame accepted, in bytes.
   *
   * @default {the dialect's limit, 16 MiB for the library's dialects}
   */
  maxFrameBytes?: number;
  /**
   * Unread frames held before reading pauses.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /**
   * Unread input held before reading pauses, in characters of the frames
   * waiting (a frame being received counts up to `maxFrameBytes` on top).
   *
   * @default {8388608}
   */
  highWaterBytes?: number;
  /**
   * Unwritten characters above which `send` waits. Like `maxUnsentBytes`
   * and `bufferedAmount`, it counts the UTF-16 code units of the frames
   * (delimiters included), not their UTF-8 bytes: the same for ASCII, up to
   * 3 bytes each on the wire otherwise (and 1 or 2 bytes each in memory).
   * A peer's own calls and notifications wait in line meanwhile, so a burst
   * stays near this plus one frame.
   *
   * @default {1048576}
   */
  writeHighWaterMark?: number;
  /**
   * Milliseconds `send` may wait for the other side to read before the
   * connection is closed; 0 waits forever.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Unwritten characters (UTF-16 code units, as `writeHighWaterMark`)
   * beyond which the connection is closed at once
   * (`CloseCode.WriteOverflow`): what a peer that does not read can make us
   * hold, replies of calls already running included. Keep it above the
   * largest frame you send.
   *
   * @default {64 MiB, or 4 × maxFrameBytes when that is more}
   */
  maxUnsentBytes?: number;
  /**
   * Milliseconds `close` waits for unwritten frames to leave.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * Where dropped input (half a frame at the end of a stream) is logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * Options for {@linkcode connect}.
 */
export interface ConnectOptions extends TcpOptions {
  /** Extra PEM certificates to trust for `tls://` (a self-signed server, say). */
  caCerts?: string[];
}

/**
 * Options for {@linkcode listen}.
 */
export interface ListenOptions extends TcpOptions {
  /** PEM certificate chain; required for `tls://`. */
  cert?: string;
  /** PEM private key; required for `tls://`. */
  key?: string;
  /**
   * The permission bits of a `unix:` socket file. Connecting needs write
   * permission on it, so the default lets only its owner (the user running
   * the server) connect; widen it (`0o660`, a group) on purpose.
   *
   * @default {0o600}
   */
  mode?: number;
}

const MiB = 1024 * 1024;
const READ_BUFFER_BYTES = 64 * 1024;
/** The reused write buffer: its first size, and the most it grows to. */
const MIN_WRITE_BUFFER_BYTES = 1024;
const MAX_WRITE_BUFFER_BYTES = 16 * 1024;
const encoder = new TextEncoder();
const NO_BYTES = new Uint8Array(0);

/**
 * Parses `tcp://host:port` or `tls://host:port`.
 *
 * @example Parsing TCP and TLS URLs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseTcpUrl } from "@seed/rpc/tcp";
 * assertEquals(parseTcpUrl("tls://[::1]:4000"), { secure: true, hostname: "::1", port: 4000 });
 * ```
 */
export function parseTcpUrl(
  url: string | URL,
): { secure: boolean; hostname: string; port: number } {
  const parsed = typeof url === "string" ? new URL(url) : url;
  if (parsed.protocol !== "tcp:" && parsed.protocol !== "tls:") {
    throw new TypeError(`Expected a tcp:// or tls:// URL, got '${parsed.href}'`);
  }
  const port = Number(parsed.port);
  if (parsed.port === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`A port is required in '${parsed.href}'`);
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (hostname === "") throw new TypeError(`A host is required in '${parsed.href}'`);
  return { secure: parsed.protocol === "tls:", hostname, port };
}

function formatUrl(secure: boolean, addr: Deno.Addr): string {
  const at = formatRemote(addr);
  return at.startsWith("unix:") ? at : `${secure ? "tls" : "tcp"}://${at}`;
}

/** `host:port` of a TCP peer, `unix:<path>` of a unix socket's (the path may be empty). */
function formatRemote(addr: Deno.Addr): string {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return `unix:${addr.path ?? ""}`;
  }
  const { hostname, port } = addr as Deno.NetAddr;
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * One TCP or TLS connection carrying delimited text frames. Made by
 * {@linkcode connect} or accepted by a {@linkcode TcpListener}.
 *
 * @example A TCP connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const listener = listen("tcp://127.0.0.1:0");
 * const client = await connect(listener.addr);
 * for await (const server of listener) {
 *   await client.send("hello\r"); // a \r before the \n is dropped
 *   for await (const frame of server.frames) {
 *     assertEquals(frame, "hello");
 *     await server.send("bye");
 *     break;
 *   }
 *   await server.close();
 *   break;
 * }
 * // The client reads the last frame, sees the end, and closes its side.
 * const received: unknown[] = [];
 * for await (const frame of client.frames) received.push(frame);
 * assertEquals(received, ["bye"]);
 * await client.closed;
 * await listener.close();
 * ```
 */
export class TcpTransport implements Transport<string> {
  /** `host:port` of the other end (`unix:<path>` over a unix socket). */
  readonly remote: string;
  /** The dialect from the options, if one was given. */
  readonly dialect: Dialect | undefined;
  #conn: Deno.Conn;
  #delimiter: number;
  #delimiterChar: string;
  #maxFrameBytes: number;
  #closeTimeout: number;
  #logger: Logger;
  #inbox: FrameQueue<string | InvalidFrame>;
  /** The bytes of the frame being received, in `#partial[0..#partialLength)`. */
  #partial: Uint8Array = NO_BYTES;
  #partialLength = 0;
  #framesReceived = 0;
  #writer: ByteWriter;
  /** Where small frames are encoded for writing (see #encode); grown on use. */
  #out: Uint8Array = NO_BYTES;
  #closing = false;
  /** Why `close` was called. */
  #closeReason: CloseReason | undefined;
  /** Why the connection ended: the first of a close, the other end, a failure. */
  #endReason: CloseReason | undefined;
  #closed = Promise.withResolvers<void>();
  #reading: Promise<void>;

  /**
   * Wraps an open connection: TCP, TLS, or a unix socket
   * (`Deno.connect({ transport: "unix", path })`). Prefer {@linkcode connect}
   * and {@linkcode listen}, which make these for you.
   */
  constructor(conn: Deno.Conn, options: TcpOptions = {}) {
    this.#conn = conn;
    this.remote = formatRemote(conn.remoteAddr);
    this.dialect = options.dialect;
    this.#delimiter = (options.delimiter ?? options.dialect?.delimiter ?? "\n").charCodeAt(0);
    this.#maxFrameBytes = options.maxFrameBytes ?? options.dialect?.maxFrameBytes ?? 16 * MiB;
    const delimiter = this.#delimiterChar = String.fromCharCode(this.#delimiter);
    this.#writer = new ByteWriter({
      encode: (frames) => this.#encode(frames.length === 1 ? frames[0]! : frames.join(delimiter)),
      write: (bytes) => conn.write(bytes),
      giveUp: (reason) => {
        if (reason.code === CloseCode.WriteOverflow) {
          this.#logger.warn(`${this.remote}: ${reason.message}; closing`);
        }
        this.#close(reason, false);
      },
      // The other side went away; reading notices too and ends the frames.
      failed: (error) =>
        this.#close(
          closeReason(CloseCode.Failed, `write failed: ${(error as Error).message}`),
          true,
        ),
    }, {
      eagerFirst: true,
      writeHighWaterMark: options.writeHighWaterMark ?? MiB,
      writeTimeout: options.writeTimeout ?? 30_000,
      maxUnsentBytes: options.maxUnsentBytes ?? Math.max(64 * MiB, 4 * this.#maxFrameBytes),
    });
    this.#closeTimeout = options.closeTimeout ?? 2000;
    this.#logger = options.logger ?? consoleLogger;
    this.#inbox = new FrameQueue<string | InvalidFrame>(
      options.highWaterMark ?? 1024,
      options.highWaterBytes ?? 8 * MiB,
      frameSize,
    );
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#reading = this.#readLoop();
  }

  /**
   * `text` and a delimiter as UTF-8. Text of up to 16 KiB is encoded into
   * one reused buffer (safe: the writer encodes again only once the last
   * write is done), which saves the new buffer `encode` allocates and the
   * `text + delimiter` string: for small frames they cost several times the
   * encoding itself.
   */
  #encode(text: string): Uint8Array {
    let buffer = this.#out;
    if (text.length >= buffer.length) {
      if (text.length >= MAX_WRITE_BUFFER_BYTES) return encoder.encode(text + this.#delimiterChar);
      buffer = this.#out = new Uint8Array(
        Math.max(MIN_WRITE_BUFFER_BYTES, 2 ** Math.ceil(Math.log2(text.length + 1))),
      );
    }
    const { read, written } = encoder.encodeInto(text, buffer);
    // Text beyond ASCII may need more room than its length: the slow way then.
    if (read < text.length || written === buffer.length) {
      return encoder.encode(text + this.#delimiterChar);
    }
    buffer[written] = this.#delimiter;
    return buffer.subarray(0, written + 1);
  }

  /** The frames received, in order; ends when the connection ends. */
  get frames(): AsyncIterable<string | InvalidFrame> {
    return this.#inbox;
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#endReason;
  }

  /** The next frame already received, or `undefined`. */
  take(): string | InvalidFrame | undefined {
    return this.#inbox.take();
  }

  /** Whole frames received from the socket so far, read by the peer or not yet. */
  get framesReceived(): number {
    return this.#framesReceived;
  }

  /**
   * Input received and not yet read, in characters, with the bytes of a
   * frame still arriving: what `highWaterBytes` bounds.
   */
  get bufferedInput(): number {
    return this.#inbox.bytes + this.#partialLength;
  }

  /**
   * Characters (UTF-16 code units, delimiters included) accepted by `send`
   * but not yet written: UTF-8 bytes for ASCII text. Counting bytes would
   * cost a pass over every frame; the writer encodes frames in one go.
   */
  get bufferedAmount(): number {
    return this.#writer.buffered;
  }

  /**
   * Queues `frame` (which must not contain the delimiter, unless a layer
   * joins several frames on purpose) and writes it as soon as the socket
   * takes it. Waits while too much is unwritten.
   */
  send(frame: string): Promise<void> {
    if (this.#closing) return Promise.reject(new ConnectionClosed(this.#closeReason));
    return this.#writer.send(frame);
  }

  /**
   * Stops sending and receiving: waits up to `closeTimeout` for unwritten
   * frames to leave, then closes the socket. Frames not yet read are dropped.
   * Called again while it waits, it stops waiting and closes at once.
   */
  close(reason?: string | CloseReason): Promise<void> {
    // Asked again while unwritten frames drain: stop waiting for them. (A
    // close of our own, after the other side ended, does not count.)
    if (this.#asked) this.#stopFlushing?.();
    this.#asked = true;
    return this.#close(toCloseReason(reason), true);
  }

  /** `close` was called. */
  #asked = false;

  #close(reason: CloseReason, flush: boolean): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#closeReason = reason;
      this.#endReason ??= reason;
      this.#writer.stop();
      this.#inbox.end(reason, true);
      this.#shutdown(flush);
    }
    return this.#closed.promise;
  }

  #stopFlushing: (() => void) | undefined;

  async #shutdown(flush: boolean): Promise<void> {
    // We refused a frame: linger after the last write (see #linger).
    const linger = flush && this.#endReason?.code === CloseCode.FrameTooLarge;
    const writing = flush && this.#writer.flushNow();
    if (writing || linger) {
      // One deadline, closeTimeout, for what is left to do.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = new Promise<void>((resolve) => {
        timer = startTimer(resolve, this.#closeTimeout);
        this.#stopFlushing = resolve;
      });
      if (writing) await Promise.race([this.#writer.whenWritten(), stop]);
      if (linger) await this.#linger(stop);
      clearTimeout(timer);
      this.#stopFlushing = undefined;
    }
    this.#writer.release(new ConnectionClosed(this.#closeReason), false);
    try {
      this.#conn.close();
    } catch {
      // Already closed by a failed read or write.
    }
    await this.#reading;
    this.#closed.resolve();
  }

  /**
   * After refusing a frame the other side may still be sending the rest of
   * it. Closing with its bytes unread would reset the connection, and a
   * reset can destroy our last words (the -32001) before they are read. So:
   * end our side (FIN), then read and drop what still comes (into one small
   * buffer) until the other side closes or `stop` (`closeTimeout`).
   */
  async #linger(stop: Promise<void>): Promise<void> {
    const conn = this.#conn as Deno.TcpConn;
    if (typeof conn.closeWrite !== "function") return;
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    const stopped = stop.then(() => null);
    try {
      await conn.closeWrite();
      while (await Promise.race([conn.read(buffer), stopped]) !== null);
    } catch {
      // The other side is gone already.
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    const delimiter = this.#delimiter;
    let failure: unknown;
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const last = buffer.lastIndexOf(delimiter, n - 1);
        if (last === -1) {
          this.#keep(buffer.subarray(0, n));
          continue;
        }
        // Bytes up to `last` are whole frames: decode them in one go.
        if (this.#partialLength > 0) {
          this.#keep(buffer.subarray(0, last));
          const full = this.#emit(this.#partial.subarray(0, this.#partialLength));
          if (full !== undefined) await full;
          this.#partialLength = 0;
          // A large frame's buffer is not kept for ever.
          if (this.#partial.length > 4 * READ_BUFFER_BYTES) this.#partial = NO_BYTES;
        } else {
          // No await unless the queue is full: a read of whole frames costs no promise.
          const full = this.#emit(buffer.subarray(0, last));
          if (full !== undefined) await full;
        }
        if (last + 1 < n) this.#keep(buffer.subarray(last + 1, n));
      }
    } catch (error) {
      failure = error;
    }
    if (failure instanceof FrameTooLarge) {
      this.#endReason ??= closeReason(CloseCode.FrameTooLarge, failure.message);
      this.#inbox.end(this.#endReason, false, failure);
    } else {
      // EOF, a reset, or our own close. A half frame left over is dropped.
      if (this.#partialLength > 0 && !this.#closing) {
        this.#logger.warn(
          `${this.remote}: dropped ${this.#partialLength} bytes of an unfinished frame at the end of the stream`,
        );
      }
      this.#endReason ??= this.#closing
        ? this.#closeReason!
        : failure === undefined
        ? CLOSED_REMOTELY
        : closeReason(CloseCode.Failed, `read failed: ${(failure as Error).message}`);
      this.#inbox.end(this.#endReason);
    }
    this.#partial = NO_BYTES;
    if (!this.#closing) {
      // The other side is done sending. Once our reader has taken every
      // frame (and answered those it answers at once), close our side too.
      this.#inbox.finished.then(() => this.#close(this.#endReason!, true));
    }
  }

  /**
   * Keeps the bytes of an unfinished frame, in one buffer that doubles as
   * it fills: a frame that arrives a byte at a time costs its own size, not
   * a buffer per read.
   */
  #keep(bytes: Uint8Array): void {
    const length = this.#partialLength + bytes.length;
    if (length > this.#maxFrameBytes) throw new FrameTooLarge(this.#maxFrameBytes);
    if (length > this.#partial.length) {
      const grown = new Uint8Array(Math.max(length, this.#partial.length * 2, 1024));
      grown.set(this.#partial.subarray(0, this.#partialLength));
      this.#partial = grown;
    }
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength = length;
  }

  /**
   * Decodes whole frames (the delimiter is ASCII, so it never sits inside a
   * multi-byte character, and splitting the text finds the same frames as
   * splitting the bytes) and queues them. When the bytes are not all UTF-8,
   * each frame is decoded on its own and the bad ones become
   * {@linkcode InvalidFrame}s. Returns a promise only when the queue is
   * full: it resolves once the reader made room for the last frame.
   */
  #emit(bytes: Uint8Array): Promise<void> | undefined {
    const text = utf8Text(bytes);
    return text === undefined ? this.#emitEach(bytes) : this.#emitText(text, 0);
  }

  /** Queues the frames of `text` from `start` on (see #emit). */
  #emitText(text: string, start: number): Promise<void> | undefined {
    const delimiterChar = this.#delimiterChar;
    const stripCR = this.#delimiter === 10;
    const max = this.#maxFrameBytes;
    while (true) {
      const end = text.indexOf(delimiterChar, start);
      let frame = end === -1 ? text.slice(start) : text.slice(start, end);
      if (frame.length * 3 > max && utf8Length(frame) > max) throw new FrameTooLarge(max);
      if (stripCR && frame.charCodeAt(frame.length - 1) === 13) frame = frame.slice(0, -1);
      this.#framesReceived++;
      const room = this.#inbox.push(frame);
      if (end === -1) return room;
      start = end + 1;
      if (room !== undefined) return room.then(() => this.#emitText(text, start));
    }
  }

  async #emitEach(bytes: Uint8Array): Promise<void> {
    const stripCR = this.#delimiter === 10;
    let start = 0;
    while (start <= bytes.length) {
      let end = bytes.indexOf(this.#delimiter, start);
      if (end === -1) end = bytes.length;
      // The same limit as on the fast path: a frame of one read is not cut by #keep.
      if (end - start > this.#maxFrameBytes) throw new FrameTooLarge(this.#maxFrameBytes);
      let frameBytes = bytes.subarray(start, end);
      if (stripCR && frameBytes[frameBytes.length - 1] === 13) {
        frameBytes = frameBytes.subarray(0, -1);
      }
      const frame = utf8Text(frameBytes) ??
        new InvalidFrame("not UTF-8 text", frameBytes.length);
      this.#framesReceived++;
      const room = this.#inbox.push(frame);
      if (room !== undefined) await room;
      start = end + 1;
    }
  }
}

function frameSize(frame: string | InvalidFrame): number {
  return typeof frame === "string" ? frame.length : frame.bytes;
}

/**
 * Connects to `tcp://host:port`, `tls://host:port` or a unix socket
 * (`unix:///path/to.sock`, `unix:/path/to.sock`, or `unix:relative/path`
 * from the current directory; the path is taken as written). Deno needs
 * net (`--allow-net=unix:/path/to.sock`), read and write permission for
 * the socket's path.
 *
 * @example Nobody listens on port 1
 * ```ts
 * import { assertRejects } from "@std/assert";
 * import { connect } from "@seed/rpc/tcp";
 * await assertRejects(() => connect("tcp://127.0.0.1:1"), Deno.errors.ConnectionRefused);
 * ```
 */
export async function connect(
  url: string | URL,
  options: ConnectOptions = {},
): Promise<TcpTransport> {
  const path = parseUnixUrl(url);
  if (path !== undefined) {
    return new TcpTransport(await Deno.connect({ transport: "unix", path }), options);
  }
  const { secure, hostname, port } = parseTcpUrl(url);
  const conn = secure
    ? await Deno.connectTls({ hostname, port, caCerts: options.caCerts })
    : await Deno.connect({ hostname, port });
  if (secure) {
    try {
      await (conn as Deno.TlsConn).handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
  }
  return new TcpTransport(conn, options);
}

/**
 * Accepts TCP or TLS connections; iterate it for each {@linkcode TcpTransport}.
 * Made by {@linkcode listen}.
 */
export class TcpListener implements Listener<string> {
  /** Where it listens, with the real port (`tcp://127.0.0.1:54321`, or `unix:<path>`). */
  readonly addr: string;
  #listener: Deno.Listener;
  #options: TcpOptions;
  #closed = false;

  /** Prefer {@linkcode listen}. */
  constructor(listener: Deno.Listener, secure: boolean, options: TcpOptions = {}) {
    this.#listener = listener;
    this.#options = options;
    this.addr = formatUrl(secure, listener.addr);
  }

  /** Stops accepting; open connections are not affected. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    return Promise.resolve();
  }

  /** Each accepted connection, until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Transport<string>> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // A failed accept (too many open files, an aborted handshake) does
        // not stop the listener.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      yield new TcpTransport(conn, this.#options);
    }
  }
}

/**
 * A {@linkcode TcpListener} on a unix socket that removes its socket file
 * on close.
 */
class UnixListener extends TcpListener {
  #socket: BoundSocket;

  constructor(socket: BoundSocket, options: ListenOptions) {
    super(socket.listener, false, options);
    this.#socket = socket;
  }

  override async close(): Promise<void> {
    await super.close();
    removeSocket(this.#socket);
  }
}

function unixOptions(options: ListenOptions): number {
  if (options.cert !== undefined || options.key !== undefined) {
    throw new TypeError("unix: sockets carry no TLS: drop the cert and key options");
  }
  const mode = options.mode ?? DEFAULT_SOCKET_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new TypeError(`mode must be permission bits (0o000 to 0o777), got ${mode}`);
  }
  return mode;
}

/**
 * Listens on `tcp://host:port` or `tls://host:port` (port 0 picks a free
 * one; read it back from `addr`), or on a unix socket (`unix:///path`, see
 * {@linkcode connect}): the socket file is made with `mode` and removed on
 * close. A file already at the path is refused here (`AddrInUse`, or
 * `AlreadyExists` when it is not a socket); {@linkcode listenUnix} replaces
 * a stale socket file.
 *
 * @example Listening on a free port
 * ```ts
 * import { assertMatch } from "@std/assert";
 * import { listen } from "@seed/rpc/tcp";
 * const listener = listen("tcp://127.0.0.1:0", { delimiter: "\0" });
 * assertMatch(listener.addr, /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * await listener.close();
 * ```
 */
export function listen(url: string | URL, options: ListenOptions = {}): TcpListener {
  const path = parseUnixUrl(url);
  if (path !== undefined) return new UnixListener(bindUnix(path, unixOptions(options)), options);
  const { secure, hostname, port } = parseTcpUrl(url);
  if (secure) {
    if (options.cert === undefined || options.key === undefined) {
      throw new TypeError("tls:// needs the cert and key options (PEM)");
    }
    return new TcpListener(
      Deno.listenTls({ hostname, port, cert: options.cert, key: options.key }),
      true,
      options,
    );
  }
  return new TcpListener(Deno.listen({ hostname, port }), false, options);
}

/**
 * Listens on a unix socket (`unix:///path/to.sock`), as {@linkcode listen}
 * does, but first checks a socket file already at the path: a stale one
 * (left by a server that died: connecting is refused) is removed and
 * replaced; a live one is refused with `Deno.errors.AddrInUse`. A file that
 * is not a socket is never removed (`Deno.errors.AlreadyExists`). Deno needs
 * net, read and write permission for the path.
 *
 * @example A server on a unix socket, replacing a stale file
 * ```ts ignore
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect, listenUnix } from "@seed/rpc/tcp";
 *
 * const dir = await Deno.makeTempDir();
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } })
 *   .serve(await listenUnix(`unix://${dir}/rpc.sock`)); // owner-only (0o600)
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.shutdown(); // removes rpc.sock
 * await Deno.remove(dir);
 * ```
 */
export async function listenUnix(
  url: string | URL,
  options: ListenOptions = {},
): Promise<TcpListener> {
  const path = parseUnixUrl(url);
  if (path === undefined) throw new TypeError(`Expected a unix: URL, got '${url}'`);
  const mode = unixOptions(options);
  return new UnixListener(await bindUnixReplacingStale(path, mode), options);
}
