/**
 * {@linkcode ReconnectingChannel}: a channel that opens a new transport when
 * its transport drops, with exponential backoff and jitter, until it is
 * closed. A {@linkcode Peer} on it lives across reconnects.
 *
 * When a connection drops, `pending: "reject"` (the default) rejects our
 * calls sent on it with {@linkcode ConnectionClosed} (their replies can no
 * longer come) and aborts handlers running for its calls; `"keep"` leaves
 * calls pending until their timeout, for servers that keep a session across
 * connections. Each connection is the reply address of its calls, so ids
 * never mix across connections. What is sent while no connection is up is
 * queued (up to `maxQueued`) and sent in order once one is.
 *
 * Events: `open` per connection, `reconnecting` (detail
 * `{ attempt, delay, reason }`) before each wait, `close` once at the end.
 *
 * @example A TCP client that comes back after a server restart
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, ReconnectingChannel, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const first = new Server({ handlers: { who: () => "first" } })
 *   .serve(listen("tcp://127.0.0.1:0"));
 * const addr = first.addr;
 * const channel = new ReconnectingChannel({ open: () => connect(addr), minDelay: 20 });
 * const client = new Peer(channel);
 * assertEquals(await client.call("who"), "first");
 * await first.shutdown();
 *
 * const second = new Server({ handlers: { who: () => "second" } }).serve(listen(addr));
 * await new Promise((resolve) => channel.addEventListener("open", resolve, { once: true }));
 * assertEquals(await client.call("who"), "second");
 * await client.close();
 * await second.shutdown();
 * ```
 *
 * @module
 */

import type { Channel, Delivery } from "./channel.ts";
import type { CodecFeatures } from "./codec.ts";
import { CloseCode, type CloseReason, closeReason, toCloseReason } from "./close.ts";
import type { Dialect } from "./dialect.ts";
import { ConnectionClosed } from "./errors.ts";
import { FramedChannel } from "./framed.ts";
import { jsonRpc } from "../dialects/jsonrpc.ts";
import { consoleLogger, type Logger } from "../shared/logger.ts";
import type { Id, Message } from "./message.ts";
import { ACCEPTED, type Transport } from "./transport.ts";
import { Backoff } from "./retry.ts";
import { FrameQueue } from "./_frame_queue.ts";

/**
 * Options for a {@linkcode ReconnectingChannel}.
 */
export interface ReconnectOptions {
  /** Opens a new connection; called at the start and after each drop. */
  open: () => Promise<Transport<string>>;
  /**
   * The dialect; its client codec is made for each connection.
   *
   * @default {each connection's `dialect`, else `jsonRpc`}
   */
  dialect?: Dialect;
  /**
   * Milliseconds before the first retry; each failed attempt doubles it.
   *
   * @default {250}
   */
  minDelay?: number;
  /**
   * The longest wait between attempts, in milliseconds.
   *
   * @default {30000}
   */
  maxDelay?: number;
  /**
   * Failed attempts in a row after which the channel gives up and closes.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * What happens to calls in flight when a connection drops (see the
   * module docs).
   *
   * @default {"reject"}
   */
  pending?: "reject" | "keep";
  /**
   * Messages held while no connection is up; beyond it `send` rejects.
   *
   * @default {1024}
   */
  maxQueued?: number;
  /**
   * Called after each reconnect (not the first open), before anything
   * queued meanwhile is sent: resubscribe here. Errors are logged.
   */
  onReconnect?: () => unknown;
  /**
   * Where drops and failed attempts are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * The detail of a `reconnecting` event.
 */
export interface ReconnectingDetail {
  /** 1 for the first retry after a drop, then 2, 3... */
  readonly attempt: number;
  /** Milliseconds until the attempt. */
  readonly delay: number;
  /** Why the last connection ended, or why the last attempt failed. */
  readonly reason: CloseReason;
}

interface Queued {
  message: Message;
  to: string | undefined;
  done: PromiseWithResolvers<void>;
}

/**
 * A channel over a sequence of connections. See the module docs.
 *
 * @example Events
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, ReconnectingChannel, Server } from "@seed/rpc";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } });
 * const channel = new ReconnectingChannel({
 *   open: () => {
 *     const [serverEnd, clientEnd] = memoryPair();
 *     server.add(serverEnd);
 *     return Promise.resolve(clientEnd);
 *   },
 * });
 * const opened: string[] = [];
 * channel.addEventListener("open", () => opened.push("open"));
 * const client = new Peer(channel);
 * assertEquals(await client.call("ping"), "pong");
 * assertEquals([opened, channel.connected], [["open"], true]);
 * await client.close();
 * await server.shutdown();
 * ```
 */
export class ReconnectingChannel extends EventTarget implements Channel {
  #options: ReconnectOptions;
  #logger: Logger;
  #keep: boolean;
  #inbox = new FrameQueue<Delivery>();
  #queue: Queued[] = [];
  #current: FramedChannel<string> | undefined;
  /** Numbers each connection; stamped on deliveries as their reply address. */
  #generation = 0;
  /** Our requests sent on the current connection and not yet answered. */
  #outstanding = new Set<Id>();
  /** Requests received on the current connection and not yet answered. */
  #serving = new Set<Id>();
  #reason: CloseReason | undefined;
  /** Aborted on close: ends the wait between attempts. */
  #stop = new AbortController();
  #closed = Promise.withResolvers<void>();
  #running: Promise<void>;
  #remote: string | undefined;
  #reconnects = 0;
  /** The dialect's features, for before the first connection. */
  #features: CodecFeatures | undefined;

