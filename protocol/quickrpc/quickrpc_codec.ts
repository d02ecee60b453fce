/**
 * quickrpc's `jrpc` codec and transport strings; see `quickrpc.ts` for the
 * dialect as a whole.
 *
 * @module
 */

import type { Codec } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_BYTES, type Dialect } from "../wire/dialect.ts";
import { ErrorCode } from "../wire/errors.ts";
import type { ErrorObject, Id, InvalidMessage, Message, Meta } from "../wire/message.ts";
import { pythonJson } from "../dialects/_python_json.ts";
import { encodeBase64 } from "../dialects/_base64.ts";
import { MAX_DEPTH, TooDeep, walkJson } from "../dialects/_json_walk.ts";

/** The method of quickrpc's security header frame. */
export const SECINFO_METHOD = "rpc.secinfo";
const NOTHING: readonly Message[] = Object.freeze([]);
const NO_FRAMES: readonly string[] = Object.freeze([]);
const NAMED_ONLY = "Please call with named parameters only!";
const WRONG_SIGNATURE = "incoming call with wrong signature";

/** Writes `Uint8Array`s as `{"__bytes": base64}`. */
function bytesHook(value: unknown): unknown {
  return value instanceof Uint8Array ? { __bytes: encodeBase64(value) } : value;
}

/**
 * Parses the first JSON value of `text` and ignores what follows, as
 * Python's `json.JSONDecoder.raw_decode` does. Throws a `SyntaxError` when
 * the text does not start with a JSON value.
 *
 * @example The first JSON value of a telegram
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseFirstJsonValue } from "@seed/rpc/quickrpc";
 * assertEquals(parseFirstJsonValue('{"a": 1}{"b": 2}'), { a: 1 });
 * ```
 */
export function parseFirstJsonValue(
  text: string,
  reviver?: (key: string, value: unknown) => unknown,
): unknown {
  try {
    return JSON.parse(text, reviver);
  } catch (error) {
    const end = endOfFirstValue(text);
    if (end === -1 || end === text.length) throw error;
    return JSON.parse(text.slice(0, end), reviver);
  }
}

