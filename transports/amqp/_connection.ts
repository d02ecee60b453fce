// One connection to a RabbitMQ broker that comes back by itself. This is the
// only module that loads the AMQP client (`@cloudamqp/amqp-client`, mapped in
// deno.json); nothing of its types leaves the `transports/amqp/` folder.
//
// Each part of a mesh (the caller, each service, the event subscriber) is an
// `Attachment`: on every (re)connection it is handed a fresh AMQP channel and
// declares its queues and consumers again; when the connection is lost it is
// told so, and keeps what it must resend. `generation` counts connections, so
// an acknowledgement for a delivery of an older connection is never sent on a
// newer one (the broker would close the channel: unknown delivery tag).
//
// Hostile frames. RabbitMQ never splits a content header, so a publisher that
// negotiated a large frame_max can hand every consumer a header frame that
// large; the client reads frames into a buffer of the frame_max it asked for
// and, past that buffer, throws from its socket's data handler (which ended
// the process). So: (1) the connection asks for `maxFrameBytes` and takes the
// broker's frame_max when that is smaller (every frame the broker can deliver
// then fits); (2) each frame is looked at before the client parses it: a
// delivery whose headers exceed `maxHeaderBytes` or whose body exceeds
// `maxMessageBytes` is never buffered, its body frames are skipped, and the
// channel's owner is told (it dead-letters or drops it, once, with a
// warning); (3) any error reading a frame drops the connection (it comes
// back by itself) instead of escaping; a delivery caught in the frame that
// could not be read is refused first, so it does not come back forever.

import { AMQPClient } from "@cloudamqp/amqp-client";
import type { AMQPChannel, AMQPMessage, AMQPProperties } from "@cloudamqp/amqp-client";
import type { Logger } from "../../protocol/shared/logger.ts";
import { Backoff } from "../../protocol/wire/retry.ts";

export type { AMQPChannel, AMQPMessage, AMQPProperties };

/** A part of a mesh that lives on the connection. */
export interface Attachment {
  /** A new connection: open channels, declare, consume. A throw resets the connection. */
  attach(connection: BrokerConnection, generation: number): Promise<void>;
  /** The connection was lost; a new one is being made (unless closing). */
  detach(generation: number): void;
}

export interface BrokerConnectionOptions {
  logger: Logger;
  name: string;
  /** First and largest pause between attempts to reconnect, ms. */
  minDelay: number;
  maxDelay: number;
  /** The frame_max asked for (the broker's, when smaller, is taken). */
  maxFrameBytes: number;
  /** A delivery whose properties (headers included) are larger is refused. */
  maxHeaderBytes: number;
  /** A delivery whose body is larger is refused, never buffered. */
  maxMessageBytes: number;
}

/** A delivery the connection refused before it was read; its owner settles it. */
export interface RefusedDelivery {
  readonly deliveryTag: number;
  /** Its properties, when they were small enough to read. */
  readonly properties: AMQPProperties | undefined;
  /** Why, for the warning. */
  readonly reason: string;
}

/** Told of each delivery on its channel that was refused unread. */
export type RefusalHandler = (refused: RefusedDelivery) => void;

/** What a channel's owner wants done with deliveries too large to read. */
export interface ChannelGuard {
  /** Settles each delivery refused unread (reject or drop). */
  onRefused: RefusalHandler;
  /** A smaller body limit for this channel than the connection's, with its name for the warning. */
  maxMessageBytes?: { bytes: number; name: string };
}

/** A delivery being skipped: the body bytes still to come on its channel. */
interface Skipping {
  remaining: number;
  message: AMQPMessage | undefined;
  refused: Omit<RefusedDelivery, "deliveryTag">;
}

/** What the client's frame view offers (its FrameView, a DataView; not exported). */
interface FrameView {
  getUint8(offset: number): number;
  getUint16(offset: number): number;
  getUint32(offset: number): number;
  setUint32(offset: number, value: number): void;
  getUint64(offset: number): number;
  getProperties(offset: number): [AMQPProperties, number];
}

/** The parts of the client this module steps in front of (version 4.1.1). */
interface ClientInternals {
  onRead(chunk: Uint8Array): boolean;
  parseFrames(view: FrameView): void;
  frameBuffer: Uint8Array;
  channels: Array<(AMQPChannel & { delivery?: AMQPMessage }) | undefined>;
}

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
/** Frame header: type (1), channel (2), size (4). */
const FRAME_HEAD = 7;
/** A content header's fixed part: class (2), weight (2), body size (8). */
const CONTENT_HEAD = 12;