  /** Starts connecting at once. */
  constructor(options: ReconnectOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? consoleLogger;
    this.#keep = options.pending === "keep";
    this.#features = (options.dialect ?? jsonRpc).client().features;
    this.#running = this.#run();
  }

  /** Whether a connection is up now. */
  get connected(): boolean {
    return this.#current !== undefined;
  }

  /** How many times a dropped connection was replaced. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Who is at the other end of the current (or last) connection. */
  get remote(): string | undefined {
    return this.#remote;
  }

  /** Everything received, over every connection, in order. */
  get incoming(): AsyncIterable<Delivery> {
    return this.#inbox;
  }

  /** What the dialect carries beyond plain calls (streams, progress). */
  get features(): CodecFeatures | undefined {
    return this.#current?.features ?? this.#features;
  }

  /** Whether a send waits for the other side to read on the current connection. */
  get congested(): boolean {
    return this.#current?.congested === true;
  }

  /** A delivery that has already arrived, or `undefined`. */
  take(): Delivery | undefined {
    return this.#inbox.take();
  }

  /** Resolves once the channel is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }

  /**
   * Sends on the current connection, or queues until one is up. A reply
   * addressed to an earlier connection is dropped: the caller is gone.
   */
  send(message: Message, to?: string): Promise<void> {
    if (this.#reason !== undefined) return Promise.reject(new ConnectionClosed(this.#reason));
    const current = this.#current;
    if (current === undefined) return this.#enqueue(message, to);
    if (
      !this.#keep &&
      (message.kind === "result" || message.kind === "error" || message.kind === "item" ||
        message.kind === "progress")
    ) {
      // For a caller on an earlier connection: it is gone.
      if (to !== undefined && to !== String(this.#generation)) return ACCEPTED;
      if (message.kind === "item" || message.kind === "progress") return current.send(message);
      if (message.id !== null) this.#serving.delete(message.id);
    }
    if (!this.#keep && message.kind === "request" && message.id !== null) {
      this.#outstanding.add(message.id);
    }
    return current.send(message);
  }

  /** Sends the replies to one batch together, on the connection it came from. */
  sendBatch(messages: readonly Message[], to?: string): Promise<void> {
    const current = this.#current;
    if (current === undefined || this.#reason !== undefined) {
      let last: Promise<void> = ACCEPTED;
      for (const message of messages) {
        last.catch(() => {});
        last = this.send(message, to);
      }
      return last;
    }
    if (!this.#keep) {
      if (to !== undefined && to !== String(this.#generation)) return ACCEPTED;
      for (const message of messages) {
        if ((message.kind === "result" || message.kind === "error") && message.id !== null) {
          this.#serving.delete(message.id);
        }
      }
    }
    return current.sendBatch(messages);
  }

  /** Stops reconnecting and closes the current connection. */
  async close(reason?: string | CloseReason): Promise<void> {
    if (this.#reason === undefined) {
      const why = toCloseReason(reason);
      this.#reason = why;
      this.#inbox.end(why);
      this.#stop.abort();
      for (const queued of this.#queue.splice(0)) {
        queued.done.reject(new ConnectionClosed(why));
        queued.done.promise.catch(() => {});
      }
      await this.#current?.close(why);
      await this.#running;
      this.dispatchEvent(new CustomEvent("close", { detail: why }));
      this.#closed.resolve();
    }
    return this.#closed.promise;
  }

  #enqueue(message: Message, to: string | undefined): Promise<void> {
    // A reply for a connection that is gone has nobody to go to.
    if (!this.#keep && (message.kind === "result" || message.kind === "error")) return ACCEPTED;
    if (this.#queue.length >= (this.#options.maxQueued ?? 1024)) {
      return Promise.reject(
        new ConnectionClosed(closeReason(CloseCode.Failed, "not connected, and the queue is full")),
      );
    }
    const done = Promise.withResolvers<void>();
    this.#queue.push({ message, to, done });
    return done.promise;
  }

  async #run(): Promise<void> {
    const { minDelay, maxDelay } = this.#options;
    const backoff = new Backoff({ minDelay, maxDelay });
    let reason: CloseReason | undefined;
    while (this.#reason === undefined) {
      if (reason !== undefined) {
        const delay = backoff.delay();
        this.dispatchEvent(
          new CustomEvent<ReconnectingDetail>("reconnecting", {
            detail: { attempt: backoff.attempt, delay, reason },
          }),
        );
        await backoff.wait(this.#stop.signal, delay);
        if (this.#reason !== undefined) return;
      }
      let transport: Transport<string>;
      try {
        transport = await this.#options.open();
      } catch (error) {
        backoff.fail();
        reason = closeReason(CloseCode.Failed, `could not connect: ${(error as Error).message}`);
        this.#logger.debug(reason.message);
        if (backoff.failures >= (this.#options.maxAttempts ?? Infinity)) {
          this.close(closeReason(CloseCode.Failed, `gave up after ${backoff.failures} attempts`));
          return;
        }
        continue;
      }
      if (this.#reason !== undefined) {
        await transport.close(this.#reason);
        return;
      }
      backoff.connected();
      reason = await this.#serve(transport);
      backoff.disconnected();
      if (this.#reason === undefined) {
        this.#logger.debug(`${this.#remote ?? "reconnecting"}: connection lost: ${reason.message}`);
      }
    }
  }

  /**
   * Sends what was queued while no connection was up, one at a time as the
   * wire takes it (a burst queued meanwhile must not be handed over at once:
   * the transport would cut us off as a peer that does not read). What a
   * lost connection leaves unsent stays queued for the next one.
   */
  async #flush(channel: FramedChannel<string>): Promise<void> {
    const queue = this.#queue;
    while (queue.length > 0 && this.#reason === undefined && channel.closeReason === undefined) {
      const queued = queue.shift()!;
      const sent = this.send(queued.message, queued.to);
      sent.then(queued.done.resolve, queued.done.reject);
      if (sent !== ACCEPTED) await sent.catch(() => {});
    }
  }

  /** Runs one connection until it ends; resolves with why. */
  async #serve(transport: Transport<string>): Promise<CloseReason> {
    const dialect = this.#options.dialect ?? transport.dialect ?? jsonRpc;
    const channel = new FramedChannel(transport, dialect.client(), { logger: this.#logger });
    const generation = ++this.#generation;
    const from = this.#keep ? undefined : String(generation);
    this.#remote = transport.remote;
    this.#current = channel;
    const pumping = this.#pump(channel, from);
    this.dispatchEvent(new Event("open"));
    if (generation > 1) {
      this.#reconnects++;
      try {
        await this.#options.onReconnect?.();
      } catch (error) {
        this.#logger.warn(`${this.#remote}: onReconnect failed`, error);
      }
    }
    await this.#flush(channel);
    await pumping;
    this.#current = undefined;
    await channel.close();
    const reason = channel.closeReason ?? closeReason(CloseCode.Remote, "connection ended");
    if (from !== undefined) this.#forget(from, reason);
    return reason;
  }

  /** Hands on what one connection receives, until it ends. */
  async #pump(channel: FramedChannel<string>, from: string | undefined): Promise<void> {
    try {
      for await (const delivery of channel.incoming) {
        const room = this.#inbox.push(from === undefined ? delivery : this.#track(delivery, from));
        if (room !== undefined) await room.catch(() => {});
      }
    } catch (error) {
      this.#logger.debug(`${this.#remote}: reading failed`, error);
    }
  }

  /** Notes what a delivery asks and answers, and stamps its connection. */
  #track(delivery: Delivery, from: string): Delivery {
    const messages = Array.isArray(delivery.message)
      ? delivery.message as readonly Message[]
      : [delivery.message as Message];
    for (const message of messages) {
      if (message.kind === "request" && message.id !== null) this.#serving.add(message.id);
      else if ((message.kind === "result" || message.kind === "error") && message.id !== null) {
        this.#outstanding.delete(message.id);
      }
    }
    return { message: delivery.message, from };
  }

  /** The connection `from` is gone: its calls are lost, both ways. */
  #forget(from: string, reason: CloseReason): void {
    const lost: Message[] = [];
    for (const id of this.#outstanding) lost.push({ kind: "lost", id, reason });
    for (const id of this.#serving) lost.push({ kind: "cancel", id });
    this.#outstanding.clear();
    this.#serving.clear();
    if (lost.length > 0 && this.#reason === undefined) this.#inbox.push({ message: lost, from });
  }
}
