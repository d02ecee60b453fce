/**
 * mushroom's messages: JSON lists with a numeric code first. Pure and
 * browser-safe; `mushroom_calls.ts` maps them to our messages and back, and
 * the session ({@linkcode MushroomSession}) acknowledges and resends them.
 *
 * | code | message      | list                                  |
 * | ---- | ------------ | ------------------------------------- |
 * | 0    | heartbeat    | `[0, last_message_id]` (null: none)   |
 * | 1    | notification | `[1, message_id, method, data]`       |
 * | 2    | request      | `[2, message_id, method, data]`       |
 * | 3    | response     | `[3, message_id, request_id, data]`   |
 * | 4    | error        | `[4, message_id, request_id, data]`   |
 * | -1   | disconnect   | `[-1]`                                |
 *
 * `data` may be left out (it is then `null`). Between our peers a call may
 * carry a fifth item, its metadata object (`[2, id, method, data, meta]`),
 * written only when the caller gave some (a fifth item that is not an object
 * is refused). Anything else is refused, one
 * message at a time, with the reason: a bad message in a poll body does not
 * lose the others.
 *
 * @example The protocol document's worked example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeMushroom, encodeMushroom } from "@seed/rpc/mushroom";
 *
 * assertEquals(decodeMushroom([2, 6, "get_time"]), { code: 2, id: 6, method: "get_time", data: null });
 * assertEquals(encodeMushroom({ code: 3, id: 118, requestId: 6, data: 1342106240 }, "python"), "[3, 118, 6, 1342106240]");
 * assertEquals(decodeMushroom([7, 1]), "unsupported message code 7");
 * ```
 *
 * @module
 */

import { pythonJson, pythonNumber, pythonString } from "./_python_json.ts";
import { hasMeta, type Meta } from "../wire/message.ts";

/** `[0, lastId]`: acknowledges every message with an id up to `lastId`. */
export interface MushroomHeartbeat {
  /** Discriminant. */
  code: 0;
  /** The highest message id received; `null` when none was. */
  lastId: number | null;
}

/** `[1, id, method, data]` and `[2, id, method, data]`. */
export interface MushroomCall {
  /** 1: a notification, 2: a request. */
  code: 1 | 2;
  /** The sender's message id. */
  id: number;
  /** The method's name. */
  method: string;
  /** The params (`null` when left out). */
  data: unknown;
  /** The call's metadata: a fifth item, between our peers only. */
  meta?: Meta;
}

/** `[3, id, requestId, data]` and `[4, id, requestId, data]`. */
export interface MushroomReply {
  /** 3: a response, 4: an error. */
  code: 3 | 4;
  /** The sender's message id (replies use up ids too). */
  id: number;
  /** The message id of the request answered. */
  requestId: number;
  /** The result, or for an error a bare value (a message, a method name). */
  data: unknown;
}

/** `[-1]`: the session ends. */
export interface MushroomDisconnect {
  /** Discriminant. */
  code: -1;
}

/**
 * One mushroom message.
 *
 * @example Every kind
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeMushroom, type MushroomMessage } from "@seed/rpc/mushroom";
 * const lists = [[0, null], [1, 5, "player.ready", true], [2, 6, "get_time"], [3, 7, 6, 1], [4, 8, 6, "no"], [-1]];
 * const messages = lists.map(decodeMushroom) as MushroomMessage[];
 * assertEquals(messages.map((m) => m.code), [0, 1, 2, 3, 4, -1]);
 * ```
 */
export type MushroomMessage =
  | MushroomHeartbeat
  | MushroomCall
  | MushroomReply
  | MushroomDisconnect;

/**
 * How message lists are written: `"python"` as the Python server writes
 * them (`json.dumps`: `", "` separators, non-ASCII escaped), `"compact"` as
 * the JavaScript client does (`JSON.stringify`).
 */
export type MushroomJson = "python" | "compact";

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Reads one message list, or says why it is refused.
 *
 * @example Refusals name the reason
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeMushroom } from "@seed/rpc/mushroom";
 * assertEquals(decodeMushroom({ code: 2 }), "a message must be a list");
 * assertEquals(decodeMushroom([2, -1, "m"]), "message id must be a whole number of at least 0");
 * assertEquals(decodeMushroom([2, 1, 7]), "method must be a non-empty string");
 * ```
 */
export function decodeMushroom(value: unknown): MushroomMessage | string {
  if (!Array.isArray(value)) return "a message must be a list";
  const code = value[0];
  switch (code) {
    case 0: {
      if (value.length !== 2) return "a heartbeat is [0, last_message_id]";
      const lastId = value[1];
      if (lastId !== null && !isId(lastId)) return "last_message_id must be null or a message id";
      return { code: 0, lastId };
    }
    case 1:
    case 2: {
      const meta = value[4];
      if (
        value.length < 3 || value.length > 5 ||
        (value.length === 5 && (meta === null || typeof meta !== "object" || Array.isArray(meta)))
      ) {
        return `message ${code} is [${code}, id, method, data]`;
      }
      if (!isId(value[1])) return "message id must be a whole number of at least 0";
      const method = value[2];
      if (typeof method !== "string" || method.length === 0) {
        return "method must be a non-empty string";
      }
      const call: MushroomCall = { code, id: value[1], method, data: value[3] ?? null };
      if (meta !== undefined) call.meta = meta;
      return call;
    }
    case 3:
    case 4: {
      if (value.length < 3 || value.length > 4) {
        return `message ${code} is [${code}, id, request_id, data]`;
      }
      if (!isId(value[1])) return "message id must be a whole number of at least 0";
      if (!isId(value[2])) return "request id must be a whole number of at least 0";
      return {
        code,
        id: value[1],
        requestId: value[2],
        data: value.length === 4 ? value[3] : null,
      };
    }
    case -1:
      return value.length === 1 ? { code: -1 } : "a disconnect is [-1]";
    default:
      return `unsupported message code ${typeof code === "number" ? code : JSON.stringify(code)}`;
  }
}

/**
 * The list of a message, as JSON text in the given style.
 *
 * @example Both styles
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeMushroom } from "@seed/rpc/mushroom";
 * const call = { code: 2, id: 0, method: "greet", data: { name: "Zoë" } } as const;
 * assertEquals(encodeMushroom(call, "compact"), '[2,0,"greet",{"name":"Zoë"}]');
 * assertEquals(encodeMushroom(call, "python"), '[2, 0, "greet", {"name": "Zo\\u00eb"}]');
 * ```
 */
