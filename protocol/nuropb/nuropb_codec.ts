/**
 * nuropb's envelope as a {@linkcode Codec}: the one place an AMQP body and
 * its properties become a {@linkcode Message} and back. One codec per
 * channel: a service's codec remembers each request's context, trace id and
 * method until it answers it (a nuropb response echoes them); a caller's
 * codec addresses its requests to its response queue. Bodies are plain text:
 * encryption is a frame transform around the codec, in the AMQP transport.
 *
 * What a service cannot handle (not a nuropb message, a response on a
 * service queue) decodes to an `invalid` message that is not answered: the
 * peer counts and logs it, and the channel dead-letters it.
 *
 * @example A service's codec answers a request with its context
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbRequest, NuropbServiceCodec } from "@seed/rpc/amqp";
 *
 * const codec = new NuropbServiceCodec("calc");
 * const request = encodeNuropbRequest({
 *   type: "request",
 *   service: "calc",
 *   method: "add",
 *   params: { a: 2, b: 3 },
 *   correlationId: "c1",
 *   context: { user: "u1" },
 *   traceId: null,
 *   replyTo: "nuropb-demo-client-1-rq",
 * });
 * assertEquals(codec.decode(request).kind, "request");
 * const [reply] = codec.encode({ kind: "result", id: "c1", result: 5 }, "nuropb-demo-client-1-rq");
 * assertEquals(
 *   reply!.body,
 *   '{"tag": "response", "result": 5, "error": null, "correlation_id": "c1", "trace_id": null, "context": {"user": "u1"}, "warning": null, "reply_to": "nuropb-demo-client-1-rq"}',
 * );
 * ```
 *
 * @module
 */

import type { Codec } from "../wire/codec.ts";
import type { InvalidMessage, Message } from "../wire/message.ts";
import {
  decodeNuropb,
  encodeNuropbEvent,
  encodeNuropbRequest,
  EVENT_METHOD,
  type NuropbWire,
  uuidHex,
} from "./nuropb.ts";
import {
  type Asked,
  askedOf,
  decodeServiceFrame,
  encodeAnswer,
  encodeRefusal,
  encodeStreamMessage,
  refused,
} from "./_nuropb_answer.ts";
import {
  decodeNuropbStream,
  encodeNuropbStream,
  PROBE_HEADER,
  PROGRESS_HEADER,
  STREAM_HEADER,
} from "./nuropb_stream.ts";

/** The key of a call: its caller's response queue and its correlation id. */
function callKey(replyTo: string | undefined, id: unknown): string {
  return `${replyTo}\n${id}`;
}

/**
 * A service's side of the nuropb envelope: decodes requests, commands and
 * events; encodes the answers to the requests it decoded. `encode` takes
 * the reply address (`to`, the request's `reply_to`), since two callers may
 * use the same correlation id.
 *
 * @example A delivery that is not nuropb is invalid, and not answered
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { NuropbServiceCodec } from "@seed/rpc/amqp";
 * const decoded = new NuropbServiceCodec("calc").decode({ body: "not json", properties: {} });
 * assertEquals(decoded, {
 *   kind: "invalid",
 *   id: null,
 *   error: { code: -32600, message: 'a message (correlation_id null): it has no headers' },
 *   answer: false,
 * });
 * ```
 */
export class NuropbServiceCodec implements Codec<NuropbWire> {
  /** The dialect's name. */
  readonly name = "nuropb";
  /** The service answered (for nuropb's error descriptions). */
  readonly service: string;
  #asked = new Map<string, Asked>();

  /** A codec for the service `service`. */
  constructor(service: string) {
    this.service = service;
  }

  /** Requests decoded and not yet answered or forgotten. */
  get remembered(): number {
    return this.#asked.size;
  }

  /**
   * A delivery that never reached the envelope (not UTF-8, too large, not
   * to be opened), as the invalid message it is.
   */
  unreadable(correlationId: string | undefined, reason: string): InvalidMessage {
    return refused("a message", correlationId, reason);
  }