/** What the client's socket writer uses of it (the client's own send, done here). */
interface SocketWriter {
  socket?: { write(bytes: Uint8Array, encoding: undefined, done: () => void): unknown };
  closeSocket(): void;
}

/**
 * The client's `send` that never rejects: a failed write (EPIPE when the
 * broker dies) resolves too, and the socket's close event reports the loss
 * (see `#open`). It resolves once the socket is done with `bytes` (the client
 * then reuses a publish's buffer); the write's callback is the promise's own
 * resolve, an error passed to it only a value nobody reads. The client's
 * send and a catch on it made a second promise, its reaction and a microtask
 * per frame written (three per mesh request: the request, the reply, the ack).
 */
function neverRejectingSend(client: SocketWriter, bytes: Uint8Array): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = client.socket;
    if (socket === undefined) return resolve();
    try {
      socket.write(bytes, undefined, resolve as () => void);
    } catch {
      client.closeSocket();
      resolve();
    }
  });
}

/** Publish buffers the client may keep for reuse. */
const POOLED_BUFFERS = 16;

/**
 * The client returns every publish buffer to a pool that never shrinks: grown
 * to the largest body sent, as many as were ever in flight at once (400
 * concurrent 256 KiB replies kept ~85 MiB). Keep a few, of frame size only.
 */
function boundPool(client: AMQPClient): void {
  const pool = (client as unknown as { bufferPool: Array<{ byteLength: number }> }).bufferPool;
  const push = Array.prototype.push;
  // The client gives back one buffer at a time (no rest array, no iterator per publish).
  pool.push = function (buffer) {
    if (this.length < POOLED_BUFFERS && buffer.byteLength <= client.frameMax) {
      push.call(this, buffer);
    }
    return this.length;
  };
}

