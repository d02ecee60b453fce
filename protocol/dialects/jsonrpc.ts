/**
 * The JSON-RPC 2.0 codec: one JSON text per frame, exactly as the
 * specification (https://www.jsonrpc.org/specification) defines it.
 *
 * - By-name (object) and by-position (array) params; `params` may be left out.
 * - A request without `id` is a notification and never gets a reply.
 * - A batch (a JSON array) is answered with one array of replies; a batch of
 *   only notifications gets no reply; an empty batch is an invalid request.
 * - A blank frame (an empty line) is skipped, so newline keep-alives work.
 * - Unreadable JSON is answered with -32700, anything else that is not a
 *   valid request with -32600, with `id: null` when the id cannot be read.
 *   The standard message is kept word for word; the reason goes in `data`.
 * - Numeric ids must be finite, and integers must be safe (at most 2^53 - 1),
 *   because a larger one cannot be echoed back unchanged.
 * - Responses with a broken shape are logged by the peer, never answered, so
 *   two peers can never bounce errors at each other.
 * - A cancelled call is announced with an `rpc.cancel` notification whose
 *   params are `{ "id": <the call's id> }` (names starting with `rpc.` are
 *   reserved for such extensions by the specification).
 * - A value JSON would change or refuse (a `Date`, a `Map`, `NaN`, a
 *   `BigInt`...) fails the call before it is sent, and a reply holding one
 *   becomes an error reply saying which value and where. With
 *   `values: "tagged"` (the {@linkcode jsonRpcTagged} dialect) such values
 *   travel as tag objects instead; see the README's "Values beyond JSON".
 * - Per-call metadata travels as a top-level `"meta"` object member of a
 *   request or notification, written only when the caller gave some; a
 *   server that does not know it ignores it. A `meta` that is not an object
 *   is ignored on arrival.
 *
 * {@linkcode jsonRpc} is the dialect (newline-delimited on byte streams);
 * {@linkcode JsonRpcCodec} is its codec, stateless, so both sides share one.
 *
 * @example Encode a call, decode the reply
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec } from "@seed/rpc";
 *
 * const codec = new JsonRpcCodec();
 * const frames = codec.encode({ kind: "request", id: 1, method: "subtract", params: [42, 23] });
 * assertEquals(frames, ['{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}']);
 * assertEquals(codec.decode('{"jsonrpc":"2.0","result":19,"id":1}'), { kind: "result", id: 1, result: 19 });
 * ```
 *
 * @module
 */

import type { Codec, CodecFeatures } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_BYTES, type Dialect } from "../wire/dialect.ts";
import { ErrorCode, standardMessage } from "../wire/errors.ts";
import { plainMessage } from "./_json_values.ts";
import { taggedMessage, untaggedMessage } from "./_tagged_json.ts";
import {
  type ErrorObject,
  hasMeta,
  type Id,
  type InvalidMessage,
  type Message,
  type Meta,
  type NotificationMessage,
  type RequestMessage,
} from "../wire/message.ts";
import {
  CALL_METHOD,
  controlFrame,
  decodeControl,
  STREAM_METHOD,
  unwrapRequest,
  wrappedRequest,
} from "./jsonrpc_stream.ts";

/** The method our peers use to cancel a call (`rpc.` names are reserved by the spec). */
export const CANCEL_METHOD = "rpc.cancel";

/**
 * Options for a {@linkcode JsonRpcCodec}.
 *
 * @example A bound on batches
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec } from "@seed/rpc";
 * const codec = new JsonRpcCodec({ maxBatchLength: 2 });
 * const refused = codec.decode('[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"},{"jsonrpc":"2.0","method":"c"}]');
 * assertEquals((refused as { kind: string }).kind, "invalid");
 * ```
 */
export interface JsonRpcCodecOptions {
  /**
   * The longest batch accepted; a longer one is answered with one -32600
   * error and none of it runs.
   *
   * @default {1000}
   */
  maxBatchLength?: number;
  /**
   * How values JSON cannot carry (`BigInt`, `Date`, `Uint8Array`, `Map`,
   * `Set`, `NaN`, `±Infinity`) are treated: `"plain"` refuses them (a call
   * fails before it is sent, a reply becomes an error saying why);
   * `"tagged"` writes them as tag objects (`{"$date": "..."}`) and reads
   * tags back. Both sides must use the same.
   *
   * @default {"plain"}
   */
  values?: "plain" | "tagged";
}

