/**
 * nuropb's wire, without a broker: the headers and properties on every
 * message, and the JSON payloads of requests, commands, events and
 * responses, turned into {@linkcode Message}s and back. Pure and synchronous;
 * `nuropb_codec.ts` makes them a codec per channel, and `@seed/rpc/amqp`
 * moves them over RabbitMQ (its exchange and queue names are the
 * transport's, in `transports/amqp/_topology.ts`).
 *
 * Bodies are written as Python's `json.dumps` writes them (`", "` and
 * `": "`, non-ASCII escaped), so what we send is byte for byte what nuropb
 * 0.1.8 sends.
 *
 * @example A request as it crosses the wire, and back
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeNuropb, encodeNuropbRequest } from "@seed/rpc/amqp";
 *
 * const wire = encodeNuropbRequest({
 *   type: "request",
 *   service: "calc",
 *   method: "add",
 *   params: { a: 2, b: 3 },
 *   correlationId: "c1",
 *   context: {},
 *   traceId: null,
 *   replyTo: "nuropb-demo-client-1-rq",
 * });
 * assertEquals(
 *   wire.body,
 *   '{"tag": "request", "service": "calc", "method": "add", "params": {"a": 2, "b": 3}, "correlation_id": "c1", "context": {}, "trace_id": null}',
 * );
 * const decoded = decodeNuropb(wire.body, wire.properties);
 * assertEquals(decoded.kind, "request");
 * ```
 *
 * @module
 */

import { ErrorCode } from "../wire/errors.ts";
import type { ErrorObject, Message, Meta } from "../wire/message.ts";
import { pythonJson, pythonNumber, pythonString } from "../dialects/_python_json.ts";

/**
 * One `"key": value` member of an envelope as `json.dumps` writes it, after
 * `prefix` (the key as written with its separator, `, "key": `, a constant:
 * no key string built per call); nothing for `undefined` (as the generic writer).
 * The envelope's own keys are fixed: writing them here spares building an
 * object only to walk it again (the writer was the largest of our frames).
 */
function member(prefix: string, value: unknown): string {
  if (value === undefined || typeof value === "function") return "";
  if (value === null) return prefix + "null";
  if (typeof value === "string") return prefix + pythonString(value);
  return prefix + (typeof value === "object" ? objectJson(value) : pythonJson(value));
}

/**
 * `pythonJson(object)`, the same text, for the objects an envelope mostly
 * carries: an empty context, flat params. The generic writer keeps a list of
 * the objects around each value (for cycles) and allocated ~350 bytes for
 * `{}` and ~750 for `{"a": 1, "b": 2}`; members that are objects go to it
 * (a cycle through this object still throws there, one level down).
 */
function objectJson(object: object): string {
  if (Array.isArray(object) || typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return pythonJson(object);
  }
  const keys = Object.keys(object);
  if (keys.length === 0) return "{}";
  let out = "{";
  for (const key of keys) {
    const value = (object as Record<string, unknown>)[key];
    let text: string;
    switch (typeof value) {
      case "undefined":
      case "function":
        continue;
      case "string":
        text = pythonString(value);
        break;
      case "number":
        text = pythonNumber(value);
        break;
      case "boolean":
        text = value ? "true" : "false";
        break;
      default:
        // null, objects; a symbol or a bigint throws as the generic writer does.
        text = value === null ? "null" : pythonJson(value);
    }
    out += (out.length === 1 ? "" : ", ") + pythonString(key) + ": " + text;
  }
  return out + "}";
}

/** An envelope from its members (see `member`); a first member left out leaves no separator. */
function envelope(members: string): string {
  return members.startsWith(", ") ? `{${members.slice(2)}}` : `{${members}}`;
}

/** The only `nuropb_protocol` header value nuropb 0.1.8 accepts. */
export const NUROPB_PROTOCOL = "0.1.1";
/** The `nuropb_version` header we send (the library version we speak). */
export const NUROPB_VERSION = "0.1.8";
/** The built-in method that answers with a service's description. */
export const DESCRIBE_METHOD = "nuropb_describe";
/** The method name an event reaches its handlers under (the one dispatch path). */
export const EVENT_METHOD = "nuropb.event";

/** RabbitMQ's direct reply-to pseudo-queue (the broker names each caller's `amq.rabbitmq.reply-to.<id>`). */
const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

