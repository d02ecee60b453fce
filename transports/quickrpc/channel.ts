/**
 * {@linkcode QuickRpcChannel}: a {@linkcode Channel} over a quickrpc
 * transport and codec. Each sender has its own codec and its own leftover
 * of undelimited text (the original keeps leftovers per sender), and its
 * name is the delivery's reply address: a handler's reply goes back to the
 * sender, and `call(…, { to })` / `notify(…, { to })` address one peer; left
 * out, a message goes to every peer (a broadcast on UDP).
 *
 * @module
 */

import type { Codec } from "../../protocol/wire/codec.ts";
import type { Delivery } from "../../protocol/wire/channel.ts";
import { CLOSED_REMOTELY, type CloseReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed } from "../../protocol/wire/errors.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import type { Message } from "../../protocol/wire/message.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../protocol/wire/dialect.ts";
import { consoleLogger, type Logger } from "../../protocol/shared/logger.ts";
import { QuickRpcCodec, SECINFO_METHOD } from "../../protocol/quickrpc/quickrpc_codec.ts";
import type { QuickRpcCodecSpec } from "../../protocol/quickrpc/config.ts";
import { QuickRpcTerseCodec } from "../../protocol/quickrpc/terse_codec.ts";
import type { SecuritySession } from "../../protocol/quickrpc/quickrpc_security.ts";
import { pythonJson } from "../../protocol/dialects/_python_json.ts";
import type { QuickRpcSink, QuickRpcTransport } from "./_transport.ts";

/** Options for a {@linkcode QuickRpcChannel}. */
export interface QuickRpcChannelOptions {
  /**
   * The codec.
   *
   * @default {{ kind: "jrpc", delimiter: "\0" }}
   */
  codec?: QuickRpcCodecSpec;
  /** Makes the security session for outgoing frames (the `rpc.secinfo` header); none by default. */
  security?: () => SecuritySession;
  /**
   * The largest telegram accepted from a sender, in characters; a longer
   * leftover is dropped and counted.
   *
   * @default {16 MiB}
   */
  maxFrameBytes?: number;
  /**
   * Messages received and not yet read before a stream transport pauses
   * and datagrams are dropped.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /**
   * Senders whose decoding state is kept; beyond it the oldest is forgotten
   * (UDP senders cost nothing to make up).
   *
   * @default {4096}
   */
  maxSenders?: number;
  /**
   * Where dropped input is logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/** What a {@linkcode QuickRpcChannel} dropped. */
export interface QuickRpcChannelStats {
  /** Unterminated tails of datagrams, and leftovers over the size limit. */
  droppedTails: number;
  /** Datagrams dropped because the reader was behind (a full inbox). */
  droppedBusy: number;
}

/** One sender's decoding state. */
interface Sender {
  codec: Codec<string>;
  decoder: TextDecoder;
  /** Undelimited text held, in the pieces it came in (joined once a delimiter comes). */
  parts: string[];
  /** Their total length. */
  length: number;
  /** The last `delimiter.length - 1` characters held (a delimiter may straddle pieces). */
  edge: string;
}

/** The codec for a spec; one per sender. The place a codec shorthand becomes a codec. */
function makeCodec(spec: QuickRpcCodecSpec): Codec<string> {
  switch (spec.kind) {
    case "jrpc":
      return new QuickRpcCodec();
    case "terse":
      return new QuickRpcTerseCodec();
  }
}

const encoder = new TextEncoder();

/** A {@linkcode Channel} over a quickrpc transport; see the module docs. */
export class QuickRpcChannel extends InboxChannel implements QuickRpcSink {
  /** The transport under it. */
  readonly transport: QuickRpcTransport;
  /** What was dropped. */
  readonly stats: QuickRpcChannelStats = { droppedTails: 0, droppedBusy: 0 };
  #spec: QuickRpcCodecSpec;
  #delimiter: string;
  #max: number;
  #maxSenders: number;
  #logger: Logger;
  #senders = new Map<string, Sender>();
  #encoder: Codec<string>;
  #security: (() => SecuritySession) | undefined;
  #sessions = new Map<string, SecuritySession>();
  /** Set while the inbox is full: resolves once the reader made room. */
  #behind: Promise<void> | undefined;

  /**
   * Makes the channel; {@linkcode QuickRpcChannel.open} opens the transport.
   *
   * @param transport The transport.
   * @param options Codec, security, size limit, logger.
   */
  constructor(transport: QuickRpcTransport, options: QuickRpcChannelOptions = {}) {
    super(options.highWaterMark ?? 1024);
    this.transport = transport;
    this.#spec = options.codec ?? { kind: "jrpc", delimiter: "\0" };
    this.#delimiter = this.#spec.delimiter;
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxSenders = options.maxSenders ?? 4096;
    this.#logger = options.logger ?? consoleLogger;
    this.#encoder = makeCodec(this.#spec);
    if (options.security !== undefined && this.#spec.kind === "terse") {
      // As the original's TerseCodec: it has no place for the secinfo header.
      throw new TypeError("quickrpc: security is not supported by the terse codec");
    }
    this.#security = options.security;
  }

  /** How many senders' decoding state is kept. */
  get senders(): number {
    return this.#senders.size;
  }

  /** The transport's name (for logs). */
  get remote(): string {
    return this.transport.name;
  }

  /** Opens the transport; resolves to this channel. */
  async open(): Promise<this> {
    await this.transport.open(this);
    return this;
  }

