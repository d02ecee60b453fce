// nuropb's envelope as a per-channel codec, without a broker: what a service
// codec remembers to answer a request, and how its invalid input travels the
// one dispatch path (counted, logged once, settled failed).

import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import {
  encodeNuropbEvent,
  encodeNuropbRequest,
  EVENT_METHOD,
  NuropbCallerCodec,
  NuropbServiceCodec,
  type NuropbWire,
} from "../transports/amqp.ts";
import { type Channel, type Delivery, type Outcome, Peer } from "../mod.ts";

const RQ = "nuropb-demo-client-1-rq";

function request(id: string, context: unknown, replyTo = RQ): NuropbWire {
  return encodeNuropbRequest({
    type: "request",
    service: "calc",
    method: "add",
    params: { a: 1, b: 2 },
    correlationId: id,
    context,
    traceId: "t1",
    replyTo,
  });
}

Deno.test("nuropb codec: each caller's answer echoes its own context, even with the same correlation id", () => {
  const codec = new NuropbServiceCodec("calc");
  const other = "nuropb-other-client-2-rq";
  codec.decode(request("c1", { user: "a" }));
  codec.decode(request("c1", { user: "b" }, other));
  const [forOther] = codec.encode({ kind: "result", id: "c1", result: 3 }, other);
  const [forFirst] = codec.encode({ kind: "result", id: "c1", result: 3 }, RQ);
  assertStringIncludes(forOther!.body, '"context": {"user": "b"}');
  assertStringIncludes(forOther!.body, `"reply_to": "${other}"`);
  assertStringIncludes(forFirst!.body, '"context": {"user": "a"}');
  assertEquals(codec.remembered, 0);
  // Answered once: a second reply has nothing to answer.
  assertEquals(codec.encode({ kind: "result", id: "c1", result: 3 }, RQ), []);
});

Deno.test("nuropb codec: a copy keeps the first request's context; forget drops it", () => {
  const codec = new NuropbServiceCodec("calc");
  codec.decode(request("c1", { user: "first" }));
  codec.decode(request("c1", { user: "copy" }));
  assertEquals(codec.remembered, 1);
  const [answer] = codec.encode(
    { kind: "error", id: "c1", error: { code: -32601, message: "x" } },
    RQ,
  );
  assertStringIncludes(answer!.body, '"context": {"user": "first"}');
  assertStringIncludes(
    answer!.body,
    '"error": {"error": "NuropbHandlingError", "description": "Unknown method add"}',
  );
  codec.decode(request("c2", {}));
  codec.forget("c2", RQ);
  assertEquals(codec.remembered, 0);
});

Deno.test("nuropb codec: an answer JSON cannot hold throws, and is answered with NuropbException", () => {
  const codec = new NuropbServiceCodec("calc");
  codec.decode(request("c1", { user: "u" }));
  let thrown = false;
  try {
    codec.encode({ kind: "result", id: "c1", result: 1n }, RQ);
  } catch {
    thrown = true;
  }
  assertEquals([thrown, codec.remembered], [true, 1]);
  const answer = codec.unencodable("c1", RQ)!;
  assertEquals(
    answer.body,
    `{"tag": "response", "correlation_id": "c1", "context": {}, "trace_id": "t1", "result": null, "error": {"error": "NuropbException", "description": "The answer of calc.add could not be encoded"}, "warning": null, "reply_to": "${RQ}"}`,
  );
});

Deno.test("nuropb codec: a response on a service queue, or a request on a caller's, is invalid and unanswered", () => {
  const response = new NuropbCallerCodec(RQ).encode(
    { kind: "request", id: "c1", method: "add" },
    "calc",
  )[0]!;
  assertEquals(new NuropbCallerCodec(RQ).decode(response), {
    kind: "invalid",
    id: null,
    error: {
      code: -32600,
      message: 'a reply (correlation_id "c1"): it is not a nuropb response: request',
    },
    answer: false,
  });
  const service = new NuropbServiceCodec("calc");
  const reply = { ...response, properties: { ...response.properties } };
  reply.properties.headers = { ...reply.properties.headers, nuropb_type: "response" };
  assertEquals(service.decode(reply).kind, "invalid");
  assertEquals(service.remembered, 0);
});

Deno.test("nuropb codec: an event notification encodes as nuropb's event", () => {
  const [wire] = new NuropbCallerCodec(RQ).encode({
    kind: "notification",
    method: EVENT_METHOD,
    params: { topic: "orders.created", event: { id: 7 } },
    meta: { context: { user: "u" }, traceId: "t" },
  });
  const expected = encodeNuropbEvent({
    topic: "orders.created",
    event: { id: 7 },
    correlationId: wire!.properties.correlationId!,
    context: { user: "u" },
    traceId: "t",
  });
  assertEquals(wire, expected);
});

/** A one-delivery channel: what a broker channel hands the peer, settled back here. */
function oneDelivery(delivery: Omit<Delivery, "settle">, settled: Outcome[]): Channel {
  const closed = Promise.withResolvers<void>();
  const items: Delivery[] = [{ ...delivery, settle: (outcome) => void settled.push(outcome) }];
  return {
    send: () => Promise.resolve(),
    incoming: {
      async *[Symbol.asyncIterator]() {
        yield* items;
        await closed.promise;
      },
    },
    close: () => {
      closed.resolve();
      return Promise.resolve();
    },
    closed: closed.promise,
  };
}

Deno.test("nuropb codec: poison travels dispatch: counted, one warning with its fate, settled failed", async () => {
  const logger = recordingLogger();
  const settled: Outcome[] = [];
  const poison = new NuropbServiceCodec("calc").decode({ body: "not json", properties: {} });
  const channel = oneDelivery({ message: poison, failedAs: "dead-lettered" }, settled);
  const peer = new Peer(channel, { name: "nuropb service calc", logger, handlers: {} });
  await waitFor(() => settled.length === 1, { timeout: 2_000, message: "settled" });
  assertEquals(settled, ["failed"]);
  assertEquals(peer.stats().invalidMessages, 1);
  assertEquals(logger.messages("warn"), [
    "nuropb service calc: dead-lettered a message (correlation_id null): it has no headers",
  ]);
  await peer.close();
});