/**
 * Whether a request's `reply_to` names a queue a reply may go to: a nuropb
 * response queue (`nuropb-<service>-<instance>-rq`, as nuropb and this
 * library name them) or RabbitMQ's direct reply-to. A service answers no
 * other: a request aimed at another service's queue (or any other) is
 * refused, so a service cannot be made to publish into queues it should not.
 *
 * @example Which queues a reply may go to
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { isResponseQueue } from "@seed/rpc/amqp";
 * assertEquals(isResponseQueue("nuropb-nuropb-seeds-client-cli1-rq"), true);
 * assertEquals(isResponseQueue("amq.rabbitmq.reply-to.g1h2AA"), true);
 * assertEquals(isResponseQueue("nuropb-orders-sq"), false);
 * assertEquals(isResponseQueue("nuropb-dl-queue"), false);
 * ```
 */
export function isResponseQueue(name: string | undefined): boolean {
  if (name === undefined) return false;
  if (name.startsWith("nuropb-")) return name.length > 10 && name.endsWith("-rq");
  return name === DIRECT_REPLY_TO || name.startsWith(`${DIRECT_REPLY_TO}.`);
}

/**
 * The four kinds of nuropb message (the `nuropb_type` header).
 */
export type NuropbType = "request" | "command" | "event" | "response";

/**
 * The AMQP properties of a nuropb message, named as AMQP names them.
 */
export interface NuropbProperties {
  /** Always `application/json` on what we send. */
  contentType?: string;
  /** The call's correlation id: uuid4 hex, new for each request, command or event. */
  correlationId?: string;
  /** The caller's response queue for a request or command; `""` otherwise. */
  replyTo?: string;
  /** Milliseconds, as a string: the message's time to live in a queue. */
  expiration?: string;
  /** The nuropb headers. */
  headers?: Record<string, unknown>;
}

/**
 * The headers of every nuropb message, in nuropb's order.
 *
 * @example Headers of a plain request
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { nuropbHeaders } from "@seed/rpc/amqp";
 * assertEquals(nuropbHeaders("request", "t1", false), {
 *   nuropb_protocol: "0.1.1",
 *   nuropb_version: "0.1.8",
 *   nuropb_type: "request",
 *   trace_id: "t1",
 *   encrypted: "",
 * });
 * ```
 */
export function nuropbHeaders(
  type: NuropbType,
  traceId: string | null,
  encrypted: boolean,
): Record<string, unknown> {
  return {
    nuropb_protocol: NUROPB_PROTOCOL,
    nuropb_version: NUROPB_VERSION,
    nuropb_type: type,
    trace_id: traceId,
    encrypted: encrypted ? "yes" : "",
  };
}

/**
 * A nuropb message ready to publish: body text and properties. Encrypt the
 * body (and set the `encrypted` header) before publishing, where wanted.
 */
export interface NuropbWire {
  /** The JSON payload, as Python writes it. */
  body: string;
  /** Properties and headers. */
  properties: NuropbProperties;
}

/**
 * What a request or a command carries.
 *
 * @example A command
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbRequest, type NuropbRequestFields } from "@seed/rpc/amqp";
 * const fields: NuropbRequestFields = {
 *   type: "command",
 *   service: "audit",
 *   method: "log",
 *   params: { line: "hi" },
 *   correlationId: "c2",
 *   context: {},
 *   traceId: null,
 *   replyTo: "nuropb-x-client-1-rq",
 *   ttl: 60_000,
 * };
 * assertEquals(encodeNuropbRequest(fields).properties.expiration, "60000");
 * ```
 */
export interface NuropbRequestFields {
  /** `"request"` (answered) or `"command"` (not answered). */
  type: "request" | "command";
  /** The target service. */
  service: string;
  /** The method. */
  method: string;
  /** Named parameters (nuropb calls `method(**params)`). */
  params: unknown;
  /** uuid4 hex. */
  correlationId: string;
  /** The caller's context (nuropb passes it to `ctx`). */
  context: unknown;
  /** A trace id, or `null`. */
  traceId: string | null;
  /** The caller's response queue. */
  replyTo: string;
  /**
   * Milliseconds the message may wait in the queue.
   *
   * @default {3_600_000}
   */
  ttl?: number;
  /** W3C trace context, sent as a `traceparent` header when given (between our services). */
  traceparent?: string;
  /** W3C vendor trace state, sent as a `tracestate` header when given. */
  tracestate?: string;
}

