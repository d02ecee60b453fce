/**
 * {@linkcode PortChannel}: a channel over anything with `postMessage` and
 * `message` events (a `Worker`, a worker's `self`, a `MessagePort`, a
 * `BroadcastChannel`). Messages cross as structured-clone objects through
 * the {@linkcode StructuredCloneCodec}; a port is push-fed, so the channel
 * is an {@linkcode InboxChannel}.
 *
 * @module
 */

import type { CodecFeatures } from "../../protocol/wire/codec.ts";
import type { ErrorMessage, Id, Message } from "../../protocol/wire/message.ts";
import {
  CloseCode,
  CLOSED_REMOTELY,
  type CloseReason,
  closeReason,
} from "../../protocol/wire/close.ts";
import { ConnectionClosed, ErrorCode } from "../../protocol/wire/errors.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import { ACCEPTED } from "../../protocol/wire/transport.ts";
import { consoleLogger, type Logger } from "../../protocol/shared/logger.ts";
import { StructuredCloneCodec } from "../../protocol/dialects/structured_clone.ts";
import { transferables } from "./_transfer.ts";
import { cloneSize } from "./_size.ts";

/** Anything messages can be posted to and received from. */
export interface Endpoint extends EventTarget {
  /** Sends a structured clone of `message`, transferring what `transfer` lists. */
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** The notification one side posts as it closes (`rpc.` names are reserved by JSON-RPC). */
export const CLOSE_METHOD = "rpc.close";

/** Options of `connect` (`@seed/rpc/worker`). */
export interface PortOptions {
  /**
   * Transfer buffers instead of copying them: `true` transfers every
   * `ArrayBuffer` in a call's params or a reply's result (a typed array's
   * buffer too), which leaves it detached (empty) on the sending side; a
   * function is given those params or that result (for a batch of replies,
   * the list of results) and returns what to transfer. When one of them
   * cannot be transferred (a wasm memory's buffer), the message is copied.
   * Not on a BroadcastChannel.
   *
   * @default {false}
   */
  transfer?: boolean | ((value: unknown) => Transferable[]);
  /**
   * Whether closing the channel (or the other side closing it) closes the
   * endpoint too: a port or BroadcastChannel is closed, a Worker is
   * terminated, a worker's `self` is closed (the worker ends).
   *
   * @default {true}
   */
  closeEndpoint?: boolean;
  /**
   * Where replies that cannot be cloned are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * The longest batch accepted; a longer one is answered with one -32600 error.
   *
   * @default {1000}
   */
  maxBatchLength?: number;
  /**
   * Who is at the other end, for logs.
   *
   * @default {"worker", "parent", "port" or "broadcast:<name>"}
   */
  remote?: string;
  /**
   * Messages received and not yet read by the peer (it reads no faster
   * than its `maxConcurrentHandlers` allow) beyond which the channel is
   * closed (`CloseCode.Refused`): a port has no backpressure, so this is
   * what bounds a sender that does not wait for answers.
   *
   * @default {16384}
   */
  maxQueued?: number;
  /**
   * The same bound in bytes, as estimated from the values (strings by
   * length, buffers by byte length).
   *
   * @default {67108864}
   */
  maxQueuedBytes?: number;
}

type Kind = "worker" | "self" | "port" | "broadcast";

/** Unread deliveries (or their bytes) past which `deliver` asks to wait, and the bounds are checked. */
const HIGH_WATER_MARK = 1024;
const HIGH_WATER_BYTES = 8 * 1024 * 1024;

const CLOSE_FRAME = Object.freeze({ jsonrpc: "2.0", method: CLOSE_METHOD });
const PORT_EVENTS = ["message", "messageerror"] as const;
/** A MessagePort's `close` event: its other end closed, or went with its worker (browsers; not Deno). */
const MESSAGE_PORT_EVENTS = ["message", "messageerror", "close"] as const;
/** A Worker's `error` event: an uncaught exception ended it. */
const WORKER_EVENTS = ["message", "messageerror", "error"] as const;

/** A channel over one endpoint. Made by `connect` of `@seed/rpc/worker`. */
export class PortChannel extends InboxChannel {
  /** Who is at the other end, for logs (`worker`, `parent`, `port`, `broadcast:<name>`). */
  readonly remote: string;
  /** The codec: every value that arrives is checked by it. */
  readonly codec: StructuredCloneCodec;
  #endpoint: Endpoint;
  #kind: Kind;
  #transfer: ((value: unknown) => Transferable[]) | undefined;
  #closeEndpoint: boolean;
  #logger: Logger;
  #messageErrors = 0;
  #maxQueued: number;
  #maxQueuedBytes: number;

