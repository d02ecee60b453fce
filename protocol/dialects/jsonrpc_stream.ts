/**
 * The JSON-RPC stream extension: how stream calls, their items, credit and
 * progress cross a JSON-RPC 2.0 wire. Every message is plain JSON-RPC 2.0
 * under a reserved `rpc.` name, and none is sent to a peer that did not ask
 * for it:
 *
 * - a stream call: `{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":M,"params":P,"credit":N},"id":I}`
 *   (a plain server answers -32601, so it never runs `M` as a plain call);
 * - a call that wants progress: the same under `rpc.call`, with `"progress":true`
 *   instead of `credit`;
 * - an item: `{"jsonrpc":"2.0","method":"rpc.item","params":{"id":I,"item":V}}`;
 * - progress: `{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":I,"value":V}}`;
 * - more credit: `{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":I,"credit":N}}`;
 * - the end: the ordinary response to `I`; a cancel: `rpc.cancel`.
 *
 * Used by the JSON-RPC codec (`jsonrpc.ts`), which encodes the values.
 *
 * @module
 */

import { ErrorCode, standardMessage } from "../wire/errors.ts";
import type { Id, InvalidMessage, Message, RequestMessage } from "../wire/message.ts";

/** The method that wraps a stream call. */
export const STREAM_METHOD = "rpc.stream";
/** The method that wraps a call that wants progress. */
export const CALL_METHOD = "rpc.call";
/** The notification that carries one item of a stream. */
export const ITEM_METHOD = "rpc.item";
/** The notification that carries progress of a call. */
export const PROGRESS_METHOD = "rpc.progress";
/** The notification that grants a stream more credit. */
export const CREDIT_METHOD = "rpc.credit";

/**
 * A stream call or a call that wants progress, wrapped; `params` and `id`
 * already encoded, `meta` the encoded `,"meta":{…}` member or nothing.
 */
export function wrappedRequest(
  message: RequestMessage,
  params: string | undefined,
  id: string,
  meta = "",
): string {
  const inner = params === undefined ? "" : `,"params":${params}`;
  const extra = message.stream !== undefined ? `"credit":${message.stream}` : `"progress":true`;
  const wrapper = message.stream !== undefined ? STREAM_METHOD : CALL_METHOD;
  return `{"jsonrpc":"2.0","method":"${wrapper}","params":{"method":${
    JSON.stringify(message.method)
  }${inner},${extra}},"id":${id}${meta}}`;
}

/** An item, progress or credit notification; `id` and `value` already encoded. */
export function controlFrame(kind: "item" | "progress" | "credit", id: string, value: string) {
  switch (kind) {
    case "item":
      return `{"jsonrpc":"2.0","method":"${ITEM_METHOD}","params":{"id":${id},"item":${value}}}`;
    case "progress":
      return `{"jsonrpc":"2.0","method":"${PROGRESS_METHOD}","params":{"id":${id},"value":${value}}}`;
    case "credit":
      return `{"jsonrpc":"2.0","method":"${CREDIT_METHOD}","params":{"id":${id},"credit":${value}}}`;
  }
}

/** An `rpc.stream` or `rpc.call` request, unwrapped, or invalid input to answer. */
export function unwrapRequest(id: Id | null, wrapper: string, params: unknown): Message {
  const p = params as Record<string, unknown> | undefined;
  if (p === undefined || Array.isArray(p) || typeof p.method !== "string") {
    return invalid(id, `${wrapper} needs params {"method": <name>, ...}`, true);
  }
  const inner = p.params;
  if (inner !== undefined && (inner === null || typeof inner !== "object")) {
    return invalid(id, "params must be an array or an object", true);
  }
  const message: RequestMessage = inner === undefined
    ? { kind: "request", id, method: p.method }
    : { kind: "request", id, method: p.method, params: inner };
  if (wrapper === STREAM_METHOD) {
    if (!isCount(p.credit)) {
      return invalid(id, `${wrapper} needs a whole credit of at least 1`, true);
    }
    message.stream = p.credit;
  } else {
    message.progress = true;
  }
  return message;
}

/**
 * An `rpc.item`, `rpc.progress` or `rpc.credit` notification, invalid input
 * to log, or `undefined` for any other name.
 */
export function decodeControl(method: string, params: unknown): Message | undefined {
  if (method !== ITEM_METHOD && method !== PROGRESS_METHOD && method !== CREDIT_METHOD) {
    return undefined;
  }
  const p = params as Record<string, unknown> | undefined;
  const id = p?.id;
  if (!(typeof id === "string" || (typeof id === "number" && Number.isFinite(id)))) {
    return invalid(null, `${method} needs params {"id": <id>, ...}`, false);
  }
  if (method === ITEM_METHOD) return { kind: "item", id, value: p!.item };
  if (method === PROGRESS_METHOD) return { kind: "progress", id, value: p!.value };
  if (!isCount(p!.credit)) {
    return invalid(null, `${method} needs a whole credit of at least 1`, false);
  }
  return { kind: "credit", id, credit: p!.credit };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function invalid(id: Id | null, reason: string, answer: boolean): InvalidMessage {
  const code = ErrorCode.InvalidRequest;
  return {
    kind: "invalid",
    id,
    error: { code, message: standardMessage(code), data: reason },
    answer,
  };
}