  /**
   * Decodes one delivery (its body already opened). A request is
   * remembered until {@linkcode NuropbServiceCodec.encode} answers it or
   * {@linkcode NuropbServiceCodec.forget} drops it; a copy of one remembered
   * keeps the first's.
   */
  decode(frame: NuropbWire): Message {
    const decoded = decodeServiceFrame(frame);
    if (decoded.kind === "request") {
      const replyTo = frame.properties.replyTo!;
      const key = callKey(replyTo, decoded.id);
      if (!this.#asked.has(key)) this.#asked.set(key, askedOf(decoded, replyTo));
    }
    return decoded;
  }

  /**
   * Encodes the answer to a request this codec decoded, sent to `to` (its
   * `reply_to`); none when that request is not remembered. Throws when the
   * result cannot be written as JSON; the request stays remembered, to be
   * answered with {@linkcode NuropbServiceCodec.unencodable}.
   */
  encode(message: Message, to?: string): readonly NuropbWire[] {
    if (message.kind === "item" || message.kind === "progress") {
      // An item or progress of a stream call still running: it stays remembered.
      const asked = this.#asked.get(callKey(to, message.id));
      return asked === undefined ? [] : [encodeStreamMessage(asked, message)];
    }
    if (message.kind !== "result" && message.kind !== "error") {
      throw new TypeError(`A service queue sends replies only, not ${message.kind} messages`);
    }
    const key = callKey(to, message.id);
    const asked = this.#asked.get(key);
    if (asked === undefined) return [];
    const wire = encodeAnswer(asked, message, this.service);
    this.#asked.delete(key);
    return [wire];
  }

  /** The error answer to a request whose answer could not be encoded. */
  unencodable(id: string, to: string): NuropbWire | undefined {
    return this.#refuse(
      id,
      to,
      (method) => `The answer of ${this.service}.${method} could not be encoded`,
    );
  }

  /** The answer to a copy of a request answered before, whose answer is no longer held. */
  answeredBefore(id: string, to: string): NuropbWire | undefined {
    return this.#refuse(
      id,
      to,
      () => "This request was answered before; that answer is no longer held",
    );
  }

  /** A NuropbException answer to a remembered request, which is then forgotten. */
  #refuse(id: string, to: string, description: (method: string) => string): NuropbWire | undefined {
    const key = callKey(to, id);
    const asked = this.#asked.get(key);
    if (asked === undefined) return undefined;
    this.#asked.delete(key);
    return encodeRefusal(asked, description(asked.method));
  }

  /** Drops a request that will not be answered here (requeued, or a copy). */
  forget(id: string, to: string): void {
    this.#asked.delete(callKey(to, id));
  }

  /** Drops every remembered request (the channel closed). */
  clear(): void {
    this.#asked.clear();
  }
}

/** The trace id of a W3C `traceparent`, nuropb's `trace_id` when the caller gave none. */
function traceIdOf(traceparent: unknown): string | null {
  return typeof traceparent === "string" && /^00-[0-9a-f]{32}-/.test(traceparent)
    ? traceparent.slice(3, 35)
    : null;
}

/** What a caller's request, command or event carries besides its method and params (`meta`). */
export interface NuropbCallMeta {
  /** The caller's context (nuropb's `ctx.context`). @default {{}} */
  context?: unknown;
  /** A trace id. */
  traceId?: string;
  /** Milliseconds the message may wait in the queue. @default {3_600_000} */
  ttl?: number;
  /** W3C trace context, sent as a `traceparent` AMQP header (our services read it). */
  traceparent?: string;
  /** W3C trace state, sent as a `tracestate` AMQP header. */
  tracestate?: string;
  /** Ask an instance of ours what it carries (a `seed_rpc` header; only on `nuropb_describe`). */
  probe?: "streams";
}