  /**
   * Listens on `endpoint` at once; prefer `connect`.
   *
   * @param endpoint A Worker, a worker's `self`, a MessagePort or a BroadcastChannel.
   * @param options Transfer, ownership, logging.
   */
  constructor(endpoint: Endpoint, options: PortOptions = {}) {
    super(HIGH_WATER_MARK, HIGH_WATER_BYTES);
    this.#maxQueued = bound(options.maxQueued, 16_384, "maxQueued");
    this.#maxQueuedBytes = bound(options.maxQueuedBytes, 64 * 1024 * 1024, "maxQueuedBytes");
    this.#endpoint = endpoint;
    this.#kind = kindOf(endpoint);
    const transfer = options.transfer;
    if (transfer !== undefined && transfer !== false && this.#kind === "broadcast") {
      throw new TypeError("A BroadcastChannel cannot transfer: its messages go to every listener");
    }
    this.#transfer = transfer === true ? transferables : transfer || undefined;
    this.#closeEndpoint = options.closeEndpoint ?? true;
    this.#logger = options.logger ?? consoleLogger;
    this.codec = new StructuredCloneCodec({ maxBatchLength: options.maxBatchLength });
    this.remote = options.remote ?? remoteOf(endpoint, this.#kind);
    for (const type of this.#events()) endpoint.addEventListener(type, this);
    (endpoint as Partial<MessagePort>).start?.();
  }

  /** What the wire carries beyond calls: streams, except on a BroadcastChannel (notifications only). */
  get features(): CodecFeatures | undefined {
    return this.#kind === "broadcast" ? undefined : this.codec.features;
  }

  /** Values that arrived but could not be deserialized (`messageerror` events). */
  get messageErrors(): number {
    return this.#messageErrors;
  }

  /** Posts one message. A BroadcastChannel carries notifications only. */
  send(message: Message, _to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    if (this.#kind === "broadcast" && message.kind === "request") {
      return Promise.reject(
        new TypeError(
          "A BroadcastChannel carries notifications only: a call would have any number of answers",
        ),
      );
    }
    const frames = this.codec.encode(message);
    if (frames.length === 0) return ACCEPTED;
    return this.#post(frames[0], message);
  }

  /** Posts the replies to one batch as one array. */
  sendBatch(messages: readonly Message[], _to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    try {
      this.#postRaw(this.codec.encodeBatch(messages)[0], messages);
    } catch (error) {
      // A reply could not be cloned: find it (a copy, only on this path) and answer it with an error.
      this.#logger.error(`${this.remote}: a reply in a batch could not be cloned`, error);
      const answers = messages.map((message) => {
        if (message.kind !== "result") return message;
        try {
          structuredClone(message.result);
          return message;
        } catch {
          return notCloned(message.id);
        }
      });
      try {
        this.#postRaw(this.codec.encodeBatch(answers)[0], answers);
      } catch (again) {
        return Promise.reject(again);
      }
    }
    return ACCEPTED;
  }

  #post(frame: unknown, message: Message): Promise<void> {
    try {
      this.#postRaw(frame, message);
      return ACCEPTED;
    } catch (error) {
      if (message.kind !== "result" && message.kind !== "error") return Promise.reject(error);
      this.#logger.error(`${this.remote}: a reply could not be cloned`, error);
      try {
        this.#postRaw(this.codec.encode(notCloned(message.id))[0], undefined);
      } catch (again) {
        return Promise.reject(again);
      }
      return ACCEPTED;
    }
  }

  /** Posts `frame`; with `transfer`, the buffers of `source`'s params or results go with it. */
  #postRaw(frame: unknown, source: Message | readonly Message[] | undefined): void {
    if (this.#transfer === undefined || source === undefined) {
      this.#endpoint.postMessage(frame);
    } else {
      const payload = Array.isArray(source)
        ? (source as readonly Message[]).map(payloadOf)
        : payloadOf(source as Message);
      const transfer = this.#transfer(payload);
      try {
        this.#endpoint.postMessage(frame, transfer);
      } catch (error) {
        // A buffer that cannot be moved (a wasm memory's) fails the whole
        // post, before anything is detached: copy instead.
        if (transfer.length === 0) throw error;
        this.#endpoint.postMessage(frame);
      }
    }
  }