/**
 * Encodes a request or command as nuropb 0.1.8 does.
 *
 * @example A request's properties
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbRequest } from "@seed/rpc/amqp";
 * const { properties } = encodeNuropbRequest({
 *   type: "request",
 *   service: "calc",
 *   method: "add",
 *   params: {},
 *   correlationId: "c1",
 *   context: {},
 *   traceId: "t",
 *   replyTo: "rq",
 * });
 * assertEquals([properties.expiration, properties.replyTo], ["3600000", "rq"]);
 * ```
 */
export function encodeNuropbRequest(fields: NuropbRequestFields): NuropbWire {
  const body = envelope(
    member('"tag": ', fields.type) +
      member(', "service": ', fields.service) +
      member(', "method": ', fields.method) +
      member(', "params": ', fields.params) +
      member(', "correlation_id": ', fields.correlationId) +
      member(', "context": ', fields.context) +
      member(', "trace_id": ', fields.traceId),
  );
  const headers = nuropbHeaders(fields.type, fields.traceId, false);
  // W3C trace context rides in headers nuropb does not read: the body stays nuropb's.
  if (fields.traceparent !== undefined) headers.traceparent = fields.traceparent;
  if (fields.tracestate !== undefined) headers.tracestate = fields.tracestate;
  return {
    body,
    properties: {
      expiration: String(Math.max(0, Math.round(fields.ttl ?? 3_600_000))),
      replyTo: fields.replyTo,
      correlationId: fields.correlationId,
      headers,
      contentType: "application/json",
    },
  };
}

/**
 * What an event carries.
 */
export interface NuropbEventFields {
  /** The routing key on the events exchange. */
  topic: string;
  /** The event itself: any JSON value. */
  event: unknown;
  /** uuid4 hex. */
  correlationId: string;
  /** The publisher's context. */
  context: unknown;
  /** A trace id, or `null`. */
  traceId: string | null;
}

/**
 * Encodes an event as nuropb 0.1.8 does (`target` is always `null`).
 *
 * @example An event body
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbEvent } from "@seed/rpc/amqp";
 * const { body } = encodeNuropbEvent({
 *   topic: "seeds.hello",
 *   event: { k: "v" },
 *   correlationId: "a1",
 *   context: {},
 *   traceId: "t",
 * });
 * assertEquals(
 *   body,
 *   '{"tag": "event", "topic": "seeds.hello", "event": {"k": "v"}, "context": {}, "trace_id": "t", "correlation_id": "a1", "target": null}',
 * );
 * ```
 */
export function encodeNuropbEvent(fields: NuropbEventFields): NuropbWire {
  const body = envelope(
    '"tag": "event"' +
      member(', "topic": ', fields.topic) +
      member(', "event": ', fields.event) +
      member(', "context": ', fields.context) +
      member(', "trace_id": ', fields.traceId) +
      member(', "correlation_id": ', fields.correlationId) +
      ', "target": null',
  );
  return {
    body,
    properties: {
      replyTo: "",
      correlationId: fields.correlationId,
      headers: nuropbHeaders("event", fields.traceId, false),
      contentType: "application/json",
    },
  };
}

/**
 * A nuropb error, as it crosses the wire: the Python exception class name
 * and a description.
 */
export interface NuropbErrorBody {
  /** The exception class name, e.g. `NuropbHandlingError`. */
  error: string;
  /** What went wrong. */
  description: string;
}

/**
 * What a response answers: the request it answers, with its result or error.
 */
export interface NuropbResponseFields {
  /** The result (`null` with an error). */
  result: unknown;
  /** The error, or `null`. */
  error: NuropbErrorBody | null;
  /** The request's correlation id. */
  correlationId: string;
  /** The request's trace id. */
  traceId: string | null;
  /** The request's context, echoed. */
  context: unknown;
  /** The request's `reply_to` (echoed in the body; the properties carry `""`). */
  replyTo: string;
}

/**
 * Encodes a response as nuropb 0.1.8 does. Publish it to the default
 * exchange with the request's `reply_to` as routing key.
 *
 * @example The captured response to `add(2, 3)`
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbResponse } from "@seed/rpc/amqp";
 * const { body } = encodeNuropbResponse({
 *   result: 5,
 *   error: null,
 *   correlationId: "c9",
 *   traceId: "trace-add",
 *   context: { user: "u1" },
 *   replyTo: "rq",
 * });
 * assertEquals(
 *   body,
 *   '{"tag": "response", "result": 5, "error": null, "correlation_id": "c9", "trace_id": "trace-add", "context": {"user": "u1"}, "warning": null, "reply_to": "rq"}',
 * );
 * ```
 */
