/**
 * Between our messages and mushroom's, for one session: the only place a
 * mushroom message becomes a {@linkcode Message} and back. Pure and
 * browser-safe; the mushroom transport's session numbers nothing itself: it
 * keeps, acknowledges and resends what this codec makes.
 *
 * Per session because of two pieces of state: the next message id (each
 * side numbers its messages from 0 with no gaps; replies use ids too), and
 * our requests awaiting replies (a reply names the request's message id;
 * our caller knows the call by its own id).
 *
 * What crosses the wire for our messages: a request is `[2, id, method,
 * params]`, a notification `[1, ...]`, a result `[3, id, request_id,
 * result]`, an error `[4, id, request_id, data]` whose bare data is the
 * method's name for "Method not found", `"Internal server error"` for an
 * unexpected exception (-32603), and the error's message otherwise. An
 * incoming error becomes an error with code -32000 (the caller's
 * `RemoteError`), its data as `data` and, when it is a string, as the
 * message. Incoming `null` data (mushroom's "left out") reaches a handler as
 * no params.
 * A call's metadata, when it has some, is a fifth item (`[2, id, method,
 * params, meta]`), between our peers; mushroom.js and the Python engine
 * never get one unless a caller of ours gives meta.
 * mushroom has no cancel: a cancelled call is forgotten, and its late reply
 * dropped.
 *
 * Streams and progress, on a session whose two sides are ours and said so
 * in the handshake (`streams` on): the JSON-RPC extension's messages as
 * mushroom calls, numbered and acknowledged like any other. A stream call
 * is `[2, id, "rpc.stream", {"method": M, "params": P, "credit": N}, meta]`
 * (`"rpc.call"` with `"progress": true` for a call that wants progress);
 * an item `[1, id, "rpc.item", {"id": R, "item": V}]`, progress
 * `[1, id, "rpc.progress", {"id": R, "value": V}]`, more credit
 * `[1, id, "rpc.credit", {"id": R, "credit": N}]` and a cancel
 * `[1, id, "rpc.cancel", {"id": R}]`, where `R` is the call's request
 * message id; the end is the call's reply, whose error data, for these
 * calls only, is the whole error (`{"code", "message", "data"}`). Without
 * `streams`, none of these is sent or read.
 *
 * @example A call and its reply, as the caller's codec sees them
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { MushroomCallCodec } from "./mushroom_calls.ts";
 *
 * const codec = new MushroomCallCodec();
 * // Our call 7 leaves as mushroom message 0; the reply names message 0.
 * assertEquals(codec.encode({ kind: "request", id: 7, method: "add", params: [1, 2] }), [
 *   { code: 2, id: 0, method: "add", data: [1, 2] },
 * ]);
 * assertEquals(codec.decode({ code: 3, id: 0, requestId: 0, data: 3 }), {
 *   kind: "result",
 *   id: 7,
 *   result: 3,
 * });
 * ```
 *
 * @module
 */

import type { Codec } from "../wire/codec.ts";
import { ErrorCode } from "../wire/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type {
  ErrorObject,
  Id,
  ItemMessage,
  Message,
  NotificationMessage,
  ProgressMessage,
  RequestMessage,
} from "../wire/message.ts";
import type { MushroomCall, MushroomMessage } from "./mushroom_codec.ts";
import {
  CALL_METHOD,
  CREDIT_METHOD,
  decodeControl,
  ITEM_METHOD,
  PROGRESS_METHOD,
  STREAM_METHOD,
  unwrapRequest,
} from "./jsonrpc_stream.ts";

const NOTHING: readonly never[] = Object.freeze([]);

/** The code of an error mushroom's other side answered (mushroom errors carry no code). */
const MUSHROOM_ERROR = -32000;

/** The notification that cancels a call, on a session with `streams`. */
const CANCEL_METHOD = "rpc.cancel";