/**
 * `url` with its password replaced by `***`, for anything printed or thrown.
 *
 * @example A password hidden
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { redactUrl } from "@seed/rpc/amqp";
 * assertEquals(redactUrl("amqp://guest:s3cret@127.0.0.1:5672/seeds"), "amqp://guest:***@127.0.0.1:5672/seeds");
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.href;
  } catch {
    // Not a URL: hide whatever sits between "//user:" and "@".
    return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, "$1***@");
  }
}

/** `text` with every occurrence of `url`'s password (raw and %-encoded) as `***`. */
export function redactPassword(text: string, url: string): string {
  let password: string;
  try {
    password = new URL(url).password;
  } catch {
    return redactUrl(text);
  }
  if (password === "") return text;
  let out = text.replaceAll(password, "***");
  const decoded = safeDecode(password);
  if (decoded !== password && decoded !== "") out = out.replaceAll(decoded, "***");
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The AMQP reply code in an error from the client, when it has one. */
export function replyCode(error: unknown): number | undefined {
  const match = /\((\d{3})\)/.exec(error instanceof Error ? error.message : String(error));
  return match === null ? undefined : Number(match[1]);
}

export class BrokerConnection {
  /** The brokers to connect to (a cluster's nodes), tried in turn. */
  readonly urls: readonly string[];
  readonly vhost: string;
  #options: BrokerConnectionOptions;
  #client: AMQPClient | undefined;
  #attachments: Attachment[] = [];
  #generation = 0;
  #connected = false;
  #closing = false;
  #backoff: Backoff;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Array<() => void> = [];
  #connecting: Promise<void> | undefined;
  /** The index in `urls` of the broker connected to, or tried next. */
  #current = 0;
  /** How many times the connection was made again after a loss. */
  reconnects = 0;

  #guards = new Map<number, ChannelGuard>();
  /** The broker's frame_max, from the last connection (0: unlimited). */
  brokerFrameMax: number | undefined;
  /** Deliveries refused unread (headers or body over the limits). */
  refused = 0;
  /** Times a frame could not be read and the connection was dropped for it. */
  unreadableFrames = 0;

  constructor(urls: string | readonly string[], options: BrokerConnectionOptions) {
    const list = typeof urls === "string" ? [urls] : [...urls];
    if (list.length === 0) throw new TypeError("No broker URL given");
    let vhost: string | undefined;
    for (const url of list) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new TypeError(`Not a URL: ${redactUrl(url)}`);
      }
      if (parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") {
        throw new TypeError(`Not an AMQP URL: ${redactUrl(url)}`);
      }
      const its = decodeURIComponent(parsed.pathname.slice(1)) || "/";
      // The vhost is the mesh: nodes of one cluster serve the same one.
      if (vhost !== undefined && its !== vhost) {
        throw new TypeError(
          `The broker URLs name different vhosts ('${vhost}', '${its}'): give the nodes of one mesh`,
        );
      }
      vhost = its;
    }
    this.urls = list;
    this.vhost = vhost!;
    this.#options = options;
    this.#backoff = new Backoff({ minDelay: options.minDelay, maxDelay: options.maxDelay });
  }

  /** The broker connected to now (or tried next). */
  get url(): string {
    return this.urls[this.#current]!;
  }

  get generation(): number {
    return this.#generation;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** The first connection: rejects when the broker cannot be reached or refuses. */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      if (error instanceof Error) error.message = this.redact(error.message);
      throw error;
    }
  }

  /** Adds a part; attaches it now when connected (rejects when that fails). */
  async add(attachment: Attachment): Promise<void> {
    this.#attachments.push(attachment);
    if (this.#connected) await attachment.attach(this, this.#generation);
  }

  remove(attachment: Attachment): void {
    const index = this.#attachments.indexOf(attachment);
    if (index >= 0) this.#attachments.splice(index, 1);
  }

  /**
   * A new AMQP channel on the current connection; `guard.onRefused` is told
   * of each delivery on it refused unread (it must settle it: reject or drop).
   */
  async channel(guard?: ChannelGuard): Promise<AMQPChannel> {
    const client = this.#client;
    if (client === undefined || !this.#connected) throw new Error("not connected to the broker");
    const channel = await client.channel();
    channel.onerror = (reason: string) => this.#channelFailed(channel, reason);
    if (guard !== undefined) this.#guards.set(channel.id, guard);
    else this.#guards.delete(channel.id);
    return channel;
  }

  /** `text` with every URL's password hidden. */
  redact(text: string): string {
    for (const url of this.urls) text = redactPassword(text, url);
    return text;
  }

  /** Resolves once connected (at once when connected now). */
  whenConnected(): Promise<void> {
    if (this.#connected) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const resolve of this.#waiters.splice(0)) resolve();
    if (wasConnected) {
      for (const attachment of this.#attachments) attachment.detach(this.#generation);
    }
    if (client !== undefined && !client.closed) {
      try {
        await client.close();
      } catch {
        // the socket is gone already
      }
    }
    // Let the socket's close events run before the caller's sanitizer looks.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#openAny().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  /**
   * One attempt: each broker in turn, from the current one, until one takes
   * the connection; rejects with the last failure when none does.
   */
  async #openAny(): Promise<void> {
    let failure: unknown;
    for (let tried = 0; tried < this.urls.length; tried++) {
      if (this.#closing) return;
      try {
        await this.#open(this.url);
        return;
      } catch (error) {
        failure = error;
        if (this.urls.length > 1) {
          this.#options.logger.debug(
            `${this.#options.name}: ${redactUrl(this.url)} failed: ${
              this.redact(String((error as Error)?.message ?? error))
            }`,
          );
        }
        this.#next();
      }
    }
    throw failure;
  }

  /** The next broker of the list is tried first from now on. */
  #next(): void {
    this.#current = (this.#current + 1) % this.urls.length;
  }

  async #open(url: string): Promise<void> {
    const address = new URL(url);
    address.searchParams.set("frameMax", String(this.#options.maxFrameBytes));
    const client = new AMQPClient(address.href, undefined, null);
    this.#guard(client);
    boundPool(client);
    // A failed socket write must not reject: the client chains a publish's
    // confirm after its write, so a write that fails (EPIPE when the broker
    // dies) leaves the confirm's later rejection unhandled, which would end
    // the process. The socket's close event reports the loss instead.
    const writer = client as unknown as SocketWriter;
    // The writer uses the client's `socket` and `closeSocket` (amqp-client
    // 4.1.1, pinned): refuse a version without them rather than write nothing.
    if (typeof writer.closeSocket !== "function") {
      throw new Error("@cloudamqp/amqp-client: this version has no closeSocket to write with");
    }
    client.send = (bytes: Uint8Array) => neverRejectingSend(writer, bytes);
    client.onerror = (error) =>
      this.#options.logger.debug(`${this.#options.name}: ${this.redact(error.message)}`);
    let lost = false;
    client.ondisconnect = (error) => {
      if (lost) return;
      lost = true;
      this.#lost(client, error);
    };
    await client.connect();
    // With Nagle's algorithm on, one call at a time waits for delayed ACKs
    // (~45 calls/s instead of thousands).
    client.socket?.setNoDelay(true);
    if (this.#closing) {
      await client.close().catch(() => {});
      return;
    }
    const frameMax = this.brokerFrameMax;
    if (frameMax === 0 || (frameMax !== undefined && frameMax > this.#options.maxFrameBytes)) {
      this.#options.logger.warn(
        `${this.#options.name}: the broker allows frames of ${
          frameMax === 0 ? "any size" : `${frameMax} bytes`
        }; this mesh reads frames up to ${this.#options.maxFrameBytes} bytes (maxFrameBytes): ` +
          "a larger one drops the connection, and its message is refused",
      );
    }
    this.#client = client;
    this.#generation++;
    this.#connected = true;
    const generation = this.#generation;
    try {
      for (const attachment of this.#attachments) await attachment.attach(this, generation);
    } catch (error) {
      if (this.#generation === generation && this.#connected) {
        this.#connected = false;
        this.#client = undefined;
        lost = true;
        for (const attachment of this.#attachments) attachment.detach(generation);
        await client.close().catch(() => {});
      }
      throw error;
    }
    this.#backoff.reset();
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /**
   * Steps in front of the client's frame reader: every frame is looked at
   * before the client parses it, and no read error escapes (see the top).
   */
  #guard(client: AMQPClient): void {
    const internals = client as unknown as ClientInternals;
    const read = internals.onRead.bind(client);
    const parse = internals.parseFrames.bind(client);
    const skipping = new Map<number, Skipping>();
    let broken = false;
    // The frame being parsed, so a throw from the parser names the right one
    // (a frame parsed in place from a read is not in the frame buffer).
    let parsingType = 0;
    let parsingChannel = 0;
    // Own properties shadow the prototype's; the socket's data handler is
    // bound when it connects, so it calls these.
    internals.parseFrames = (view: FrameView) => {
      // The client hands over one whole frame at a time.
      const type = view.getUint8(0);
      if (type === FRAME_METHOD) {
        if (view.getUint16(1) === 0) this.#tune(view);
      } else if (type === FRAME_HEADER) {
        if (this.#header(internals, view, skipping)) return;
      } else if (type === FRAME_BODY && skipping.size > 0) {
        const channelId = view.getUint16(1);
        const skip = skipping.get(channelId);
        if (skip !== undefined) {
          skip.remaining -= view.getUint32(3);
          if (skip.remaining <= 0) {
            skipping.delete(channelId);
            this.#refuse(internals, channelId, skip);
          }
          return;
        }
      }
      parsingType = type;
      parsingChannel = view.getUint16(1);
      parse(view);
      parsingType = 0;
    };
    internals.onRead = (chunk: Uint8Array) => {
      if (broken) return true;
      try {
        return read(chunk);
      } catch (error) {
        broken = true;
        // A throw outside the parser: the frame is the one being copied into
        // the frame buffer (larger than it), whose head is there.
        const head = internals.frameBuffer;
        const outside = parsingType === 0;
        const type = outside ? head[0]! : parsingType;
        const channelId = outside ? (head[1]! << 8) | head[2]! : parsingChannel;
        const size = outside ? new DataView(head.buffer, head.byteOffset).getUint32(3) + 8 : 0;
        this.#unreadable(client, internals, error, type, channelId, size);
        return true;
      }
    };
  }

  /** connection.tune: learn the broker's frame_max; "unlimited" becomes ours. */
  #tune(view: FrameView): void {
    // class 10 (connection), method 30 (tune): channel-max (2), frame-max (4).
    if (view.getUint16(FRAME_HEAD) !== 10 || view.getUint16(FRAME_HEAD + 2) !== 30) return;
    const offset = FRAME_HEAD + 4 + 2;
    const frameMax = view.getUint32(offset);
    this.brokerFrameMax = frameMax;
    // The client takes min(ours, theirs), and 0 (no limit) would win.
    if (frameMax === 0) view.setUint32(offset, this.#options.maxFrameBytes);
  }

  /** A content header: true when its delivery is refused (the frame is consumed here). */
  #header(
    internals: ClientInternals,
    view: FrameView,
    skipping: Map<number, Skipping>,
  ): boolean {
    const channelId = view.getUint16(1);
    const channel = internals.channels[channelId];
    // Only deliveries: a returned message is one we published ourselves.
    const message = channel?.delivery;
    if (message === undefined) return false;
    const headerBytes = view.getUint32(3) - CONTENT_HEAD;
    const bodyBytes = view.getUint64(FRAME_HEAD + 4);
    const { maxHeaderBytes } = this.#options;
    const limit = this.#guards.get(channelId)?.maxMessageBytes;
    const maxMessageBytes = Math.min(limit?.bytes ?? Infinity, this.#options.maxMessageBytes);
    let reason: string;
    let properties: AMQPProperties | undefined;
    if (headerBytes > maxHeaderBytes) {
      reason = `its headers are ${headerBytes} bytes (maxHeaderBytes ${maxHeaderBytes})`;
    } else if (bodyBytes > maxMessageBytes) {
      const name = maxMessageBytes === limit?.bytes ? limit.name : "maxMessageBytes";
      reason = `its body is ${bodyBytes} bytes (${name} ${maxMessageBytes})`;
      try {
        properties = view.getProperties(FRAME_HEAD + CONTENT_HEAD)[0];
      } catch {
        properties = undefined;
      }
    } else {
      return false;
    }
    const skip: Skipping = { remaining: bodyBytes, message, refused: { properties, reason } };
    if (bodyBytes === 0) this.#refuse(internals, channelId, skip);
    else skipping.set(channelId, skip);
    return true;
  }

  /** The refused delivery is over: the client forgets it, its owner settles it. */
  #refuse(internals: ClientInternals, channelId: number, skip: Skipping): void {
    const channel = internals.channels[channelId];
    if (channel !== undefined && channel.delivery === skip.message) delete channel.delivery;
    this.refused++;
    const message = skip.message;
    if (message === undefined) return;
    this.#guards.get(channelId)?.onRefused({ deliveryTag: message.deliveryTag, ...skip.refused });
  }

  /**
   * A frame could not be read (larger than the frame buffer, or broken): the
   * delivery it belongs to is refused, then the connection is dropped (the
   * reader's state is lost) and made again.
   */
  #unreadable(
    client: AMQPClient,
    internals: ClientInternals,
    error: unknown,
    type: number,
    channelId: number,
    size: number,
  ): void {
    this.unreadableFrames++;
    const message = error instanceof Error ? error.message : String(error);
    this.#options.logger.warn(
      `${this.#options.name}: a frame could not be read (${
        this.redact(message)
      }); dropping the connection`,
    );
    if (type === FRAME_HEADER) {
      const delivery = internals.channels[channelId]?.delivery;
      const guard = this.#guards.get(channelId);
      if (delivery !== undefined && guard !== undefined) {
        this.refused++;
        guard.onRefused({
          deliveryTag: delivery.deliveryTag,
          properties: undefined,
          reason: size > 0
            ? `a frame of ${size} bytes is larger than this mesh reads (maxFrameBytes ${this.#options.maxFrameBytes})`
            : `its content header could not be read`,
        });
      }
    }
    // end() sends what is queued (the refusal) first; the broker then closes.
    const socket = client.socket;
    socket?.end(() => socket.destroy());
  }

  #channelFailed(channel: AMQPChannel, reason: string): void {
    if (this.#closing) return;
    this.#options.logger.warn(
      `${this.#options.name}: the broker closed channel ${channel.id}: ${
        this.redact(reason)
      }; reconnecting`,
    );
    const client = this.#client;
    if (client !== undefined) client.socket?.destroy();
  }

  #lost(client: AMQPClient, error: Error | undefined): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    const generation = this.#generation;
    const wasConnected = this.#connected;
    this.#connected = false;
    if (this.#closing) return;
    this.#options.logger.warn(
      `${this.#options.name}: lost the broker connection${
        error ? `: ${this.redact(error.message)}` : ""
      }`,
    );
    if (wasConnected) { for (const attachment of this.#attachments) attachment.detach(generation); }
    // The broker that dropped us may be the node that died: another first.
    this.#next();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closing || this.#timer !== undefined) return;
    const delay = this.#backoff.delay();
    this.#backoff.fail();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().then(
        () => {
          if (this.#connected) {
            this.reconnects++;
            const which = this.urls.length > 1 ? ` (${redactUrl(this.url)})` : "";
            this.#options.logger.warn(
              `${this.#options.name}: connected to the broker again${which}`,
            );
          }
        },
        (error) => {
          this.#options.logger.debug(
            `${this.#options.name}: reconnect failed: ${
              this.redact(String(error?.message ?? error))
            }`,
          );
          this.#schedule();
        },
      );
    }, delay);
  }
}