/**
 * A caller's side of the nuropb envelope: encodes requests and commands to
 * a service (`to`), and events (notifications of {@linkcode EVENT_METHOD}
 * with params `{topic, event}`); decodes the responses to its requests.
 *
 * @example A request and its response
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeNuropbResponse, NuropbCallerCodec } from "@seed/rpc/amqp";
 *
 * const codec = new NuropbCallerCodec("nuropb-demo-client-1-rq");
 * const [wire] = codec.encode({ kind: "request", id: "c1", method: "add", params: { a: 1 } }, "calc");
 * assertEquals(wire!.properties.replyTo, "nuropb-demo-client-1-rq");
 * const response = encodeNuropbResponse({
 *   result: 2,
 *   error: null,
 *   correlationId: "c1",
 *   traceId: null,
 *   context: {},
 *   replyTo: "nuropb-demo-client-1-rq",
 * });
 * assertEquals(codec.decode(response), {
 *   kind: "result",
 *   id: "c1",
 *   result: 2,
 *   meta: { context: {}, nuropbType: "response" },
 * });
 * ```
 */
export class NuropbCallerCodec implements Codec<NuropbWire> {
  /** The dialect's name. */
  readonly name = "nuropb";
  /** Where replies to this caller's requests go. */
  readonly responseQueue: string;

  /** A codec for the caller whose replies come to `responseQueue`. */
  constructor(responseQueue: string) {
    this.responseQueue = responseQueue;
  }

  /**
   * Encodes a request or command to the service `to`, or an event (to its
   * topic). A command's and an event's correlation id is new (uuid4 hex).
   */
  encode(message: Message, to?: string): readonly NuropbWire[] {
    if (message.kind === "credit" || message.kind === "cancel") {
      // To the instance that holds the stream (the channel routes it).
      const credit = message.kind === "credit" ? String(message.credit) : undefined;
      return [
        encodeNuropbStream(message.kind, String(message.id), null, this.responseQueue, credit),
      ];
    }
    if (message.kind !== "request" && message.kind !== "notification") {
      throw new TypeError(`A mesh caller does not send ${message.kind} messages`);
    }
    const meta = (message.meta ?? {}) as NuropbCallMeta;
    if (message.kind === "notification" && message.method === EVENT_METHOD) {
      const params = message.params as { topic: string; event: unknown };
      return [encodeNuropbEvent({
        topic: params.topic,
        event: params.event,
        correlationId: uuidHex(),
        context: meta.context ?? {},
        traceId: meta.traceId ?? null,
      })];
    }
    if (to === undefined) throw new TypeError("A mesh call needs a service (to)");
    const request = message.kind === "request";
    const wire = encodeNuropbRequest({
      type: request ? "request" : "command",
      service: to,
      method: message.method,
      params: message.params ?? {},
      correlationId: request ? String(message.id) : uuidHex(),
      context: meta.context ?? {},
      traceId: meta.traceId ?? traceIdOf(meta.traceparent),
      replyTo: this.responseQueue,
      ttl: meta.ttl,
      traceparent: typeof meta.traceparent === "string" ? meta.traceparent : undefined,
      tracestate: typeof meta.tracestate === "string" ? meta.tracestate : undefined,
    });
    // Only ever sent to a service known to be ours (Mesh.stream asks first).
    if (request) {
      const headers = wire.properties.headers!;
      if (message.stream !== undefined) headers[STREAM_HEADER] = message.stream;
      else if (message.progress === true) headers[PROGRESS_HEADER] = "yes";
      if (meta.probe === "streams") headers[PROBE_HEADER] = "streams";
    }
    return [wire];
  }

  /** Decodes a reply: a result or an error; anything else is invalid (not answered). */
  decode(frame: NuropbWire): Message {
    const type = frame.properties.headers?.nuropb_type;
    if (type === "item" || type === "progress") {
      const control = decodeNuropbStream(frame.body, frame.properties);
      if (control !== undefined) return control;
      return refused("a reply", frame.properties.correlationId, `an unreadable ${type}`);
    }
    const decoded = decodeNuropb(frame.body, frame.properties);
    if (decoded.kind === "result" || decoded.kind === "error") return decoded;
    return refused(
      "a reply",
      frame.properties.correlationId,
      `it is not a nuropb response: ${decoded.kind === "poison" ? decoded.reason : decoded.kind}`,
    );
  }
}