/**
 * One session's codec between {@linkcode Message}s and
 * {@linkcode MushroomMessage}s: numbers what it encodes, and maps replies
 * back to our calls. Heartbeats and disconnects are the session's own: it
 * decodes them to nothing.
 */
export class MushroomCallCodec implements Codec<MushroomMessage> {
  /** The dialect's name, for logs. */
  readonly name = "mushroom";
  /** Logs prefix, and where dropped replies are said. */
  #label: string;
  #logger: Logger | undefined;
  #nextId = 0;
  /** Our requests awaiting replies: their message id → our call id. */
  #awaited = new AwaitedCalls();
  /** Our wrapped requests (stream calls, calls with progress) awaiting replies, by message id. */
  #wrappedOut = new Set<number>();
  /** Wrapped requests we received and have not answered yet: their error keeps code and data. */
  #wrappedIn = new Set<number>();
  /** Whether both sides said they stream: stream messages are sent and read. */
  readonly streams: boolean;

  /**
   * Makes a codec whose first message id is 0.
   *
   * @param logger Where dropped replies are said (the session's, rate-limited); none: not said.
   * @param label The session's id, to start those lines with.
   * @param streams Whether the other side is ours and streams (said in the handshake).
   */
  constructor(logger?: Logger, label = "mushroom", streams = false) {
    this.#logger = logger;
    this.#label = label;
    this.streams = streams;
  }

  /** How many of our requests await replies. */
  get pending(): number {
    return this.#awaited.size;
  }

  /** The message to send for `message` (numbered), or none: a cancel, a reply to nothing. */
  encode(message: Message): readonly MushroomMessage[] {
    const one = this.encodeOne(message);
    return one === undefined ? NOTHING : [one];
  }