export function encodeMushroom(message: MushroomMessage, style: MushroomJson): string {
  return (style === "python" ? pythonList(message) : undefined) ??
    serialise(listOf(message), style);
}

/**
 * The Python text of a message's list, written field by field (the hot
 * path: a reply is one `pythonJson` of its data), or `undefined` for fields
 * of unexpected types, which the generic writer takes. Same bytes.
 */
function pythonList(message: MushroomMessage): string | undefined {
  switch (message.code) {
    case 0:
      if (message.lastId === null) return "[0, null]";
      return typeof message.lastId === "number"
        ? `[0, ${pythonNumber(message.lastId)}]`
        : undefined;
    case 1:
    case 2: {
      if (typeof message.id !== "number" || typeof message.method !== "string") return undefined;
      const head = `[${message.code}, ${pythonNumber(message.id)}, ${
        pythonString(message.method)
      }, ${pythonJson(message.data ?? null)}`;
      return hasMeta(message.meta) ? `${head}, ${pythonJson(message.meta)}]` : `${head}]`;
    }
    case 3:
    case 4:
      if (typeof message.id !== "number" || typeof message.requestId !== "number") {
        return undefined;
      }
      return `[${message.code}, ${pythonNumber(message.id)}, ${pythonNumber(message.requestId)}, ${
        pythonJson(message.data ?? null)
      }]`;
    default:
      return undefined;
  }
}

/** The list a message is sent as. */
export function listOf(message: MushroomMessage): unknown[] {
  switch (message.code) {
    case 0:
      return [0, message.lastId];
    case 1:
    case 2:
      return hasMeta(message.meta)
        ? [message.code, message.id, message.method, message.data ?? null, message.meta]
        : [message.code, message.id, message.method, message.data ?? null];
    case 3:
    case 4:
      return [message.code, message.id, message.requestId, message.data ?? null];
    case -1:
      return [-1];
  }
}

/** `value` as JSON text in `style`. */
export function serialise(value: unknown, style: MushroomJson): string {
  return style === "python" ? pythonJson(value) : JSON.stringify(value);
}

/**
 * What a body held: the messages read, and a reason for each one refused.
 */
export interface MushroomBody {
  /** The messages, in order. */
  messages: MushroomMessage[];
  /** Why each refused one was refused. */
  refused: string[];
}

/**
 * Thrown for a body in which no message could be read (not JSON, not a list,
 * or every message refused): a server answers it 400.
 *
 * @example A body that is not mushroom
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { MalformedBody, MushroomSession } from "@seed/rpc/mushroom";
 * const session = new MushroomSession({ role: "server" });
 * const error = await assertRejects(() => session.poll("not json"), MalformedBody);
 * assertEquals(error.message, "not JSON");
 * await session.close();
 * ```
 */
export class MalformedBody extends Error {
  /**
   * Makes the error.
   *
   * @param reason Why the body (or its first message) was refused.
   */
  constructor(reason: string) {
    super(reason);
    this.name = "MalformedBody";
  }
}

/**
 * Reads a frame or poll body: one message list (`[2, 6, "m"]`) or a list of
 * them (`[[0, 5], [2, 6, "m"]]`). Each message is read on its own.
 *
 * @example One bad message does not lose the others
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseMushroomBody } from "@seed/rpc/mushroom";
 * const body = parseMushroomBody('[[0, null], [9], [2, 1, "ping"]]');
 * assertEquals(body.messages.map((m) => m.code), [0, 2]);
 * assertEquals(body.refused, ["unsupported message code 9"]);
 * assertEquals(parseMushroomBody("{").refused, ["not JSON"]);
 * ```
 */
export function parseMushroomBody(text: string): MushroomBody {
  const parsed = parseMushroomFrame(text);
  return "code" in parsed ? { messages: [parsed], refused: [] } : parsed;
}

/**
 * Reads a frame as {@linkcode parseMushroomBody} does, but a frame holding
 * one valid message (every WebSocket frame) is that message itself, with no
 * body made around it (the session's read path).
 */
export function parseMushroomFrame(text: string): MushroomMessage | MushroomBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { messages: [], refused: ["not JSON"] };
  }
  if (!Array.isArray(value)) return { messages: [], refused: ["a body must be a list"] };
  if (value.length === 0) return { messages: [], refused: [] };
  if (!Array.isArray(value[0])) {
    // One message, as a WebSocket frame holds.
    const message = decodeMushroom(value);
    return typeof message === "string" ? { messages: [], refused: [message] } : message;
  }
  const body: MushroomBody = { messages: [], refused: [] };
  for (const list of value) {
    const message = decodeMushroom(list);
    if (typeof message === "string") body.refused.push(message);
    else body.messages.push(message);
  }
  return body;
}
