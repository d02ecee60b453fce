/**
 * The WebSocket wire, client side: {@linkcode connect} and the
 * {@linkcode WebSocketTransport} it returns, on the global `WebSocket`, so
 * the same code runs in Deno and in browsers. The server side, which needs
 * `Deno.serve`, is `@seed/rpc/websocket/server`.
 *
 * - One frame per text message (a binary one is read as UTF-8; invalid
 *   UTF-8 closes with 1007). Sends made while connecting are queued, not lost.
 * - A message over `maxMessageBytes` is refused both ways: incoming, the
 *   connection closes (1009) after the dialect's error reply; outgoing,
 *   `send` rejects with {@linkcode FrameTooLarge}.
 * - A WebSocket cannot be paused, so a peer that sends faster than it is
 *   served is closed (1008) past `maxUnreadMessages`.
 * - A browser cannot send pings: a client that must notice a dead server
 *   uses the peer's `keepAlive`. The server side pings (`idleTimeout`).
 * - {@linkcode reconnecting} gives a channel that reconnects with backoff.
 *
 * @example A call over WebSocket on loopback
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/websocket";
 * import { listen } from "@seed/rpc/websocket/server";
 *
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } })
 *   .serve(listen("ws://127.0.0.1:0/rpc"));
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { type CloseReason, toCloseReason } from "../protocol/wire/close.ts";
import { CloseCode, closeReason } from "../protocol/wire/close.ts";
import type { Dialect } from "../protocol/wire/dialect.ts";
import { ConnectionClosed, FrameTooLarge } from "../protocol/wire/errors.ts";
import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";
import { ReconnectingChannel, type ReconnectOptions } from "../protocol/wire/reconnect.ts";
import { ACCEPTED, type Transport } from "../protocol/wire/transport.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { utf8Length } from "../protocol/shared/_utf8.ts";
import { startTimer } from "../protocol/shared/_timer.ts";

export { ReconnectingChannel, type ReconnectOptions } from "../protocol/wire/reconnect.ts";

/**
 * Options of a WebSocket connection, either side.
 */
export interface WebSocketOptions {
  /**
   * The dialect the connection speaks: a peer or server on it speaks it,
   * and its frame limit is the default `maxMessageBytes`.
   *
   * @default {jsonRpc}
   */
  dialect?: Dialect;
  /**
   * The largest message accepted or sent, in bytes.
   *
   * @default {the dialect's limit, 16 MiB for the library's dialects}
   */
  maxMessageBytes?: number;
  /**
   * Messages received and not yet handled; beyond it the connection is
   * closed (1008), since a WebSocket cannot be told to slow down.
   *
   * @default {4096}
   */
  maxUnreadMessages?: number;
  /**
   * Characters of the messages received and not yet handled; beyond it (and
   * more than one message waiting) the connection is closed (1008). One
   * message up to `maxMessageBytes` may always wait.
   *
   * @default {8388608}
   */
  maxUnreadBytes?: number;
  /**
   * Unsent bytes above which `send` waits (UTF-8 bytes, as the socket's
   * `bufferedAmount` counts them). A peer's own calls and notifications wait
   * in line meanwhile, so a burst stays near this plus one message.
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
   * Unsent UTF-8 bytes beyond which the connection is closed at once (1008,
   * `CloseCode.WriteOverflow`): what a peer that does not read can make us
   * hold, replies of calls already running included. Keep it above the
   * largest message you send.
   *
   * @default {64 MiB, or 4 × maxMessageBytes when that is more}
   */
  maxUnsentBytes?: number;
  /**
   * Milliseconds `close` waits for the closing handshake before giving up
   * on the other side.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * Where refused messages are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * Options for {@linkcode WebSocketTransport}: the connection's options and
 * a name for the other end.
 */
export interface WebSocketTransportOptions extends WebSocketOptions {
  /**
   * Who is at the other end, for logs and the server's connection name.
   *
   * @default {the socket's URL}
   */
  remote?: string;
}

/**
 * Options for {@linkcode connect}.
 */
export interface ConnectOptions extends WebSocketOptions {
  /** WebSocket subprotocols to offer; the server picks one (see `protocol`). */
  protocols?: string | string[];
  /**
   * Milliseconds to wait for the connection to open.
   *
   * @default {10000}
   */
  connectTimeout?: number;
  /**
   * Extra PEM certificates to trust for `wss://` (Deno only; a browser
   * trusts what the system trusts).
   */
  caCerts?: string[];
  /** Extra headers on the upgrade request (Deno only; browsers send none). */
  headers?: Record<string, string>;
}

const MiB = 1024 * 1024;
const textLength = (text: string): number => text.length;
const OPEN = 1;
const CONNECTING = 0;

/** What a close reason becomes on the wire: a WebSocket close code. */
function wireCode(reason: CloseReason): number {
  switch (reason.code) {
    case CloseCode.Shutdown:
      return 1001;
    case CloseCode.FrameTooLarge:
      return 1009;
    case CloseCode.Refused:
    case CloseCode.WriteOverflow:
      return 1008;
    case CloseCode.WrongDialect:
      return 1002;
    case CloseCode.Failed:
      return 1011;
    default:
      return 1000;
  }
}

/** What a close code from the other side means (4000 + code is the same as code). */
function reasonOf(event: CloseEvent): CloseReason {
  const detail = event.reason === "" ? `code ${event.code}` : `${event.code} ${event.reason}`;
  switch (event.code >= 4000 && event.code < 5000 ? 1000 + event.code % 1000 : event.code) {
    case 1000:
    case 1001:
    case 1005:
      return closeReason(CloseCode.Remote, `closed by the other end (${detail})`);
    case 1009:
      return closeReason(CloseCode.FrameTooLarge, `the other end refused a message (${detail})`);
    case 1008:
      return closeReason(CloseCode.Refused, `the other end refused us (${detail})`);
    default:
      return closeReason(CloseCode.Failed, `the connection failed (${detail})`);
  }
}

/** Whether `text` is over `max` bytes of UTF-8, without measuring short texts. */
function tooLarge(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && utf8Length(text) > max);
}