  /** What {@linkcode encode} gives, without the list: the message, or `undefined` for none. */
  encodeOne(message: Message): MushroomMessage | undefined {
    switch (message.kind) {
      case "request": {
        const id = this.#nextId++;
        if (message.id !== null) {
          this.#awaited.set(id, message.id);
        }
        const wrapped = this.streams &&
          (message.stream !== undefined || message.progress === true);
        const call: MushroomCall = wrapped ? { code: 2, id, method: "", data: null } : {
          code: 2,
          id,
          method: message.method,
          data: message.params ?? null,
        };
        if (wrapped) {
          wrap(call, message);
          this.#wrappedOut.add(id);
        }
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case "notification": {
        const call: MushroomCall = {
          code: 1,
          id: this.#nextId++,
          method: message.method,
          data: message.params ?? null,
        };
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case "result":
        if (typeof message.id !== "number") return this.#unaddressed(message.kind);
        if (this.streams) this.#wrappedIn.delete(message.id);
        return {
          code: 3,
          id: this.#nextId++,
          requestId: message.id,
          data: message.result ?? null,
        };
      case "error":
        if (typeof message.id !== "number") return this.#unaddressed(message.kind);
        return {
          code: 4,
          id: this.#nextId++,
          requestId: message.id,
          // To a wrapped call (only ours make them): the whole error, code and data kept.
          data: this.streams && this.#wrappedIn.delete(message.id)
            ? wholeError(message.error)
            : errorData(message.error),
        };
      case "cancel": {
        // Plain mushroom cannot cancel: forget the call, and drop its late reply.
        const id = this.#awaited.messageIdOf(message.id);
        if (id === undefined) return undefined;
        this.forget(id);
        return this.streams ? this.#control(CANCEL_METHOD, { id }) : undefined;
      }
      case "item":
      case "progress":
        // Ours to a stream call: addressed by its request's message id.
        if (!this.streams || typeof message.id !== "number") return undefined;
        return this.#control(
          message.kind === "item" ? ITEM_METHOD : PROGRESS_METHOD,
          message.kind === "item"
            ? { id: message.id, item: message.value ?? null }
            : { id: message.id, value: message.value ?? null },
        );
      case "credit": {
        const id = this.#awaited.messageIdOf(message.id);
        if (!this.streams || id === undefined) return undefined;
        return this.#control(CREDIT_METHOD, { id, credit: message.credit });
      }
      default:
        return undefined;
    }
  }

  /** A numbered notification of the stream extension. */
  #control(method: string, data: unknown): MushroomCall {
    return { code: 1, id: this.#nextId++, method, data };
  }

  /** The message `message` carries for a peer, or none (a heartbeat, a reply to no call of ours). */
  decode(message: MushroomMessage): Message | readonly Message[] {
    switch (message.code) {
      // mushroom's data is null when left out: no params.
      case 1: {
        if (this.streams && message.method.startsWith("rpc.")) {
          const control = this.#decodeControl(message.method, message.data);
          if (control !== undefined) return control;
        }
        const call: NotificationMessage = message.data === null
          ? { kind: "notification", method: message.method }
          : { kind: "notification", method: message.method, params: message.data };
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case 2: {
        if (
          this.streams && (message.method === STREAM_METHOD || message.method === CALL_METHOD)
        ) {
          const call = unwrapRequest(message.id, message.method, message.data ?? undefined);
          if (call.kind === "request") {
            this.#wrappedIn.add(message.id);
            if (message.meta !== undefined) call.meta = message.meta;
          }
          return call;
        }
        const call: RequestMessage = message.data === null
          ? { kind: "request", id: message.id, method: message.method }
          : { kind: "request", id: message.id, method: message.method, params: message.data };
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case 3:
      case 4: {
        const callId = this.#awaited.get(message.requestId);
        if (callId === undefined) {
          this.#logger?.warn(
            `${this.#label}: dropped a ${
              message.code === 3 ? "response" : "error"
            } to unknown request ${message.requestId}`,
          );
          return NOTHING;
        }
        const whole = this.streams && this.#wrappedOut.has(message.requestId);
        this.forget(message.requestId);
        if (message.code === 3) return { kind: "result", id: callId, result: message.data };
        return {
          kind: "error",
          id: callId,
          error: (whole ? asErrorObject(message.data) : undefined) ?? errorObject(message.data),
        };
      }
      default:
        return NOTHING;
    }
  }

  /**
   * An item, progress, credit or cancel of the stream extension, invalid
   * input to log, none (an item for a call no longer awaited), or
   * `undefined` for another name.
   */
  #decodeControl(method: string, data: unknown): Message | readonly Message[] | undefined {
    if (method === CANCEL_METHOD) {
      const id = (data as { id?: unknown } | null)?.id;
      if (typeof id !== "number") return NOTHING;
      this.#wrappedIn.delete(id); // a cancelled call is not answered
      return { kind: "cancel", id };
    }
    const control = decodeControl(method, data ?? undefined);
    if (control === undefined || control.kind === "invalid" || control.kind === "credit") {
      return control;
    }
    // An item or progress names our request's message id: back to our call's id.
    const toCall = control as ItemMessage | ProgressMessage;
    const callId = this.#awaited.get(toCall.id as number);
    if (callId === undefined) return NOTHING; // a late item of a call we gave up
    toCall.id = callId;
    return toCall;
  }

  /** Forgets our request sent as `messageId` (it could not be sent, or was cancelled). */
  forget(messageId: number): void {
    this.#awaited.delete(messageId);
    if (this.streams) this.#wrappedOut.delete(messageId);
  }

  #unaddressed(kind: string): undefined {
    this.#logger?.debug(`${this.#label}: dropped an ${kind} with no request to answer`);
    return undefined;
  }
}

/** Slots in the ring of {@linkcode AwaitedCalls}. */
const RING_SLOTS = 1024;

/**
 * Our requests awaiting replies, by message id: a ring of slots indexed by
 * the id (a counter's: requests in flight take different slots), and a Map
 * only for an id whose slot is taken. Not a Map per call: filled and emptied
 * on every round trip, its rehashes were 7% of a mushroom call's allocations
 * (both sides, in one process). Finding a call's message id (a cancel, a
 * stream's credit) scans the ring: those are rare.
 */