  /** The endpoint's events: one listener object, no closure per message. */
  handleEvent(event: Event): void {
    if (this.closeReason !== undefined) return;
    if (event.type === "message") {
      const data = (event as MessageEvent).data;
      this.#receive(data, cloneSize(data));
    } else if (event.type === "messageerror") {
      this.#messageErrors++;
      this.#push({
        kind: "invalid",
        id: null,
        error: {
          code: ErrorCode.ParseError,
          message: "Parse error",
          data: "a message could not be deserialized (messageerror)",
        },
        answer: this.#kind !== "broadcast",
      });
    } else if (event.type === "error" && this.#kind === "worker") {
      // An uncaught exception ended the worker; what else happens to it is the owner's choice.
      const what = (event as ErrorEvent).message || "an uncaught error";
      this.#end(closeReason(CloseCode.Failed, `the worker failed: ${what}`));
    } else if (event.type === "close") {
      this.#end(CLOSED_REMOTELY);
    }
  }

  #receive(data: unknown, size: number): void {
    let message = this.codec.decode(data);
    if (!Array.isArray(message)) {
      const one = message as Message;
      if (
        one.kind === "notification" && one.method === CLOSE_METHOD && this.#kind !== "broadcast"
      ) {
        this.#end(CLOSED_REMOTELY);
        return;
      }
    } else if (this.#kind === "broadcast") {
      message = (message as readonly Message[]).map(unanswered);
    }
    // On a BroadcastChannel an answer would reach every listener, and each
    // of them answers: junk is logged, never answered.
    if (this.#kind === "broadcast" && !Array.isArray(message)) {
      message = unanswered(message as Message);
    }
    this.#push(message, size);
  }

  #push(message: Message | readonly Message[], size = 0): void {
    // A port has no backpressure: past the high-water mark the bounds are checked.
    const full = this.deliver({ message, size });
    if (full === undefined) return;
    full.catch(ignore);
    const { count, bytes } = this.unread;
    if (count > this.#maxQueued || bytes > this.#maxQueuedBytes) {
      const what = count > this.#maxQueued
        ? `${this.#maxQueued} messages`
        : `${this.#maxQueuedBytes} bytes`;
      const reason = closeReason(
        CloseCode.Refused,
        `the other side posted more than ${what} that were not read yet`,
      );
      this.#logger.warn(`${this.remote}: ${reason.message}; closing`);
      this.close(reason);
    }
  }

  /** The other side closed or failed: what arrived before is still read. */
  #end(reason: CloseReason): void {
    if (this.beginClose(reason) === undefined) return;
    this.#detach();
    this.finishClose();
  }

  /**
   * Closes the channel: tells the other side (`rpc.close`, except on a
   * BroadcastChannel), stops listening and, with `closeEndpoint`, closes
   * the port or terminates the worker.
   */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.beginClose(reason, true) === undefined) return this.closed;
    if (this.#kind !== "broadcast") {
      try {
        this.#postRaw(CLOSE_FRAME, undefined);
      } catch {
        // A port already gone: nothing to tell.
      }
    }
    this.#detach();
    this.finishClose();
    return this.closed;
  }

  #events(): readonly string[] {
    const kind = this.#kind;
    return kind === "worker" ? WORKER_EVENTS : kind === "port" ? MESSAGE_PORT_EVENTS : PORT_EVENTS;
  }

  #detach(): void {
    const endpoint = this.#endpoint;
    for (const type of this.#events()) endpoint.removeEventListener(type, this);
    if (!this.#closeEndpoint) return;
    if (this.#kind === "worker") (endpoint as Worker).terminate();
    else (endpoint as Partial<MessagePort>).close?.();
  }
}

function ignore(): void {}

function bound(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 1)) throw new RangeError(`${name} must be at least 1, got ${value}`);
  return value;
}

/** The answer to a call whose result cannot be cloned. */
function notCloned(id: Id | null): ErrorMessage {
  return {
    kind: "error",
    id,
    error: {
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: "the result could not be cloned",
    },
  };
}

/** What a message carries: a call's params, a reply's result. */
function payloadOf(message: Message): unknown {
  if (message.kind === "result") return message.result;
  return message.kind === "request" || message.kind === "notification" ? message.params : undefined;
}

/** On a BroadcastChannel: a call refused, junk not answered (logged only). */
function unanswered(message: Message): Message {
  if (message.kind === "request") return refuseCall(message);
  if (message.kind === "invalid" && message.answer) return { ...message, answer: false };
  return message;
}

function refuseCall(request: Message & { kind: "request" }): Message {
  return {
    kind: "invalid",
    id: request.id,
    error: {
      code: ErrorCode.InvalidRequest,
      message: "Invalid Request",
      data: `a call of '${
        request.method.slice(0, 80)
      }' on a BroadcastChannel, which carries notifications only`,
    },
    answer: false,
  };
}

function kindOf(endpoint: Endpoint): Kind {
  if (typeof Worker !== "undefined" && endpoint instanceof Worker) return "worker";
  if (typeof BroadcastChannel !== "undefined" && endpoint instanceof BroadcastChannel) {
    return "broadcast";
  }
  if (typeof MessagePort !== "undefined" && endpoint instanceof MessagePort) return "port";
  if ((endpoint as unknown) === globalThis) return "self";
  return "port";
}

function remoteOf(endpoint: Endpoint, kind: Kind): string {
  if (kind === "broadcast") return `broadcast:${(endpoint as BroadcastChannel).name}`;
  return kind === "self" ? "parent" : kind;
}
