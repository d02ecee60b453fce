/**
 * The message model every codec decodes into and encodes from.
 *
 * A wire's bytes become a {@linkcode Message} in a {@linkcode Codec}; the
 * {@linkcode Peer} only ever sees messages. Ten kinds exist: the eight that
 * cross the wire (request, notification, result, error, cancel, and the
 * stream kinds item, progress, credit), and two
 * that never do: `invalid`, which a codec produces for input it could not
 * read so that the peer can answer it, and `lost`, which a channel produces
 * for a call whose transport went away. Wire housekeeping that a dialect needs (mushroom's
 * heartbeats and acknowledgements, say) stays inside that dialect's channel:
 * the peer never sees it.
 *
 * @module
 */

import type { CloseReason } from "./close.ts";

/**
 * A request identifier. Our own peers number their calls from 1; a remote may
 * use strings.
 */
export type Id = string | number;

/**
 * Metadata carried beside a message where the dialect has a place for it:
 * a top-level `"meta"` member in JSON-RPC (our extension, written only when
 * not empty), a fifth list item in mushroom between our peers, nuropb's
 * `context` and `trace_id`, quickrpc's security info.
 */
export interface Meta {
  /** A trace identifier that follows a call across services. */
  traceId?: string;
  /** Who sent the message, where the wire says so. */
  sender?: string;
  /** Anything else a dialect or a caller wants to carry. */
  [key: string]: unknown;
}

/**
 * Whether `meta` has a member to write (an `undefined` one is left out, as
 * JSON leaves it out): codecs write no carrier for empty metadata.
 */
export function hasMeta(meta: Meta | undefined): meta is Meta {
  if (meta !== undefined) { for (const key in meta) if (meta[key] !== undefined) return true; }
  return false;
}

/**
 * The error object of an error reply, as JSON-RPC 2.0 defines it.
 */
export interface ErrorObject {
  /** An integer; see {@linkcode ErrorCode} for the standard ones. */
  code: number;
  /** A short description. */
  message: string;
  /** Anything that helps the caller; left out when there is nothing. */
  data?: unknown;
}

/**
 * A call that expects a reply.
 *
 * `id` is `null` only when a remote sent a request with a null id (JSON-RPC
 * allows it, discouraged); the reply then carries `null` too.
 */
export interface RequestMessage {
  /** Discriminant. */
  kind: "request";
  /** Correlates the reply with this request. */
  id: Id | null;
  /** The method's registered name. */
  method: string;
  /** By-name (object) or by-position (array) parameters; absent when none. */
  params?: unknown;
  /** Metadata, where the dialect carries it. */
  meta?: Meta;
  /**
   * A stream call: the items the caller can take at once (its window). The
   * handler's items come as `item` messages, its end as the reply. Only
   * dialects whose codec declares `features.streams` carry it.
   */
  stream?: number;
  /** The caller wants `progress` messages for this call (a plain call). */
  progress?: boolean;
}

/**
 * A call that expects no reply, not even when it fails.
 */
export interface NotificationMessage {
  /** Discriminant. */
  kind: "notification";
  /** The method's registered name. */
  method: string;
  /** By-name (object) or by-position (array) parameters; absent when none. */
  params?: unknown;
  /** Metadata, where the dialect carries it. */
  meta?: Meta;
}

/**
 * A successful reply.
 */
export interface ResultMessage {
  /** Discriminant. */
  kind: "result";
  /** The id of the request this answers. */
  id: Id | null;
  /** The handler's return value (`null` when it returned nothing). */
  result: unknown;
  /** Metadata, where the dialect carries it. */
  meta?: Meta;
}

/**
 * A failed reply. `id` is `null` when the failing request's id could not be
 * read.
 */
export interface ErrorMessage {
  /** Discriminant. */
  kind: "error";
  /** The id of the request this answers, or `null`. */
  id: Id | null;
  /** What went wrong. */
  error: ErrorObject;
  /** Metadata, where the dialect carries it. */
  meta?: Meta;
}

/**
 * Stop working on a call: the caller gave up on request `id` (it timed out
 * or its signal aborted). The receiver aborts that call's `ctx.signal` and
 * sends no reply. Each dialect carries it its own way (JSON-RPC as an
 * `rpc.cancel` notification); a dialect without one sends nothing.
 *
 * @example A cancel, as JSON-RPC carries it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec, type CancelMessage } from "@seed/rpc";
 * const m: CancelMessage = { kind: "cancel", id: 7 };
 * assertEquals(new JsonRpcCodec().encode(m), ['{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":7}}']);
 * ```
 */
