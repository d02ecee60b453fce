/**
 * Streams and progress on the nuropb mesh, between our own services only:
 * nuropb-shaped messages (the same headers, a JSON body with a `tag`) of
 * types nuropb 0.1.8 does not have. A Python nuropb service is never sent
 * one: a caller first asks the service's description with the
 * {@linkcode PROBE_HEADER} header, which only our services answer (with
 * `seed_rpc: {streams: true}` in the description).
 *
 * - a stream call: a nuropb request with the header `seed_stream: <credit>`
 *   (a call that wants progress: `seed_progress: "yes"`), to the service
 *   queue as usual;
 * - an item, progress: `nuropb_type` `item` / `progress`, body
 *   `{"tag": "item", "correlation_id": C, "item": V}` /
 *   `{"tag": "progress", "correlation_id": C, "value": V}`, from the
 *   instance that holds the stream to the caller's response queue, with the
 *   header `seed_instance`: that instance's own control queue;
 * - credit, a cancel: `nuropb_type` `credit` / `cancel`, body
 *   `{"tag": "credit", "correlation_id": C, "credit": N}` /
 *   `{"tag": "cancel", "correlation_id": C}`, `reply_to` the caller's
 *   response queue, to that control queue (never to the service queue, where
 *   a competing instance would take it);
 * - a liveness check: `nuropb_type` `ping`, body `{"tag": "ping"}`,
 *   published mandatory to the other side's queue: returned, the other side
 *   is gone;
 * - the end: the ordinary nuropb response.
 *
 * @example An item as it crosses the wire
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeNuropbStream, encodeNuropbStream } from "@seed/rpc/amqp";
 * const wire = encodeNuropbStream("item", "c1", null, "", '{"n": 1}');
 * assertEquals(wire.body, '{"tag": "item", "correlation_id": "c1", "item": {"n": 1}}');
 * assertEquals(decodeNuropbStream(wire.body, wire.properties), {
 *   kind: "item",
 *   id: "c1",
 *   value: { n: 1 },
 * });
 * ```
 *
 * @module
 */

import type { Message } from "../wire/message.ts";
import { pythonString } from "../dialects/_python_json.ts";
import {
  NUROPB_PROTOCOL,
  NUROPB_VERSION,
  type NuropbProperties,
  type NuropbWire,
} from "./nuropb.ts";

/** On a request: a stream call, the caller's credit (a whole number). */
export const STREAM_HEADER = "seed_stream";
/** On a request: the caller wants progress (`"yes"`). */
export const PROGRESS_HEADER = "seed_progress";
/** On a `nuropb_describe` request: the caller asks what else we carry (`"streams"`). */
export const PROBE_HEADER = "seed_rpc";
/** On an item or progress: the queue of the instance that holds the stream. */
export const INSTANCE_HEADER = "seed_instance";

/** The message types streams add to nuropb's four. */
export type NuropbStreamType = "item" | "progress" | "credit" | "cancel" | "ping";

const TYPES: ReadonlySet<unknown> = new Set(["item", "progress", "credit", "cancel", "ping"]);

/** Whether a `nuropb_type` header names one of the stream types. */
export function isNuropbStreamType(type: unknown): type is NuropbStreamType {
  return TYPES.has(type);
}

/**
 * Encodes a stream message: `value` is the item or progress value, or the
 * credit, already written as JSON (Python's spacing); left out for a cancel
 * or a ping. `replyTo` is the caller's response queue on credit and cancel.
 */
export function encodeNuropbStream(
  type: NuropbStreamType,
  correlationId: string,
  traceId: string | null,
  replyTo: string,
  value?: string,
): NuropbWire {
  const id = pythonString(correlationId);
  let body: string;
  switch (type) {
    case "item":
      body = `{"tag": "item", "correlation_id": ${id}, "item": ${value}}`;
      break;
    case "progress":
      body = `{"tag": "progress", "correlation_id": ${id}, "value": ${value}}`;
      break;
    case "credit":
      body = `{"tag": "credit", "correlation_id": ${id}, "credit": ${value}}`;
      break;
    case "cancel":
      body = `{"tag": "cancel", "correlation_id": ${id}}`;
      break;
    case "ping":
      body = '{"tag": "ping"}';
      break;
  }
  return {
    body,
    properties: {
      replyTo,
      correlationId,
      headers: {
        nuropb_protocol: NUROPB_PROTOCOL,
        nuropb_version: NUROPB_VERSION,
        nuropb_type: type,
        trace_id: traceId,
        encrypted: "",
      },
      contentType: "application/json",
    },
  };
}

/**
 * Decodes an item, progress, credit or cancel (a ping, or anything else
 * that cannot be read: `undefined`). The correlation id is the property's.
 */
export function decodeNuropbStream(
  body: string,
  properties: NuropbProperties,
): Message | undefined {
  const type = properties.headers?.nuropb_type;
  const id = properties.correlationId;
  if (id === undefined || id === "" || type === "ping" || !isNuropbStreamType(type)) {
    return undefined;
  }
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof payload !== "object" || payload === null) return undefined;
  switch (type) {
    case "item":
      return { kind: "item", id, value: payload.item ?? null };
    case "progress":
      return { kind: "progress", id, value: payload.value ?? null };
    case "credit": {
      const credit = payload.credit;
      return Number.isSafeInteger(credit) && (credit as number) >= 1
        ? { kind: "credit", id, credit: credit as number }
        : undefined;
    }
    default:
      return { kind: "cancel", id };
  }
}

/** The credit of a stream request (its {@linkcode STREAM_HEADER}), or `undefined`. */
export function streamCreditOf(headers: Record<string, unknown> | undefined): number | undefined {
  const credit = headers?.[STREAM_HEADER];
  return Number.isSafeInteger(credit) && (credit as number) >= 1 ? credit as number : undefined;
}