class AwaitedCalls {
  /** Each slot's message id, -1 when free. */
  #messageIds: number[] = new Array<number>(RING_SLOTS).fill(-1);
  #callIds: (Id | undefined)[] = new Array<Id | undefined>(RING_SLOTS).fill(undefined);
  #other = new Map<number, Id>();
  #size = 0;

  /** How many are awaited. */
  get size(): number {
    return this.#size;
  }

  /** The call sent as `messageId`, or `undefined`. */
  get(messageId: number): Id | undefined {
    const slot = messageId % RING_SLOTS;
    if (this.#messageIds[slot] === messageId) return this.#callIds[slot];
    return this.#other.size === 0 ? undefined : this.#other.get(messageId);
  }

  /** Awaits the reply to `messageId` (not awaited yet), our call `callId`. */
  set(messageId: number, callId: Id): void {
    const slot = messageId % RING_SLOTS;
    if (this.#messageIds[slot] === -1) {
      this.#messageIds[slot] = messageId;
      this.#callIds[slot] = callId;
    } else {
      this.#other.set(messageId, callId);
    }
    this.#size++;
  }

  /** No longer awaits `messageId`. */
  delete(messageId: number): void {
    const slot = messageId % RING_SLOTS;
    if (this.#messageIds[slot] === messageId) {
      this.#messageIds[slot] = -1;
      this.#callIds[slot] = undefined;
      this.#size--;
    } else if (this.#other.delete(messageId)) {
      this.#size--;
    }
  }

  /** The message id our call `callId` was sent as, or `undefined`. */
  messageIdOf(callId: Id): number | undefined {
    if (this.#size === 0) return undefined;
    const callIds = this.#callIds;
    for (let slot = 0; slot < RING_SLOTS; slot++) {
      if (callIds[slot] === callId && this.#messageIds[slot] !== -1) return this.#messageIds[slot];
    }
    for (const [messageId, id] of this.#other) if (id === callId) return messageId;
    return undefined;
  }
}

/** Makes `call` the wrapped form of stream call or call-with-progress `message`. */
function wrap(call: MushroomCall, message: RequestMessage): void {
  const data: Record<string, unknown> = { method: message.method };
  if (message.params !== undefined) data.params = message.params;
  if (message.stream !== undefined) data.credit = message.stream;
  else data.progress = true;
  call.method = message.stream !== undefined ? STREAM_METHOD : CALL_METHOD;
  call.data = data;
}

/** An error's bare data on the wire, as the Python engine sends it. */
function errorData(error: ErrorObject): unknown {
  if (error.code === ErrorCode.MethodNotFound) {
    const method = (error.data as { method?: unknown } | undefined)?.method;
    return typeof method === "string" ? method : error.message;
  }
  if (error.code === ErrorCode.InternalError) return "Internal server error";
  return error.message;
}

/** An error as a wrapped call's reply carries it: `{"code", "message", "data"}`. */
function wholeError(error: ErrorObject): ErrorObject {
  return error.data === undefined
    ? { code: error.code, message: error.message }
    : { code: error.code, message: error.message, data: error.data };
}

/** A wrapped call's error data as an error object, or `undefined` when it is not one. */
function asErrorObject(data: unknown): ErrorObject | undefined {
  const error = data as Partial<ErrorObject> | null;
  if (
    error === null || typeof error !== "object" || !Number.isSafeInteger(error.code) ||
    typeof error.message !== "string"
  ) return undefined;
  return error.data === undefined
    ? { code: error.code!, message: error.message }
    : { code: error.code!, message: error.message, data: error.data };
}

/** An incoming error's bare data as an error object. */
function errorObject(data: unknown): ErrorObject {
  return {
    code: MUSHROOM_ERROR,
    message: typeof data === "string" ? data : "Method call failed",
    data,
  };
}