export interface CancelMessage {
  /** Discriminant. */
  kind: "cancel";
  /** The id of the request to stop. */
  id: Id;
}

/**
 * One item of stream call `id`, from the handler to the caller. Sent only
 * while the caller has granted credit.
 *
 * @example An item, as JSON-RPC carries it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type ItemMessage, JsonRpcCodec } from "@seed/rpc";
 * const m: ItemMessage = { kind: "item", id: 7, value: { t: 1 } };
 * assertEquals(new JsonRpcCodec().encode(m), ['{"jsonrpc":"2.0","method":"rpc.item","params":{"id":7,"item":{"t":1}}}']);
 * ```
 */
export interface ItemMessage {
  /** Discriminant. */
  kind: "item";
  /** The id of the stream call. */
  id: Id;
  /** The item. */
  value: unknown;
}

/**
 * Progress of call `id` (a stream or a call that asked for it), from the
 * handler to the caller; `ctx.progress(value)` sends it.
 *
 * @example Progress, as JSON-RPC carries it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec, type ProgressMessage } from "@seed/rpc";
 * const m: ProgressMessage = { kind: "progress", id: 8, value: 0.5 };
 * assertEquals(new JsonRpcCodec().encode(m), ['{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":8,"value":0.5}}']);
 * ```
 */
export interface ProgressMessage {
  /** Discriminant. */
  kind: "progress";
  /** The id of the call. */
  id: Id;
  /** What the handler reports. */
  value: unknown;
}

/**
 * More credit for stream call `id`, from the caller to the handler: it may
 * send `credit` more items.
 *
 * @example Credit, as JSON-RPC carries it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type CreditMessage, JsonRpcCodec } from "@seed/rpc";
 * const m: CreditMessage = { kind: "credit", id: 7, credit: 8 };
 * assertEquals(new JsonRpcCodec().encode(m), ['{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":7,"credit":8}}']);
 * ```
 */
export interface CreditMessage {
  /** Discriminant. */
  kind: "credit";
  /** The id of the stream call. */
  id: Id;
  /** How many more items the caller can take. */
  credit: number;
}

/**
 * A call the channel lost: the transport that carried request `id` went
 * away before its reply came, and the channel will not deliver one (a
 * reconnecting channel that does not keep calls across connections). It
 * never crosses the wire: the caller rejects the call with
 * {@linkcode ConnectionClosed} for `reason`.
 */
export interface LostMessage {
  /** Discriminant. */
  kind: "lost";
  /** The id of our request that will get no reply. */
  id: Id;
  /** Why. */
  reason: CloseReason;
}

/**
 * Input a codec could not turn into a valid message. It never crosses the
 * wire as such: the peer answers it with an error reply carrying `id` and
 * `error` when `answer` is true, and logs it otherwise.
 */
export interface InvalidMessage {
  /** Discriminant. */
  kind: "invalid";
  /** The id to answer with, `null` when it could not be read. */
  id: Id | null;
  /** The error to answer with (and to log). */
  error: ErrorObject;
  /** Whether the dialect wants this answered (false for broken replies). */
  answer: boolean;
  /** The start of the unreadable frame (up to 80 characters), for messages to people. */
  excerpt?: string;
}

/**
 * Any message a codec produces or accepts.
 *
 * @example Switch on the kind
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Message } from "@seed/rpc";
 *
 * function describe(m: Message): string {
 *   switch (m.kind) {
 *     case "request":
 *     case "notification":
 *       return `call ${m.method}`;
 *     case "result":
 *       return `result for ${m.id}`;
 *     case "error":
 *       return `error ${m.error.code}`;
 *     default:
 *       return m.kind;
 *   }
 * }
 * assertEquals(describe({ kind: "cancel", id: 3 }), "cancel");
 * ```
 */
export type Message =
  | RequestMessage
  | NotificationMessage
  | ResultMessage
  | ErrorMessage
  | CancelMessage
  | ItemMessage
  | ProgressMessage
  | CreditMessage
  | LostMessage
  | InvalidMessage;