const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * One WebSocket connection as a {@linkcode Transport}: one frame per
 * message. Wraps any standard `WebSocket`, connecting or open: the client's
 * from {@linkcode connect}, or a server's from `Deno.upgradeWebSocket`.
 *
 * @example A WebSocket connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { WebSocketTransport } from "@seed/rpc/websocket";
 * import { listen } from "@seed/rpc/websocket/server";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } })
 *   .serve(listen("ws://127.0.0.1:0/"));
 * // A socket that is still connecting: the call is queued until it opens.
 * const client = new Peer(new WebSocketTransport(new WebSocket(server.addr)));
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.shutdown();
 * ```
 */
export class WebSocketTransport implements Transport<string> {
  /** Who is at the other end. */
  readonly remote: string;
  /** The dialect from the options, if one was given. */
  readonly dialect: Dialect | undefined;
  /** One frame per message, one write each: a stream's items go several to a frame. */
  readonly framePerWrite = true;
  #socket: WebSocket;
  #inbox: FrameQueue<string>;
  #maxMessageBytes: number;
  #writeHighWaterMark: number;
  #writeTimeout: number;
  #maxUnsentBytes: number;
  #closeTimeout: number;
  #logger: Logger;
  /** Frames sent while the socket was connecting. */
  #early: string[] = [];
  /** Their UTF-8 bytes. */
  #earlyBytes = 0;
  #drained: PromiseWithResolvers<void> | undefined;
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #drainStarted = 0;
  /** Set once nothing more can be sent or received. */
  #reason: CloseReason | undefined;
  /** Why the connection is ending, before it is closed (a refused message). */
  #endReason: CloseReason | undefined;
  #closed = Promise.withResolvers<void>();
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The close code and reason for a socket closed while it was connecting. */
  #wireClose: [number, string] | undefined;

  /**
   * Wraps `socket`.
   *
   * @param socket A WebSocket, connecting or open.
   * @param options Limits, the dialect and a name for the other end.
   */
  constructor(socket: WebSocket, options: WebSocketTransportOptions = {}) {
    this.#socket = socket;
    this.remote = options.remote ?? socket.url;
    this.dialect = options.dialect;
    this.#maxMessageBytes = options.maxMessageBytes ?? options.dialect?.maxFrameBytes ?? 16 * MiB;
    this.#writeHighWaterMark = options.writeHighWaterMark ?? MiB;
    this.#writeTimeout = options.writeTimeout ?? 30_000;
    this.#maxUnsentBytes = options.maxUnsentBytes ?? Math.max(64 * MiB, 4 * this.#maxMessageBytes);
    this.#closeTimeout = options.closeTimeout ?? 2000;
    this.#logger = options.logger ?? consoleLogger;
    this.#inbox = new FrameQueue<string>(
      options.maxUnreadMessages ?? 4096,
      options.maxUnreadBytes ?? 8 * MiB,
      textLength,
    );
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", this);
    socket.addEventListener("message", this);
    socket.addEventListener("close", this);
    socket.addEventListener("error", this);
    if (socket.readyState > OPEN) {
      this.#ended(closeReason(CloseCode.Failed, "the socket is closed"));
    }
  }

  /** The subprotocol the server chose (`""` for none). */
  get protocol(): string {
    return this.#socket.protocol;
  }

  /** The frames received, in order; ends when the connection ends. */
  get frames(): AsyncIterable<string> {
    return this.#inbox;
  }

  /** The next frame already received, or `undefined`. */
  take(): string | undefined {
    return this.#inbox.take();
  }

  /** Resolves once the connection is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#reason ?? this.#endReason;
  }

  /** Characters of the messages received and not yet read: what `maxUnreadBytes` bounds. */
  get bufferedInput(): number {
    return this.#inbox.bytes;
  }

  /**
   * UTF-8 bytes accepted by `send` and not yet written to the network: the
   * socket's `bufferedAmount`, and the messages queued while it connects.
   */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount + this.#earlyBytes;
  }

  /**
   * Sends `frame` as one message (queued while the socket connects). Waits
   * while too much is unsent; rejects with {@linkcode FrameTooLarge} for a
   * message over the limit.
   */
  send(frame: string): Promise<void> {
    if (this.#reason !== undefined) return Promise.reject(new ConnectionClosed(this.#reason));
    if (tooLarge(frame, this.#maxMessageBytes)) {
      return Promise.reject(new FrameTooLarge(this.#maxMessageBytes));
    }
    if (tooLarge(frame, this.#maxUnsentBytes - this.bufferedAmount)) return this.#overflow();
    const socket = this.#socket;
    if (socket.readyState === CONNECTING) {
      this.#early.push(frame);
      this.#earlyBytes += utf8Length(frame);
      return ACCEPTED;
    }
    try {
      socket.send(frame);
    } catch (error) {
      this.#ended(closeReason(CloseCode.Failed, `send failed: ${(error as Error).message}`));
      return Promise.reject(new ConnectionClosed(this.#reason));
    }
    if (socket.bufferedAmount <= this.#writeHighWaterMark) return ACCEPTED;
    return this.#waitForDrain();
  }

  /** The other side has left too much unread: cut it off now. */
  #overflow(): Promise<void> {
    const reason = closeReason(
      CloseCode.WriteOverflow,
      `the other side left more than ${this.#maxUnsentBytes} bytes unread`,
    );
    this.#logger.warn(`${this.remote}: ${reason.message}; closing`);
    this.#closeWith(wireCode(reason), reason);
    return Promise.reject(new ConnectionClosed(reason));
  }

  /** A WebSocket has no drain event: poll `bufferedAmount` until it falls. */
  #waitForDrain(): Promise<void> {
    if (this.#drained === undefined) {
      this.#drained = Promise.withResolvers<void>();
      this.#drainStarted = Date.now();
      this.#drainTimer = setInterval(this.#checkDrain, 10);
    }
    return this.#drained.promise;
  }

  #checkDrain = (): void => {
    if (this.#socket.bufferedAmount <= this.#writeHighWaterMark) {
      this.#stopDrain()?.resolve();
    } else if (this.#writeTimeout > 0 && Date.now() - this.#drainStarted >= this.#writeTimeout) {
      this.close(
        closeReason(
          CloseCode.WriteTimeout,
          `the other side read nothing for ${this.#writeTimeout} ms`,
        ),
      );
    }
  };

  #stopDrain(): PromiseWithResolvers<void> | undefined {
    clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
    const drained = this.#drained;
    this.#drained = undefined;
    return drained;
  }

  /** Closes the connection with the WebSocket close code for `reason`. */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.#reason === undefined) {
      const why = this.#endReason ?? toCloseReason(reason);
      this.#closeWith(wireCode(why), why);
    } else if (this.#closeTimer !== undefined) {
      // Closing again: stop waiting for the handshake.
      this.#finish();
    }
    return this.#closed.promise;
  }

  /** The socket's events; an object, so no closure is made per message. */
  handleEvent(event: Event): void {
    switch (event.type) {
      case "message":
        this.#receive((event as MessageEvent).data);
        return;
      case "open":
        this.#socket.removeEventListener("open", this);
        // Closed while connecting: a server socket Deno upgraded opens anyway
        // (closing it before has no effect), so it is closed again now.
        if (this.#wireClose !== undefined) closeSocket(this.#socket, ...this.#wireClose);
        else this.#flushEarly();
        return;
      case "close":
        this.#ended(reasonOf(event as CloseEvent));
        this.#finish();
        return;
      case "error":
        // A "close" event follows; it says more.
        return;
    }
  }

  #flushEarly(): void {
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const frame of early) {
      if (this.#reason !== undefined) return;
      this.#socket.send(frame);
    }
  }

  #receive(data: unknown): void {
    if (this.#reason !== undefined || this.#endReason !== undefined) return;
    let text: string;
    if (typeof data === "string") {
      text = data;
    } else {
      const bytes = new Uint8Array(data as ArrayBuffer);
      if (bytes.length > this.#maxMessageBytes) {
        this.#refuseTooLarge();
        return;
      }
      try {
        text = fatalDecoder.decode(bytes);
      } catch {
        this.#logger.warn(`${this.remote}: a binary message is not UTF-8 text; closing`);
        this.#closeWith(1007, closeReason(CloseCode.Refused, "a message was not UTF-8 text"));
        return;
      }
    }
    if (tooLarge(text, this.#maxMessageBytes)) {
      this.#refuseTooLarge();
      return;
    }
    // Full: too many messages, or too many characters in more than one.
    if (this.#inbox.push(text) !== undefined && this.#inbox.length > 1) {
      this.#logger.warn(`${this.remote}: too many unread messages; closing`);
      const reason = closeReason(CloseCode.Refused, "too many unread messages");
      this.#inbox.end(reason, true); // what waits is dropped, not handled
      this.#closeWith(1008, reason);
    }
  }

  /** Ends the frames with FrameTooLarge (the peer answers it), then closes 1009. */
  #refuseTooLarge(): void {
    const error = new FrameTooLarge(this.#maxMessageBytes);
    this.#logger.warn(`${this.remote}: ${error.message}; closing`);
    const reason = closeReason(CloseCode.FrameTooLarge, error.message);
    this.#endReason = reason;
    this.#inbox.end(reason, false, error);
    // Let the peer answer it first, as TCP does.
    this.#inbox.finished.then(() => this.close(reason));
  }

  #closeWith(code: number, reason: CloseReason): void {
    this.#ended(reason);
    if (this.#socket.readyState === CONNECTING) this.#wireClose = [code, reason.message];
    closeSocket(this.#socket, code, reason.message);
    // The closing handshake needs the other side; do not wait for ever.
    this.#closeTimer = startTimer(this.#finish, this.#closeTimeout);
  }

  /** No more frames will come or go. */
  #ended(reason: CloseReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#early = [];
    this.#earlyBytes = 0;
    this.#inbox.end(reason);
    const drained = this.#stopDrain();
    if (drained !== undefined) {
      drained.reject(new ConnectionClosed(reason));
      drained.promise.catch(() => {});
    }
  }

  #finish = (): void => {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const socket = this.#socket;
    // A socket closed while connecting still needs its "open" to be closed
    // (Deno reports such a socket CLOSING, not CONNECTING; "open" removes
    // its own listener when it comes).
    if (this.#wireClose === undefined) socket.removeEventListener("open", this);
    socket.removeEventListener("message", this);
    socket.removeEventListener("close", this);
    socket.removeEventListener("error", this);
    this.#closed.resolve();
  };
}

