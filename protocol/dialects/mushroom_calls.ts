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
  Message,
  NotificationMessage,
  RequestMessage,
} from "../wire/message.ts";
import type { MushroomCall, MushroomMessage } from "./mushroom_codec.ts";

const NOTHING: readonly never[] = Object.freeze([]);

/** The code of an error mushroom's other side answered (mushroom errors carry no code). */
const MUSHROOM_ERROR = -32000;

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
  /** Our requests awaiting replies: their message id → our call id, and back. */
  #callIds = new Map<number, Id>();
  #messageIds = new Map<Id, number>();

  /**
   * Makes a codec whose first message id is 0.
   *
   * @param logger Where dropped replies are said (the session's, rate-limited); none: not said.
   * @param label The session's id, to start those lines with.
   */
  constructor(logger?: Logger, label = "mushroom") {
    this.#logger = logger;
    this.#label = label;
  }

  /** How many of our requests await replies. */
  get pending(): number {
    return this.#callIds.size;
  }

  /** The message to send for `message` (numbered), or none: a cancel, a reply to nothing. */
  encode(message: Message): readonly MushroomMessage[] {
    switch (message.kind) {
      case "request": {
        const id = this.#nextId++;
        if (message.id !== null) {
          this.#callIds.set(id, message.id);
          this.#messageIds.set(message.id, id);
        }
        const call: MushroomCall = {
          code: 2,
          id,
          method: message.method,
          data: message.params ?? null,
        };
        if (message.meta !== undefined) call.meta = message.meta;
        return [call];
      }
      case "notification": {
        const call: MushroomCall = {
          code: 1,
          id: this.#nextId++,
          method: message.method,
          data: message.params ?? null,
        };
        if (message.meta !== undefined) call.meta = message.meta;
        return [call];
      }
      case "result":
        if (typeof message.id !== "number") return this.#unaddressed(message.kind);
        return [{
          code: 3,
          id: this.#nextId++,
          requestId: message.id,
          data: message.result ?? null,
        }];
      case "error":
        if (typeof message.id !== "number") return this.#unaddressed(message.kind);
        return [{
          code: 4,
          id: this.#nextId++,
          requestId: message.id,
          data: errorData(message.error),
        }];
      case "cancel": {
        // mushroom cannot cancel: forget the call, and drop its late reply.
        const id = this.#messageIds.get(message.id);
        if (id !== undefined) this.forget(id);
        return NOTHING;
      }
      default:
        return NOTHING;
    }
  }

  /** The message `message` carries for a peer, or none (a heartbeat, a reply to no call of ours). */
  decode(message: MushroomMessage): Message | readonly Message[] {
    switch (message.code) {
      // mushroom's data is null when left out: no params.
      case 1: {
        const call: NotificationMessage = message.data === null
          ? { kind: "notification", method: message.method }
          : { kind: "notification", method: message.method, params: message.data };
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case 2: {
        const call: RequestMessage = message.data === null
          ? { kind: "request", id: message.id, method: message.method }
          : { kind: "request", id: message.id, method: message.method, params: message.data };
        if (message.meta !== undefined) call.meta = message.meta;
        return call;
      }
      case 3:
      case 4: {
        const callId = this.#callIds.get(message.requestId);
        if (callId === undefined) {
          this.#logger?.warn(
            `${this.#label}: dropped a ${
              message.code === 3 ? "response" : "error"
            } to unknown request ${message.requestId}`,
          );
          return NOTHING;
        }
        this.forget(message.requestId);
        if (message.code === 3) return { kind: "result", id: callId, result: message.data };
        return { kind: "error", id: callId, error: errorObject(message.data) };
      }
      default:
        return NOTHING;
    }
  }

  /** Forgets our request sent as `messageId` (it could not be sent, or was cancelled). */
  forget(messageId: number): void {
    const callId = this.#callIds.get(messageId);
    this.#callIds.delete(messageId);
    if (callId !== undefined) this.#messageIds.delete(callId);
  }

  #unaddressed(kind: string): readonly never[] {
    this.#logger?.debug(`${this.#label}: dropped an ${kind} with no request to answer`);
    return NOTHING;
  }
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

/** An incoming error's bare data as an error object. */
function errorObject(data: unknown): ErrorObject {
  return {
    code: MUSHROOM_ERROR,
    message: typeof data === "string" ? data : "Method call failed",
    data,
  };
}
