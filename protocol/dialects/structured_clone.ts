/**
 * The structured-clone codec: JSON-RPC 2.0 messages as objects, for wires
 * that carry values instead of text (a `Worker`, a `MessagePort`, a
 * `BroadcastChannel`). A frame is the object JSON-RPC would write as text,
 * `{ jsonrpc: "2.0", method, params, id }`, and `postMessage` clones it: a
 * `Uint8Array`, an `ArrayBuffer`, a `Date` or a `Map` in params or results
 * arrives as itself, with no JSON text in between.
 *
 * Whatever arrives is checked exactly as the JSON-RPC codec checks a parsed
 * text (anything from a port is untrusted): a value that is not a message
 * becomes an `invalid` message, answered or logged like on every wire.
 *
 * @example Encode a call with bytes, decode it on the other side
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StructuredCloneCodec } from "@seed/rpc/worker";
 *
 * const codec = new StructuredCloneCodec();
 * const bytes = new Uint8Array([1, 2, 3]);
 * const [frame] = codec.encode({ kind: "request", id: 1, method: "store", params: [bytes] });
 * assertEquals(frame, { jsonrpc: "2.0", method: "store", params: [bytes], id: 1 });
 * const cloned = structuredClone(frame); // what postMessage does
 * assertEquals(codec.decode(cloned), { kind: "request", id: 1, method: "store", params: [bytes] });
 * assertEquals(codec.decode("not an object"), {
 *   kind: "invalid",
 *   id: null,
 *   error: { code: -32600, message: "Invalid Request", data: "not an object" },
 *   answer: true,
 * });
 * ```
 *
 * @module
 */

import type { Codec, CodecFeatures } from "../wire/codec.ts";
import {
  type ErrorObject,
  hasMeta,
  type Message,
  type Meta,
  type RequestMessage,
} from "../wire/message.ts";
import { CANCEL_METHOD, JsonRpcCodec, type JsonRpcCodecOptions } from "./jsonrpc.ts";
import {
  CALL_METHOD,
  CREDIT_METHOD,
  ITEM_METHOD,
  PROGRESS_METHOD,
  STREAM_METHOD,
} from "./jsonrpc_stream.ts";

/** One JSON-RPC 2.0 message as an object (what crosses a port). */
export type CloneFrame = Record<string, unknown>;

const NO_FRAMES: readonly CloneFrame[] = Object.freeze([]);

/**
 * JSON-RPC 2.0 as structured-clone objects. It keeps no state, so one
 * instance serves any number of ports. `decode` takes anything a port
 * delivers (a string, `null`, a `Map`) and never throws.
 *
 * @example A batch of notifications, decoded
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StructuredCloneCodec } from "@seed/rpc/worker";
 * const codec = new StructuredCloneCodec();
 * assertEquals(codec.decode([{ jsonrpc: "2.0", method: "tick", params: [new Date(0)] }]), [
 *   { kind: "notification", method: "tick", params: [new Date(0)] },
 * ]);
 * ```
 */
export class StructuredCloneCodec implements Codec<unknown> {
  /** `"structured-clone"`. */
  readonly name: string = "structured-clone";
  #json: JsonRpcCodec;

  /**
   * Makes a codec.
   *
   * @param options The longest batch accepted (a longer one is refused as a
   * whole with -32600, before any of it runs).
   */
  constructor(options: JsonRpcCodecOptions = {}) {
    // Values cross a port as themselves: no tags (`values` is not passed on).
    this.#json = new JsonRpcCodec({ maxBatchLength: options.maxBatchLength });
  }

  /** Streams and progress, as JSON-RPC carries them (README, "Streams and progress"). */
  get features(): CodecFeatures {
    return this.#json.features;
  }

  /** Encodes one message as one object (an `invalid` or `lost` message has no form). */
  encode(message: Message): readonly CloneFrame[] {
    const frame = encodeOne(message);
    return frame === undefined ? NO_FRAMES : [frame];
  }

  /** Encodes the replies to one batch as one array. */
  encodeBatch(messages: readonly Message[]): readonly CloneFrame[][] {
    const parts: CloneFrame[] = [];
    for (const message of messages) {
      const part = encodeOne(message);
      if (part !== undefined) parts.push(part);
    }
    return [parts];
  }

  /** Decodes one received value: a message, a batch (array), or an `invalid` message. */
  decode(frame: unknown): Message | readonly Message[] {
    return this.#json.decodeValue(frame);
  }
}

function encodeOne(message: Message): CloneFrame | undefined {
  switch (message.kind) {
    case "request":
      if (message.stream !== undefined || message.progress === true) {
        return withMeta(wrapped(message), message.meta);
      }
      return withMeta(
        message.params === undefined
          ? { jsonrpc: "2.0", method: message.method, id: message.id }
          : { jsonrpc: "2.0", method: message.method, params: message.params, id: message.id },
        message.meta,
      );
    case "notification":
      return withMeta(
        message.params === undefined
          ? { jsonrpc: "2.0", method: message.method }
          : { jsonrpc: "2.0", method: message.method, params: message.params },
        message.meta,
      );
    case "result":
      return { jsonrpc: "2.0", result: message.result ?? null, id: message.id };
    case "error":
      return { jsonrpc: "2.0", error: errorObject(message.error), id: message.id };
    case "cancel":
      return { jsonrpc: "2.0", method: CANCEL_METHOD, params: { id: message.id } };
    case "item":
      return {
        jsonrpc: "2.0",
        method: ITEM_METHOD,
        params: { id: message.id, item: message.value },
      };
    case "progress":
      return {
        jsonrpc: "2.0",
        method: PROGRESS_METHOD,
        params: { id: message.id, value: message.value },
      };
    case "credit":
      return {
        jsonrpc: "2.0",
        method: CREDIT_METHOD,
        params: { id: message.id, credit: message.credit },
      };
    default:
      return undefined;
  }
}

/** `frame` with a `meta` member when `meta` is not empty, as the JSON-RPC codec writes it. */
function withMeta(frame: CloneFrame, meta: Meta | undefined): CloneFrame {
  if (hasMeta(meta)) frame.meta = meta;
  return frame;
}

/** A stream call, or a call that wants progress, wrapped as on JSON-RPC. */
function wrapped(message: RequestMessage): CloneFrame {
  const params: CloneFrame = { method: message.method };
  if (message.params !== undefined) params.params = message.params;
  if (message.stream !== undefined) params.credit = message.stream;
  else params.progress = true;
  const method = message.stream !== undefined ? STREAM_METHOD : CALL_METHOD;
  return { jsonrpc: "2.0", method, params, id: message.id };
}

/** The error object with exactly its three fields (no class instance, no extra keys). */
function errorObject(error: ErrorObject): ErrorObject {
  return error.data === undefined
    ? { code: error.code, message: error.message }
    : { code: error.code, message: error.message, data: error.data };
}