/**
 * The JSON-RPC 2.0 codec. It keeps no state, so one instance serves any
 * number of connections ({@linkcode jsonRpc} shares one).
 *
 * @example Decoding a request and junk
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec } from "@seed/rpc";
 * const codec = new JsonRpcCodec();
 * assertEquals(codec.decode("[]"), {
 *   kind: "invalid",
 *   id: null,
 *   error: { code: -32600, message: "Invalid Request", data: "empty batch" },
 *   answer: true,
 * });
 * ```
 */
export class JsonRpcCodec implements Codec<string> {
  /** `"jsonrpc"`. */
  readonly name: string = "jsonrpc";
  /** The longest batch accepted. */
  readonly maxBatchLength: number;
  /** How values JSON cannot carry are treated: refused, or tagged. */
  readonly values: "plain" | "tagged";
  #outgoing: (message: Message) => Message;
  /** Streams and progress, as the README's "Streams and progress" extension. */
  get features(): CodecFeatures {
    return STREAMS;
  }

  /**
   * Makes a codec.
   *
   * @param options The longest batch accepted (a longer one is refused as a
   * whole with -32600, before any of it runs), and how values JSON cannot
   * carry are treated.
   */
  constructor(options: JsonRpcCodecOptions = {}) {
    this.maxBatchLength = options.maxBatchLength ?? 1000;
    this.values = options.values ?? "plain";
    this.#outgoing = this.values === "tagged" ? taggedMessage : plainMessage;
  }