export function encodeNuropbResponse(fields: NuropbResponseFields): NuropbWire {
  // nuropb writes an error response's keys in another order (captured).
  const body = envelope(
    fields.error === null
      ? '"tag": "response"' +
        member(', "result": ', fields.result) +
        ', "error": null' +
        member(', "correlation_id": ', fields.correlationId) +
        member(', "trace_id": ', fields.traceId) +
        member(', "context": ', fields.context) +
        ', "warning": null' +
        member(', "reply_to": ', fields.replyTo)
      : '"tag": "response"' +
        member(', "correlation_id": ', fields.correlationId) +
        member(', "context": ', fields.context) +
        member(', "trace_id": ', fields.traceId) +
        ', "result": null' +
        member(', "error": ', fields.error) +
        ', "warning": null' +
        member(', "reply_to": ', fields.replyTo),
  );
  return {
    body,
    properties: {
      replyTo: "",
      correlationId: fields.correlationId,
      headers: nuropbHeaders("response", fields.traceId, false),
      contentType: "application/json",
    },
  };
}

/**
 * Why a delivery is not a nuropb message we can handle: it goes to the
 * dead-letter exchange with a log line, never to a handler.
 *
 * @example A poison message
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeNuropb } from "@seed/rpc/amqp";
 * const decoded = decodeNuropb("not json", {});
 * assertEquals(decoded.kind, "poison");
 * ```
 */
export interface NuropbPoison {
  /** Discriminant. */
  kind: "poison";
  /** What is wrong with it, for the log. */
  reason: string;
}

/**
 * The meta a nuropb message brings to its handler (`ctx.meta`).
 */
export interface NuropbMeta extends Meta {
  /** The caller's context object (nuropb's `ctx.context`). */
  context?: unknown;
  /** The message type. */
  nuropbType?: NuropbType;
  /** The service a request or command was addressed to. */
  service?: string;
  /** An event's topic. */
  topic?: string;
  /** Whether the request arrived encrypted. */
  encrypted?: boolean;
  /** Claims from the service's `authorize` hook, when it has one. */
  claims?: unknown;
  /** A caller of ours asks what this service carries (`nuropb_stream.ts`). */
  probe?: "streams";
}

/**
 * A decoded nuropb message: a {@linkcode Message} with its meta, or poison.
 */
export type NuropbDecoded = Message | NuropbPoison;