  /**
   * Bytes from a sender (the transport calls it); a promise while the
   * reader is behind. A datagram that comes then is dropped and counted.
   */
  received(sender: string, data: Uint8Array, whole = false): Promise<void> | undefined {
    if (this.closeReason !== undefined) return undefined;
    if (whole && this.#behind !== undefined) {
      this.stats.droppedBusy++;
      return this.#behind;
    }
    let state = this.#senders.get(sender);
    if (state === undefined) {
      if (this.#senders.size >= this.#maxSenders) {
        const oldest = this.#senders.keys().next().value!;
        this.#senders.delete(oldest);
        this.#sessions.delete(oldest);
      }
      state = {
        codec: makeCodec(this.#spec),
        decoder: new TextDecoder(),
        parts: [],
        length: 0,
        edge: "",
      };
      this.#senders.set(sender, state);
    }
    const piece = state.decoder.decode(data, { stream: !whole });
    const delimiter = this.#delimiter;
    if (!whole && (state.edge + piece).indexOf(delimiter) === -1) {
      // No telegram ends here: held without joining, so a long one costs no rescans.
      if (state.length + piece.length > this.#max) {
        return this.#dropTail(state, sender, piece.length);
      }
      state.parts.push(piece);
      state.length += piece.length;
      if (delimiter.length > 1) state.edge = (state.edge + piece).slice(1 - delimiter.length);
      return this.#behind;
    }
    const text = state.length === 0 ? piece : state.parts.join("") + piece;
    let start = 0;
    let end = text.indexOf(delimiter, Math.max(0, state.length - delimiter.length + 1));
    let behind: Promise<void> | undefined;
    while (end !== -1) {
      behind = this.#decode(state, sender, text.slice(start, end)) ?? behind;
      start = end + delimiter.length;
      end = text.indexOf(delimiter, start);
    }
    const tail = start === 0 ? text : text.slice(start);
    state.parts.length = 0;
    state.length = 0;
    state.edge = "";
    if (whole || tail.length > this.#max) {
      if (tail.length > 0) this.#dropTail(state, sender, tail.length);
    } else if (tail.length > 0) {
      state.parts.push(tail);
      state.length = tail.length;
      if (delimiter.length > 1) state.edge = tail.slice(1 - delimiter.length);
    }
    if (behind !== undefined && this.#behind === undefined) {
      this.#behind = behind.then(() => {
        this.#behind = undefined;
      }, () => {
        this.#behind = undefined;
      });
    }
    return this.#behind;
  }

  /** Forgets what `sender` has sent since its last delimiter, and counts it. */
  #dropTail(state: Sender, sender: string, dropped: number): Promise<void> | undefined {
    this.stats.droppedTails++;
    this.#logger.warn(
      `quickrpc ${this.remote}: dropped ${
        state.length + dropped
      } undelimited characters from ${sender}`,
    );
    state.parts.length = 0;
    state.length = 0;
    state.edge = "";
    return this.#behind;
  }

  #decode(state: Sender, sender: string, frame: string): Promise<void> | undefined {
    const decoded = state.codec.decode(frame);
    if (!Array.isArray(decoded)) {
      return this.deliver({ message: decoded as Message, from: sender, size: frame.length });
    }
    let behind: Promise<void> | undefined;
    for (const message of decoded as readonly Message[]) {
      const delivery: Delivery = { message, from: sender, size: frame.length };
      behind = this.deliver(delivery) ?? behind;
    }
    return behind;
  }

  /** The transport stopped (it calls this). */
  ended(error?: unknown): void {
    if (error !== undefined) this.#logger.warn(`quickrpc ${this.remote} stopped: ${error}`);
    if (this.beginClose(CLOSED_REMOTELY) !== undefined) this.finishClose();
  }

  /** Sends `message` to the peer named `to`, or to every peer. */
  async send(message: Message, to?: string): Promise<void> {
    if (this.closeReason !== undefined) throw new ConnectionClosed(this.closeReason);
    const codec = (to === undefined ? undefined : this.#senders.get(to)?.codec) ?? this.#encoder;
    const frames = codec.encode(message);
    let text = "";
    for (const frame of frames) {
      // Never an empty telegram: the original's terse reader loops forever on an empty line.
      if (frame !== "") text += await this.#secure(frame as string, to);
    }
    if (text === "") return;
    await this.transport.send(encoder.encode(text), to === undefined ? undefined : [to]);
  }

  async #secure(frame: string, to: string | undefined): Promise<string> {
    const delimiter = this.#delimiter;
    if (frame.includes(delimiter)) {
      throw new TypeError(
        `quickrpc: a telegram must not contain the delimiter ${JSON.stringify(delimiter)}`,
      );
    }
    if (this.#security === undefined) return frame + delimiter;
    const key = to ?? "";
    let session = this.#sessions.get(key);
    if (session === undefined) this.#sessions.set(key, session = this.#security());
    const { secinfo, payload } = await session.secureOut(frame);
    if (secinfo === undefined || Object.keys(secinfo).length === 0) return payload + delimiter;
    const header = `{"jsonrpc": "2.0", "method": ${pythonJson(SECINFO_METHOD)}, "params": ${
      pythonJson(secinfo)
    }}`;
    return header + delimiter + payload + delimiter;
  }

  /** Closes the channel and its transport. */
  async close(reason?: string | CloseReason): Promise<void> {
    if (this.beginClose(reason) !== undefined) {
      try {
        await this.transport.close();
      } finally {
        this.finishClose();
      }
    }
    return this.closed;
  }
}
