// A service's side of the nuropb envelope without a table of its own:
// reading a request, and writing its answer from what the request said
// (`Asked`). NuropbServiceCodec keeps each `Asked` in a map by (reply_to,
// correlation id); the AMQP service channel keeps it in the call record it
// holds anyway (one record and no key string per call).

import { ErrorCode } from "../wire/errors.ts";
import type { InvalidMessage, Message } from "../wire/message.ts";
import {
  decodeNuropb,
  encodeNuropbResponse,
  type NuropbErrorBody,
  nuropbHeaders,
  type NuropbMeta,
  type NuropbProperties,
  type NuropbWire,
  toNuropbError,
} from "./nuropb.ts";
import { pythonJson } from "../dialects/_python_json.ts";
import {
  encodeNuropbStream,
  PROBE_HEADER,
  PROGRESS_HEADER,
  streamCreditOf,
} from "./nuropb_stream.ts";

/** What a request's answer echoes: kept from the request until it is answered. */
export interface Asked {
  readonly context: unknown;
  readonly traceId: string | null;
  readonly method: string;
  readonly correlationId: string;
  readonly replyTo: string;
}

/** Input that is not answered (`what` is "a message" or "a reply"): logged and, on a broker, dead-lettered. */
export function refused(what: string, id: string | undefined, reason: string): InvalidMessage {
  return {
    kind: "invalid",
    id: null,
    error: {
      code: ErrorCode.InvalidRequest,
      message: `${what} (correlation_id ${JSON.stringify(id ?? null)}): ${reason}`,
    },
    answer: false,
  };
}

/**
 * One delivery on a service queue (its body already opened) as a message:
 * a request (with its stream, progress and probe headers read), command or
 * event; anything else is invalid. Nothing is remembered here.
 */
export function decodeServiceFrame(frame: NuropbWire): Message {
  const properties = frame.properties;
  const decoded = decodeNuropb(frame.body, properties);
  if (decoded.kind === "poison") {
    return refused("a message", properties.correlationId, decoded.reason);
  }
  if (decoded.kind === "result" || decoded.kind === "error") {
    return refused("a message", properties.correlationId, "a response on a service queue");
  }
  if (decoded.kind === "request") {
    // Between our services only: a stream call, progress, a probe (nuropb_stream.ts).
    const headers = properties.headers;
    const credit = streamCreditOf(headers);
    if (credit !== undefined) decoded.stream = credit;
    else if (headers?.[PROGRESS_HEADER] === "yes") decoded.progress = true;
    if (headers?.[PROBE_HEADER] === "streams") (decoded.meta as NuropbMeta).probe = "streams";
  }
  return decoded;
}

/** What the answer to the decoded request `request`, sent to `replyTo`, echoes. */
export function askedOf(request: Message & { kind: "request" }, replyTo: string): Asked {
  const meta = request.meta as NuropbMeta | undefined;
  return {
    context: meta?.context ?? {},
    traceId: meta?.traceId ?? null,
    method: request.method,
    correlationId: String(request.id),
    replyTo,
  };
}

/**
 * The answer (a result or an error) to the request `asked` of the service
 * `service`. Throws when the result cannot be written as JSON.
 */
export function encodeAnswer(
  asked: Asked,
  message: Message & { kind: "result" | "error" },
  service: string,
): NuropbWire {
  return encodeNuropbResponse(
    responseTo(
      asked,
      message.kind === "result" ? message.result : null,
      message.kind === "error" ? toNuropbError(message.error, service, asked.method) : null,
      asked.context,
    ),
  );
}

/** A NuropbException answer to the request `asked` (its context not echoed). */
export function encodeRefusal(asked: Asked, description: string): NuropbWire {
  return encodeNuropbResponse(responseTo(asked, null, {
    error: "NuropbException",
    description,
  }, {}));
}

/** An item or progress of the stream call `asked`, still running. */
export function encodeStreamMessage(
  asked: Asked,
  message: Message & { kind: "item" | "progress" },
): NuropbWire {
  const value = pythonJson(message.value ?? null);
  return encodeNuropbStream(message.kind, asked.correlationId, asked.traceId, "", value);
}

/**
 * The properties of an answer sent before (`encodeNuropbResponse`'s, and the
 * `encrypted` header a sealed one was given): with the body kept, the
 * answer again, byte for byte.
 */
export function answerProperties(
  correlationId: string,
  traceId: string | null,
  sealed: boolean,
): NuropbProperties {
  const headers = nuropbHeaders("response", traceId, false);
  if (sealed) headers.encrypted = "yes";
  return { replyTo: "", correlationId, headers, contentType: "application/json" };
}

function responseTo(
  asked: Asked,
  result: unknown,
  error: NuropbErrorBody | null,
  context: unknown,
) {
  return {
    result,
    error,
    correlationId: asked.correlationId,
    traceId: asked.traceId,
    context,
    replyTo: asked.replyTo,
  };
}