function poison(reason: string): NuropbPoison {
  return { kind: "poison", reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Decodes one delivery's body (already decrypted) and properties. Takes the
 * correlation id, trace id and type from the properties and headers, never
 * from the body, as nuropb does. Never throws: what cannot be handled is
 * {@linkcode NuropbPoison}.
 *
 * - request → `request` (id = correlation id), command → `notification`,
 *   event → a `notification` of {@linkcode EVENT_METHOD} with params
 *   `{topic, event, target, context}`, response → `result` or `error`.
 *
 * @example The captured request
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { decodeNuropb } from "@seed/rpc/amqp";
 * const decoded = decodeNuropb(
 *   '{"service": "seeds-svc", "method": "add", "params": {"a": 2, "b": 3}, "context": {}}',
 *   {
 *     correlationId: "c9",
 *     replyTo: "nuropb-demo-client-1-rq",
 *     headers: { nuropb_protocol: "0.1.1", nuropb_type: "request", trace_id: "t" },
 *   },
 * );
 * assertEquals(decoded, {
 *   kind: "request",
 *   id: "c9",
 *   method: "add",
 *   params: { a: 2, b: 3 },
 *   meta: { traceId: "t", context: {}, nuropbType: "request", service: "seeds-svc" },
 * });
 * ```
 */
export function decodeNuropb(body: string, properties: NuropbProperties): NuropbDecoded {
  const headers = properties.headers;
  if (!isObject(headers)) return poison("it has no headers");
  const protocol = headers.nuropb_protocol;
  if (protocol !== NUROPB_PROTOCOL) {
    return poison(`unsupported nuropb_protocol ${JSON.stringify(protocol) ?? "(none)"}`);
  }
  const type = headers.nuropb_type;
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return poison(`the body is not JSON: ${JSON.stringify(body.slice(0, 60))}`);
  }
  if (!isObject(payload)) return poison("the body is not a JSON object");
  const rawTrace = headers.trace_id;
  const traceId = typeof rawTrace === "string" ? rawTrace : undefined;
  const correlationId = properties.correlationId;
  switch (type) {
    case "request":
    case "command": {
      if (typeof payload.method !== "string") return poison(`a ${type} without a method`);
      // Events arrive as events: a call by that name would reach the event
      // handlers with a forged topic, past `authorize`.
      if (payload.method === EVENT_METHOD) return poison(`a ${type} may not call ${EVENT_METHOD}`);
      if (type === "request" && (correlationId === undefined || correlationId === "")) {
        return poison("a request without a correlation_id");
      }
      if (type === "request" && !properties.replyTo) return poison("a request without reply_to");
      if (type === "request" && !isResponseQueue(properties.replyTo)) {
        return poison(
          `its reply_to ${
            JSON.stringify(properties.replyTo!.slice(0, 200))
          } is not a response queue (nuropb-*-rq or amq.rabbitmq.reply-to.*)`,
        );
      }
      const meta = metaOf(traceId, payload.context, type);
      if (typeof payload.service === "string") meta.service = payload.service;
      if (typeof headers.traceparent === "string") meta.traceparent = headers.traceparent;
      if (typeof headers.tracestate === "string") meta.tracestate = headers.tracestate;
      const message: Message = type === "request"
        ? { kind: "request", id: correlationId!, method: payload.method, meta }
        : { kind: "notification", method: payload.method, meta };
      if (payload.params !== undefined) message.params = payload.params;
      return message;
    }
    case "event": {
      if (typeof payload.topic !== "string") return poison("an event without a topic");
      const meta = metaOf(traceId, payload.context, "event");
      meta.topic = payload.topic;
      return {
        kind: "notification",
        method: EVENT_METHOD,
        params: {
          topic: payload.topic,
          event: payload.event,
          target: payload.target ?? null,
          context: payload.context ?? {},
        },
        meta,
      };
    }
    case "response": {
      if (correlationId === undefined || correlationId === "") {
        return poison("a response without a correlation_id");
      }
      const meta = metaOf(traceId, payload.context, "response");
      const error = payload.error;
      if (error !== null && error !== undefined) {
        return { kind: "error", id: correlationId, error: fromNuropbError(error), meta };
      }
      return { kind: "result", id: correlationId, result: payload.result ?? null, meta };
    }
    default:
      return poison(`unknown nuropb_type ${JSON.stringify(type) ?? "(none)"}`);
  }
}

function metaOf(traceId: string | undefined, context: unknown, type: NuropbType): NuropbMeta {
  const meta: NuropbMeta = traceId === undefined ? {} : { traceId };
  meta.context = context;
  meta.nuropbType = type;
  return meta;
}

/** Python exception names for our error codes, and back. */
const NAMES: ReadonlyArray<readonly [number, string]> = [
  [ErrorCode.MethodNotFound, "NuropbHandlingError"],
  [ErrorCode.InvalidParams, "NuropbValidationError"],
  [ErrorCode.CallAgainRefused, "NuropbCallAgainReject"],
];

/** The error code for an authorisation failure (`NuropbAuthorizationError`). */
export const AUTHORIZATION_FAILED: -32010 = -32010;

/**
 * Our error as nuropb writes it. An error whose `data` names a nuropb
 * exception (`{error: "NuropbXxx"}`) keeps that name; otherwise the code
 * picks it: method not found → `NuropbHandlingError` ("Unknown method m"),
 * invalid params → `NuropbValidationError`, call again refused →
 * `NuropbCallAgainReject`, anything else `NuropbException` (a handler's
 * exception reads "Runtime exception calling service.method:Error: why", as
 * nuropb words it).
 *
 * @example An unknown method
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { toNuropbError } from "@seed/rpc/amqp";
 * assertEquals(
 *   toNuropbError({ code: -32601, message: "Method not found", data: { method: "nope" } }, "svc", "nope"),
 *   { error: "NuropbHandlingError", description: "Unknown method nope" },
 * );
 * ```
 */
export function toNuropbError(
  error: ErrorObject,
  service: string,
  method: string,
): NuropbErrorBody {
  const data = error.data;
  if (isObject(data) && typeof data.error === "string") {
    return { error: data.error, description: error.message };
  }
  switch (error.code) {
    case ErrorCode.MethodNotFound:
      return { error: "NuropbHandlingError", description: `Unknown method ${method}` };
    case ErrorCode.InternalError:
      return {
        error: "NuropbException",
        description: `Runtime exception calling ${service}.${method}:Error: ${error.message}`,
      };
    case AUTHORIZATION_FAILED:
      return { error: "NuropbAuthorizationError", description: error.message };
  }
  const named = NAMES.find(([code]) => code === error.code);
  return { error: named?.[1] ?? "NuropbException", description: error.message };
}

/**
 * A nuropb error as our {@linkcode ErrorObject}: the description becomes the
 * message, the whole `{error, description}` the data, and the name picks the
 * code (unknown names: -32000).
 *
 * @example A runtime exception from a Python service
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { fromNuropbError } from "@seed/rpc/amqp";
 * const error = fromNuropbError({ error: "NuropbException", description: "kaboom" });
 * assertEquals([error.code, error.message], [-32000, "kaboom"]);
 * ```
 */
export function fromNuropbError(error: unknown): ErrorObject {
  if (!isObject(error)) {
    return {
      code: -32000,
      message: String(error),
      data: { error: "NuropbException", description: String(error) },
    };
  }
  const name = typeof error.error === "string" ? error.error : "NuropbException";
  const description = typeof error.description === "string"
    ? error.description
    : JSON.stringify(error.description ?? null);
  let code: number = name === "NuropbAuthorizationError" ? AUTHORIZATION_FAILED : -32000;
  if (name === "NuropbHandlingError" && description.startsWith("Unknown method ")) {
    code = ErrorCode.MethodNotFound;
  } else {
    const known = NAMES.find(([, known]) => known === name && name !== "NuropbHandlingError");
    if (known !== undefined) code = known[0];
  }
  return { code, message: description, data: { error: name, description } };
}

/** The char codes of each byte value's two hex digits, high and low. */
const HIGH = Uint8Array.from({ length: 256 }, (_, i) => "0123456789abcdef".charCodeAt(i >> 4));
const LOW = Uint8Array.from({ length: 256 }, (_, i) => "0123456789abcdef".charCodeAt(i & 15));
/** Random bytes for 16 ids: one getRandomValues per 16 ids, no dashed uuid string to strip. */
const RANDOM = new Uint8Array(256);
let randomAt = RANDOM.length;

/** A uuid4 in hex, as nuropb makes its correlation ids (Python's `uuid.uuid4().hex`). */
export function uuidHex(): string {
  if (randomAt === RANDOM.length) {
    crypto.getRandomValues(RANDOM);
    randomAt = 0;
  }
  const r = RANDOM;
  const i = randomAt;
  randomAt += 16;
  // Version 4 in byte 6's high nibble, the RFC 4122 variant in byte 8's two high bits.
  r[i + 6] = (r[i + 6]! & 0x0f) | 0x40;
  r[i + 8] = (r[i + 8]! & 0x3f) | 0x80;
  // One flat string of 32 char codes: concatenating 16 pairs built a tree of
  // ~15 partial strings, flattened again when the id was first hashed or sent.
  return String.fromCharCode(
    HIGH[r[i]!]!,
    LOW[r[i]!]!,
    HIGH[r[i + 1]!]!,
    LOW[r[i + 1]!]!,
    HIGH[r[i + 2]!]!,
    LOW[r[i + 2]!]!,
    HIGH[r[i + 3]!]!,
    LOW[r[i + 3]!]!,
    HIGH[r[i + 4]!]!,
    LOW[r[i + 4]!]!,
    HIGH[r[i + 5]!]!,
    LOW[r[i + 5]!]!,
    HIGH[r[i + 6]!]!,
    LOW[r[i + 6]!]!,
    HIGH[r[i + 7]!]!,
    LOW[r[i + 7]!]!,
    HIGH[r[i + 8]!]!,
    LOW[r[i + 8]!]!,
    HIGH[r[i + 9]!]!,
    LOW[r[i + 9]!]!,
    HIGH[r[i + 10]!]!,
    LOW[r[i + 10]!]!,
    HIGH[r[i + 11]!]!,
    LOW[r[i + 11]!]!,
    HIGH[r[i + 12]!]!,
    LOW[r[i + 12]!]!,
    HIGH[r[i + 13]!]!,
    LOW[r[i + 13]!]!,
    HIGH[r[i + 14]!]!,
    LOW[r[i + 14]!]!,
    HIGH[r[i + 15]!]!,
    LOW[r[i + 15]!]!,
  );
}
