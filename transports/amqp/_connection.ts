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

import { AMQPClient } from "@cloudamqp/amqp-client";
import type { AMQPChannel, AMQPMessage, AMQPProperties } from "@cloudamqp/amqp-client";
import type { Logger } from "../../protocol/logger.ts";
import { backoffDelay } from "../../protocol/reconnect.ts";

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
  reconnectMin: number;
  reconnectMax: number;
}

/** The AMQP reply code in an error from the client, when it has one. */
export function replyCode(error: unknown): number | undefined {
  const match = /\((\d{3})\)/.exec(error instanceof Error ? error.message : String(error));
  return match === null ? undefined : Number(match[1]);
}

export class BrokerConnection {
  readonly url: string;
  readonly vhost: string;
  #options: BrokerConnectionOptions;
  #client: AMQPClient | undefined;
  #attachments: Attachment[] = [];
  #generation = 0;
  #connected = false;
  #closing = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Array<() => void> = [];
  #connecting: Promise<void> | undefined;
  /** How many times the connection was made again after a loss. */
  reconnects = 0;

  constructor(url: string, options: BrokerConnectionOptions) {
    const parsed = new URL(url);
    if (parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") {
      throw new TypeError(`Not an AMQP URL: ${url}`);
    }
    this.url = url;
    this.vhost = decodeURIComponent(parsed.pathname.slice(1)) || "/";
    this.#options = options;
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
    await this.#connect();
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

  /** A new AMQP channel on the current connection. */
  async channel(): Promise<AMQPChannel> {
    const client = this.#client;
    if (client === undefined || !this.#connected) throw new Error("not connected to the broker");
    const channel = await client.channel();
    channel.onerror = (reason: string) => this.#channelFailed(channel, reason);
    return channel;
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
    this.#connecting ??= this.#open().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const client = new AMQPClient(this.url, undefined, null);
    // A failed socket write must not reject: the client chains a publish's
    // confirm after its write, so a write that fails (EPIPE when the broker
    // dies) leaves the confirm's later rejection unhandled, which would end
    // the process. The socket's close event reports the loss instead.
    const write = client.send.bind(client);
    client.send = (bytes: Uint8Array) => write(bytes).catch(() => {});
    client.onerror = (error) =>
      this.#options.logger.debug(`${this.#options.name}: ${error.message}`);
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
    this.#attempt = 0;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  #channelFailed(channel: AMQPChannel, reason: string): void {
    if (this.#closing) return;
    this.#options.logger.warn(
      `${this.#options.name}: the broker closed channel ${channel.id}: ${reason}; reconnecting`,
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
      `${this.#options.name}: lost the broker connection${error ? `: ${error.message}` : ""}`,
    );
    if (wasConnected) { for (const attachment of this.#attachments) attachment.detach(generation); }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closing || this.#timer !== undefined) return;
    const { reconnectMin, reconnectMax } = this.#options;
    const delay = backoffDelay(this.#attempt++, reconnectMin, reconnectMax);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().then(
        () => {
          if (this.#connected) {
            this.reconnects++;
            this.#options.logger.warn(`${this.#options.name}: connected to the broker again`);
          }
        },
        (error) => {
          this.#options.logger.debug(`${this.#options.name}: reconnect failed`, error);
          this.#schedule();
        },
      );
    }, delay);
  }
}