/** Where the first object or array of `text` ends, or -1. */
function endOfFirstValue(text: string): number {
  const open = text.charCodeAt(0);
  if (open !== 0x7b && open !== 0x5b) return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

function dropped(reason: string): InvalidMessage {
  return {
    kind: "invalid",
    id: null,
    error: { code: ErrorCode.InvalidRequest, message: reason },
    answer: false,
  };
}

/** A string, or a finite number that is a safe integer when whole: echoed back unchanged. */
function isEchoableId(id: unknown): id is Id {
  if (typeof id === "string") return true;
  if (typeof id !== "number" || !Number.isFinite(id)) return false;
  return !Number.isInteger(id) || Number.isSafeInteger(id);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/**
 * quickrpc's `jrpc` codec. One per connection: {@linkcode quickRpc} makes it.
 *
 * @example Encoding a call as quickrpc does
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { QuickRpcCodec } from "@seed/rpc/quickrpc";
 * const codec = new QuickRpcCodec();
 * assertEquals(
 *   codec.encode({ kind: "request", id: 1, method: "add", params: { a: 2, b: 3 } }),
 *   ['{"jsonrpc": "2.0", "method": "add", "params": {"a": 2, "b": 3}, "id": 1}'],
 * );
 * ```
 */
export class QuickRpcCodec implements Codec<string> {
  /** `"quickrpc"`. */
  readonly name: string = "quickrpc";
  /** The secinfo header waiting for the next frame. */
  #secinfo: Record<string, unknown> | undefined;
  /** The method of each call being answered, for quickrpc's error wording. */
  #methods = new Map<Id, string>();

  /** One telegram (without the delimiter); nothing for an error to an id-0 call. */
  encode(message: Message): readonly string[] {
    const telegram = this.#encode(message);
    return telegram === undefined ? NO_FRAMES : [telegram];
  }

  #encode(message: Message): string | undefined {
    switch (message.kind) {
      case "request":
      case "notification": {
        const params = message.params ?? {};
        if (!isObject(params)) {
          throw new TypeError(
            `quickrpc takes named params only (an object); '${message.method}' got other`,
          );
        }
        const head = `{"jsonrpc": "2.0", "method": ${pythonJson(message.method)}, "params": ${
          pythonJson(params, bytesHook)
        }`;
        return message.kind === "request" && message.id !== 0 && message.id !== null
          ? `${head}, "id": ${pythonJson(message.id)}}`
          : `${head}}`;
      }
      case "result": {
        const method = message.id === null ? undefined : this.#methods.get(message.id);
        if (method !== undefined) this.#methods.delete(message.id!);
        return `{"jsonrpc": "2.0", "result": ${pythonJson(message.result ?? null, bytesHook)}${
          idMember(message.id)
        }}`;
      }
      case "error": {
        const method = message.id === null ? undefined : this.#methods.get(message.id);
        if (method !== undefined) this.#methods.delete(message.id!);
        // The original replies with an error only to a call with a nonzero id.
        if (message.id === 0 || message.id === null) return undefined;
        const { text, detail } = quickRpcError(message.error, method);
        return `{"jsonrpc": "2.0", "error": ${
          pythonJson({ code: 0, message: text, data: detail }, bytesHook)
        }${idMember(message.id)}}`;
      }
      default:
        return undefined;
    }
  }

  /**
   * A telegram: a message, nothing (an empty telegram, a secinfo header),
   * or an `invalid` message to log.
   */
  decode(frame: string): Message | readonly Message[] {
    if (frame.length === 0) return NOTHING;
    let value: unknown;
    try {
      value = parseFirstJsonValue(frame);
    } catch {
      return dropped(`Not a valid json string: ${JSON.stringify(frame.slice(0, 200))}`);
    }
    if (!isObject(value)) return dropped("json toplevel object is not a dict");
    try {
      walkJson(value, MAX_DEPTH, true);
    } catch (error) {
      if (!(error instanceof TooDeep)) throw error;
      // The id is readable: the caller is told, not left to time out.
      const id = value.id;
      if (typeof value.method === "string" && isEchoableId(id) && id !== 0) {
        this.#methods.set(id, value.method);
        return {
          kind: "invalid",
          id,
          error: { code: ErrorCode.InvalidRequest, message: error.message },
          answer: true,
        };
      }
      return dropped(error.message);
    }
    if (value.jsonrpc !== "2.0") return dropped('jsonrpc key missing or not "2.0"');
    const meta = this.#takeMeta();
    if (Object.hasOwn(value, "method")) return this.#decodeCall(value, meta);
    const id = (Object.hasOwn(value, "id") ? value.id : 0) as Id;
    if (Object.hasOwn(value, "result")) {
      return meta === undefined
        ? { kind: "result", id, result: value.result }
        : { kind: "result", id, result: value.result, meta };
    }
    if (Object.hasOwn(value, "error")) {
      const raw = isObject(value.error) ? value.error : {};
      const error: ErrorObject = {
        code: typeof raw.code === "number" ? raw.code : 0,
        message: typeof raw.message === "string" ? raw.message : "Unknown error",
        data: raw.data ?? "",
      };
      return { kind: "error", id, error };
    }
    return dropped("Message does not contain method, result or error key.");
  }

  #takeMeta(): Meta | undefined {
    if (this.#secinfo === undefined) return undefined;
    const meta = { secinfo: this.#secinfo };
    this.#secinfo = undefined;
    return meta;
  }

  #decodeCall(
    value: Record<string, unknown>,
    meta: Meta | undefined,
  ): Message | readonly Message[] {
    const method = value.method;
    if (method === SECINFO_METHOD) {
      this.#secinfo = isObject(value.params) ? value.params : {};
      return NOTHING;
    }
    if (typeof method !== "string") return dropped("method must be a string");
    const hasId = Object.hasOwn(value, "id");
    const id = (hasId ? value.id : 0) as Id;
    if (hasId && !isEchoableId(id)) {
      // 1e400 or 2^53 + 1 would be answered with another id: refused.
      return dropped(`the id of a call to '${method}' cannot be echoed unchanged`);
    }
    const params = value.params ?? {};
    if (!isObject(params)) {
      if (!hasId || id === 0) return dropped(`${NAMED_ONLY} (${method})`);
      this.#methods.set(id, method);
      return {
        kind: "invalid",
        id,
        error: { code: ErrorCode.InvalidParams, message: NAMED_ONLY },
        answer: true,
      };
    }
    if (!hasId) {
      return meta === undefined
        ? { kind: "notification", method, params }
        : { kind: "notification", method, params, meta };
    }
    this.#methods.set(id, method);
    return meta === undefined
      ? { kind: "request", id, method, params }
      : { kind: "request", id, method, params, meta };
  }
}

function idMember(id: Id | null): string {
  return id === 0 || id === null ? "" : `, "id": ${pythonJson(id)}`;
}

/**
 * The message and data quickrpc puts in an error: its own wording for the
 * cases it words, and in `data` a line like the last one of a Python
 * traceback (`AttributeError: ...`), after any detail of ours.
 */
export function quickRpcError(error: ErrorObject, method: string | undefined): {
  text: string;
  detail: string;
} {
  let exception = "Exception";
  let text = error.message;
  if (error.code === ErrorCode.MethodNotFound) {
    exception = "AttributeError";
    text = `Incoming call of ${method ?? "?"} not defined on the api`;
  } else if (error.code === ErrorCode.InvalidParams) {
    exception = text === NAMED_ONLY ? "ValueError" : "TypeError";
    if (text !== NAMED_ONLY) text = WRONG_SIGNATURE;
  }
  // Our own detail (a contract's "Invalid params: /b must be number") is kept.
  const ours = error.code === ErrorCode.InvalidParams && error.message !== text
    ? `${error.message}\n`
    : "";
  // quickrpc words "not defined" itself; the method named in our data is not repeated.
  const data = error.code === ErrorCode.MethodNotFound
    ? ""
    : typeof error.data === "string"
    ? `${error.data}\n`
    : error.data === undefined
    ? ""
    : `${JSON.stringify(error.data)}\n`;
  return { text, detail: `${ours}${data}${exception}: ${text}\n` };
}

/**
 * The quickrpc dialect: `jrpc` telegrams ending with NUL (`\0`) on byte
 * streams, a {@linkcode QuickRpcCodec} per connection on both sides.
 *
 * @example The quickrpc dialect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quickRpc } from "@seed/rpc/quickrpc";
 * assertEquals(quickRpc.delimiter, "\0");
 * assertEquals(quickRpc.client().decode('{"jsonrpc": "2.0", "result": 3, "id": 7}'), { kind: "result", id: 7, result: 3 });
 * ```
 */
export const quickRpc: Dialect = Object.freeze({
  name: "quickrpc",
  delimiter: "\0",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  client: (): Codec<string> => new QuickRpcCodec(),
  server: (): Codec<string> => new QuickRpcCodec(),
});

/**
 * What a quickrpc transport string means for us.
 */
export interface QuickRpcEndpoint {
  /** `connect` for a client transport, `listen` for a server. */
  role: "connect" | "listen";
  /** Our URL for it (`tcp://host:port`). */
  url: string;
}

/**
 * Turns quickrpc transport strings into our URLs: `tcp:<host>:<port>`
 * (a client) and `tcpserv:<iface>:<port>` (a server; an empty interface
 * means all of them, `0.0.0.0`), for the URL-based `connect` / `listen`.
 * quickrpc's other transports (`stdio:`, `udp:`, `mux:`, `restart:`,
 * `internal:`) are refused here: `quickRpcTransport` and `quickRpcApi` in
 * `@seed/rpc/quickrpc/transports` open every one of them.
 *
 * @example quickrpc transport strings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseQuickRpcTransport } from "@seed/rpc/quickrpc";
 * assertEquals(parseQuickRpcTransport("tcp:localhost:8888"), { role: "connect", url: "tcp://localhost:8888" });
 * assertEquals(parseQuickRpcTransport("tcpserv::8888"), { role: "listen", url: "tcp://0.0.0.0:8888" });
 * ```
 */
export function parseQuickRpcTransport(expression: string): QuickRpcEndpoint {
  const [shorthand, ...rest] = expression.split(":");
  if (shorthand !== "tcp" && shorthand !== "tcpserv") {
    throw new TypeError(
      `quickrpc transport '${expression}': only tcp:<host>:<port> and tcpserv:<iface>:<port> map to a URL (quickRpcApi in @seed/rpc/quickrpc/transports opens the others)`,
    );
  }
  if (rest.length !== 2 || !/^\d+$/.test(rest[1]!) || Number(rest[1]) > 65535) {
    throw new TypeError(`quickrpc transport '${expression}': expected ${shorthand}:<host>:<port>`);
  }
  const [host, port] = rest as [string, string];
  if (shorthand === "tcp") {
    if (host === "") throw new TypeError(`quickrpc transport '${expression}': a host is required`);
    return { role: "connect", url: `tcp://${host}:${port}` };
  }
  return { role: "listen", url: `tcp://${host === "" ? "0.0.0.0" : host}:${port}` };
}