  /** Encodes one message as one JSON text (an `invalid` message has no form). */
  encode(message: Message): readonly string[] {
    const text = encodeOne(this.#outgoing(message));
    return text === undefined ? NO_FRAMES : [text];
  }

  /** Encodes the replies to one batch as one JSON array. */
  encodeBatch(messages: readonly Message[]): readonly string[] {
    const parts: string[] = [];
    for (const message of messages) {
      const part = encodeOne(this.#outgoing(message));
      if (part !== undefined) parts.push(part);
    }
    return [`[${parts.join(",")}]`];
  }

  /**
   * Decodes one JSON text: a message, a batch (array), or an `invalid`
   * message. A blank frame (an empty line, a keep-alive) decodes to nothing.
   */
  decode(frame: string): Message | readonly Message[] {
    if (frame.length === 0 || (frame.charCodeAt(0) <= 32 && frame.trim() === "")) return NOTHING;
    let value: unknown;
    try {
      value = JSON.parse(frame);
    } catch (error) {
      return invalid(null, ErrorCode.ParseError, (error as Error).message);
    }
    return this.decodeValue(value);
  }

  /**
   * Decodes a value already parsed (or structured-cloned): a message, a
   * batch (array), or an `invalid` message. With tagged values, the tags in
   * it are replaced by their values in place.
   */
  decodeValue(value: unknown): Message | readonly Message[] {
    if (this.values === "tagged") return untagged(this.#decodeValue(value));
    return this.#decodeValue(value);
  }

  #decodeValue(value: unknown): Message | readonly Message[] {
    if (!Array.isArray(value)) return decodeObject(value);
    if (value.length === 0) return invalid(null, ErrorCode.InvalidRequest, "empty batch");
    if (value.length > this.maxBatchLength) {
      return invalid(
        null,
        ErrorCode.InvalidRequest,
        `a batch of ${value.length} entries; at most ${this.maxBatchLength} are accepted`,
      );
    }
    const batch = new Array<Message>(value.length);
    for (let i = 0; i < value.length; i++) batch[i] = decodeObject(value[i]);
    return batch;
  }
}

const sharedCodec = new JsonRpcCodec();

/**
 * The JSON-RPC 2.0 dialect: one JSON text per frame, frames ending with
 * `\n` on byte streams, 16 MiB at most. Both sides share one stateless
 * codec. It is the default of every peer, server and wire.
 *
 * @example The JSON-RPC dialect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc } from "@seed/rpc";
 * assertEquals(
 *   jsonRpc.client().encode({ kind: "notification", method: "update", params: [1, 2] }),
 *   ['{"jsonrpc":"2.0","method":"update","params":[1,2]}'],
 * );
 * assertEquals(jsonRpc.delimiter, "\n");
 * ```
 */
export const jsonRpc: Dialect = Object.freeze({
  name: "jsonrpc",
  delimiter: "\n",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  client: () => sharedCodec,
  server: () => sharedCodec,
});

const taggedCodec = new JsonRpcCodec({ values: "tagged" });

/**
 * JSON-RPC 2.0 with tagged values: `BigInt`, `Date`, `Uint8Array`, `Map`,
 * `Set`, `NaN` and `±Infinity` travel as tag objects (`{"$bigint": "1"}`)
 * and arrive as themselves. Both sides must speak it: a plain JSON-RPC peer
 * sees the tags as ordinary objects.
 *
 * @example A Date and a BigInt through a tagged pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpcTagged, memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair<string>({ dialect: jsonRpcTagged });
 * const server = new Peer(b, { handlers: { later: (p: { when: Date }) => new Date(p.when.getTime() + 1000) } });
 * const client = new Peer(a);
 * assertEquals(await client.call("later", { when: new Date(0) }), new Date(1000));
 * await client.close();
 * await server.closed;
 * ```
 */
export const jsonRpcTagged: Dialect = Object.freeze({
  name: "jsonrpc-tagged",
  delimiter: "\n",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  client: () => taggedCodec,
  server: () => taggedCodec,
});

/** Decoded messages with their tags turned back into values. */
function untagged(decoded: Message | readonly Message[]): Message | readonly Message[] {
  if (!Array.isArray(decoded)) return untaggedMessage(decoded as Message);
  return decoded.map(untaggedMessage);
}

const STREAMS: CodecFeatures = Object.freeze({ streams: true });
const NOTHING: readonly Message[] = Object.freeze([]);
const NO_FRAMES: readonly string[] = Object.freeze([]);

function encodeOne(message: Message): string | undefined {
  switch (message.kind) {
    case "request":
      if (message.stream !== undefined || message.progress === true) {
        const params = message.params === undefined ? undefined : encodeValue(message.params);
        return wrappedRequest(message, params, encodeId(message.id), encodeMeta(message.meta));
      }
      return `{"jsonrpc":"2.0","method":${JSON.stringify(message.method)}${
        encodeParams(message.params)
      },"id":${encodeId(message.id)}${encodeMeta(message.meta)}}`;
    case "notification":
      return `{"jsonrpc":"2.0","method":${JSON.stringify(message.method)}${
        encodeParams(message.params)
      }${encodeMeta(message.meta)}}`;
    case "result":
      return `{"jsonrpc":"2.0","result":${encodeValue(message.result)},"id":${
        encodeId(message.id)
      }}`;
    case "error":
      return `{"jsonrpc":"2.0","error":${encodeError(message.error)},"id":${encodeId(message.id)}}`;
    case "cancel":
      return `{"jsonrpc":"2.0","method":"${CANCEL_METHOD}","params":{"id":${
        encodeId(message.id)
      }}}`;
    case "item":
    case "progress":
      return controlFrame(message.kind, encodeId(message.id), encodeValue(message.value));
    case "credit":
      return controlFrame("credit", encodeId(message.id), String(message.credit));
    default:
      return undefined;
  }
}

function encodeParams(params: unknown): string {
  return params === undefined ? "" : `,"params":${encodeValue(params)}`;
}

/** `,"meta":{...}` for meta with a defined member; nothing otherwise, so plain calls stay plain JSON-RPC. */
function encodeMeta(meta: Meta | undefined): string {
  return hasMeta(meta) ? `,"meta":${JSON.stringify(meta)}` : "";
}

function encodeValue(value: unknown): string {
  // `undefined` (a handler that returned nothing) and functions become null,
  // as JSON.stringify does inside arrays.
  return JSON.stringify(value) ?? "null";
}

function encodeId(id: Id | null): string {
  // Not String(id): V8 keeps the text of each number it converts that way in
  // its number-string cache, so with counting ids every id's text outlived
  // the next scavenge and was promoted (~30 B a call; issue 21). JSON.stringify
  // writes the digits without the cache; NaN and Infinity keep String's text.
  return typeof id === "number" && !Number.isFinite(id) ? String(id) : JSON.stringify(id);
}

function encodeError(error: ErrorObject): string {
  const head = `{"code":${error.code},"message":${JSON.stringify(error.message)}`;
  return error.data === undefined ? `${head}}` : `${head},"data":${encodeValue(error.data)}}`;
}

function invalid(id: Id | null, code: number, reason: string, answer = true): InvalidMessage {
  return {
    kind: "invalid",
    id,
    error: { code, message: standardMessage(code), data: reason },
    answer,
  };
}

/** Whether `id` can be echoed back unchanged. */
function isValidId(id: unknown): id is Id | null {
  if (typeof id === "string" || id === null) return true;
  if (typeof id !== "number" || !Number.isFinite(id)) return false;
  return !Number.isInteger(id) || Number.isSafeInteger(id);
}

function decodeObject(value: unknown): Message {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return invalid(null, ErrorCode.InvalidRequest, "not an object");
  }
  const o = value as Record<string, unknown>;
  const hasId = Object.hasOwn(o, "id");
  const idOk = hasId && isValidId(o.id);
  const replyId = idOk ? o.id as Id | null : null;
  const method = o.method;

  if (method !== undefined) {
    if (o.jsonrpc !== "2.0") {
      return invalid(replyId, ErrorCode.InvalidRequest, 'jsonrpc must be exactly "2.0"');
    }
    if (typeof method !== "string") {
      return invalid(replyId, ErrorCode.InvalidRequest, "method must be a string");
    }
    if (hasId && !idOk) {
      return invalid(
        null,
        ErrorCode.InvalidRequest,
        "id must be a string, null, or a finite number (a safe integer when whole)",
      );
    }
    const params = o.params;
    if (params !== undefined && (params === null || typeof params !== "object")) {
      return invalid(replyId, ErrorCode.InvalidRequest, "params must be an array or an object");
    }
    if (!hasId) {
      if (method === CANCEL_METHOD) return decodeCancel(params);
      if (method.startsWith("rpc.")) {
        const control = decodeControl(method, params);
        if (control !== undefined) return control;
      }
      const notification: NotificationMessage = params === undefined
        ? { kind: "notification", method }
        : { kind: "notification", method, params };
      return withMeta(notification, o.meta);
    }
    if (method === STREAM_METHOD || method === CALL_METHOD) {
      const unwrapped = unwrapRequest(replyId, method, params);
      return unwrapped.kind === "request" ? withMeta(unwrapped, o.meta) : unwrapped;
    }
    const request: RequestMessage = params === undefined
      ? { kind: "request", id: replyId, method }
      : { kind: "request", id: replyId, method, params };
    return withMeta(request, o.meta);
  }

  const hasResult = Object.hasOwn(o, "result");
  const hasError = Object.hasOwn(o, "error");
  if (!hasResult && !hasError) {
    return invalid(replyId, ErrorCode.InvalidRequest, "neither a request nor a response");
  }
  // A broken response is never answered: answering could ping-pong forever.
  if (o.jsonrpc !== "2.0") {
    return invalid(replyId, ErrorCode.InvalidRequest, 'jsonrpc must be exactly "2.0"', false);
  }
  if (!idOk) return invalid(null, ErrorCode.InvalidRequest, "response without a valid id", false);
  if (hasResult && hasError) {
    return invalid(replyId, ErrorCode.InvalidRequest, "both result and error", false);
  }
  if (hasResult) return { kind: "result", id: replyId, result: o.result };
  const error = o.error as Record<string, unknown> | null;
  if (
    error === null || typeof error !== "object" || !Number.isInteger(error.code) ||
    typeof error.message !== "string"
  ) {
    return invalid(replyId, ErrorCode.InvalidRequest, "malformed error object", false);
  }
  const object: ErrorObject = { code: error.code as number, message: error.message };
  if (error.data !== undefined) object.data = error.data;
  return { kind: "error", id: replyId, error: object };
}

/** `message` with the `meta` member when it is an object; anything else there is ignored. */
function withMeta<M extends RequestMessage | NotificationMessage>(message: M, meta: unknown): M {
  if (meta !== undefined && meta !== null && typeof meta === "object" && !Array.isArray(meta)) {
    message.meta = meta as Meta;
  }
  return message;
}

/** An `rpc.cancel` notification: `{ "id": <id> }`, or invalid input to log. */
function decodeCancel(params: unknown): Message {
  const id = (params as { id?: unknown } | undefined)?.id;
  if ((typeof id === "string" || typeof id === "number") && isValidId(id)) {
    return { kind: "cancel", id };
  }
  return invalid(
    null,
    ErrorCode.InvalidRequest,
    `${CANCEL_METHOD} needs params {"id": <id>}`,
    false,
  );
}