/**
 * Closes `socket` with `code`. Browsers (and Deno's client sockets) accept
 * only 1000 and 3000-4999 from a program; the standard codes then become
 * 4000 + code (4009 for 1009), and the reason text says the rest.
 */
function closeSocket(socket: WebSocket, code: number, message: string): void {
  const reason = shorten(message);
  for (const attempt of [code, 4000 + code % 1000, 1000]) {
    try {
      socket.close(attempt, reason);
      return;
    } catch {
      // Not a code this socket may send; try the next.
    }
  }
}

/** A close reason fits in 123 bytes of UTF-8. */
function shorten(message: string): string {
  if (utf8Length(message) <= 123) return message;
  let out = message.slice(0, 120);
  while (utf8Length(out) > 120) out = out.slice(0, -1);
  return `${out}...`;
}

/** `Deno`, when the code runs in Deno. */
interface DenoLike {
  createHttpClient(options: { caCerts: string[] }): { close(): void };
}

/**
 * Connects to `ws://host:port/path` or `wss://...` and resolves once the
 * connection is open. Rejects when it cannot be opened (refused, a failed
 * TLS handshake, the server said no to the upgrade, `connectTimeout`).
 *
 * @example The server refuses the upgrade
 * ```ts
 * import { assertRejects } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/websocket";
 * import { listen } from "@seed/rpc/websocket/server";
 *
 * const server = new Server().serve(
 *   listen("ws://127.0.0.1:0/rpc", { authorize: () => false }),
 * );
 * await assertRejects(() => connect(server.addr), Error, "could not connect");
 * await server.shutdown();
 * ```
 */
export function connect(
  url: string | URL,
  options: ConnectOptions = {},
): Promise<WebSocketTransport> {
  const target = typeof url === "string" ? new URL(url) : url;
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    return Promise.reject(new TypeError(`Expected a ws:// or wss:// URL, got '${target.href}'`));
  }
  let client: { close(): void } | undefined;
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  const extra: Record<string, unknown> = {};
  if (options.caCerts !== undefined || options.headers !== undefined) {
    if (deno === undefined) {
      return Promise.reject(new TypeError("caCerts and headers work in Deno only"));
    }
    if (options.caCerts !== undefined) {
      extra.client = client = deno.createHttpClient({ caCerts: options.caCerts });
    }
    if (options.headers !== undefined) extra.headers = options.headers;
  }
  const protocols = options.protocols ?? [];
  let socket: WebSocket;
  try {
    socket = Object.keys(extra).length === 0
      ? new WebSocket(target, protocols)
      : new (WebSocket as unknown as new (url: URL, options: unknown) => WebSocket)(target, {
        ...extra,
        protocols: typeof protocols === "string" ? [protocols] : protocols,
      });
  } catch (error) {
    client?.close();
    return Promise.reject(error);
  }
  const { promise, resolve, reject } = Promise.withResolvers<WebSocketTransport>();
  const timer = startTimer(() => {
    fail(`no answer in ${options.connectTimeout ?? 10_000} ms`);
    socket.close();
  }, options.connectTimeout ?? 10_000);
  const onOpen = () => {
    done();
    const transport = new WebSocketTransport(socket, { ...options, remote: target.href });
    if (client !== undefined) transport.closed.then(() => client!.close());
    resolve(transport);
  };
  let problem: string | undefined;
  const onError = (event: Event) => {
    problem = (event as ErrorEvent).message || undefined;
  };
  const onClose = (event: Event) => {
    const { code, reason } = event as CloseEvent;
    fail(
      problem ?? (code === 1006 || code === 0 ? "refused or failed" : `closed (${code} ${reason})`),
    );
  };
  const fail = (why: string) => {
    done();
    client?.close();
    reject(new Error(`WebSocket: could not connect to ${target.href}: ${why}`));
  };
  const done = () => {
    clearTimeout(timer);
    socket.removeEventListener("open", onOpen);
    socket.removeEventListener("error", onError);
    socket.removeEventListener("close", onClose);
  };
  socket.addEventListener("open", onOpen);
  socket.addEventListener("error", onError);
  socket.addEventListener("close", onClose);
  return promise;
}

/**
 * Options for {@linkcode reconnecting}: the connection's, and how to
 * reconnect.
 */
export type ReconnectingOptions = ConnectOptions & Omit<ReconnectOptions, "open" | "dialect">;

/**
 * A channel to `url` that reconnects when the connection drops, with
 * backoff and jitter; see {@linkcode ReconnectingChannel}. Give it to a
 * {@linkcode Peer}: handlers stay registered once, whatever the number of
 * reconnects.
 *
 * @example A client that reconnects
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { reconnecting } from "@seed/rpc/websocket";
 * import { listen } from "@seed/rpc/websocket/server";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } })
 *   .serve(listen("ws://127.0.0.1:0/rpc"));
 * const channel = reconnecting(server.addr, { minDelay: 50 });
 * const client = new Peer(channel);
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.shutdown();
 * ```
 */
export function reconnecting(
  url: string | URL,
  options: ReconnectingOptions = {},
): ReconnectingChannel {
  return new ReconnectingChannel({
    ...options,
    open: () => connect(url, options),
  });
}
