// nuropb's bytes without a broker: what the Python library (0.1.8) sent,
// captured live through RabbitMQ's firehose, decoded by our codec; and its
// encryption (made by Python's `cryptography`) opened by ours.

import { assertEquals, assertRejects } from "./_assert.ts";
import {
  decodeNuropb,
  encodeNuropbEvent,
  encodeNuropbRequest,
  encodeNuropbResponse,
  fernetDecrypt,
  NuropbKeyPair,
  type NuropbProperties,
  openNuropbBody,
  sealNuropbBody,
  topicMatches,
} from "../transports/amqp.ts";
import { uuidHex } from "../protocol/nuropb/nuropb.ts";

interface Captured {
  origin: "python service" | "python client";
  exchange: string;
  routing_key: string;
  properties: {
    correlation_id?: string;
    reply_to?: string;
    expiration?: string;
    headers: Record<string, unknown>;
  };
  body: string;
}

const wire: Captured[] = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/nuropb/python_wire.json", import.meta.url)),
);
const crypto: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/nuropb/python_encryption.json", import.meta.url)),
);

function propertiesOf(captured: Captured): NuropbProperties {
  return {
    correlationId: captured.properties.correlation_id,
    replyTo: captured.properties.reply_to,
    expiration: captured.properties.expiration,
    headers: captured.properties.headers,
  };
}

Deno.test("nuropb wire: Python's responses decode to results and errors", () => {
  const responses = wire.filter((w) => w.origin === "python service");
  const decoded = responses.map((w) => decodeNuropb(w.body, propertiesOf(w)));
  assertEquals(decoded[0]!.kind, "result");
  assertEquals((decoded[0] as { result: unknown }).result, 5);
  assertEquals(decoded[1]!.kind, "error");
  assertEquals((decoded[1] as { error: unknown }).error, {
    code: -32000,
    message: "Runtime exception calling seeds-svc.boom:ValueError: kaboom",
    data: {
      error: "NuropbException",
      description: "Runtime exception calling seeds-svc.boom:ValueError: kaboom",
    },
  });
  // The second, bogus response to the same correlation id (a "result").
  assertEquals(decoded[2]!.kind, "result");
  assertEquals(
    (decoded[2] as { id: unknown }).id,
    (decoded[1] as { id: unknown }).id,
  );
  assertEquals((decoded[3] as { error: { code: number } }).error.code, -32601);
});

Deno.test("nuropb wire: we write what Python writes, byte for byte", () => {
  const request = wire.find((w) => w.origin === "python client" && w.body.includes('"add"'))!;
  const payload = JSON.parse(request.body);
  const ours = encodeNuropbRequest({
    type: "request",
    service: payload.service,
    method: payload.method,
    params: payload.params,
    correlationId: payload.correlation_id,
    context: payload.context,
    traceId: payload.trace_id,
    replyTo: request.properties.reply_to!,
  });
  assertEquals(ours.body, request.body);
  assertEquals(ours.properties.expiration, request.properties.expiration);
  assertEquals(ours.properties.headers, request.properties.headers);

  const event = wire.find((w) => w.routing_key === "seeds.hello")!;
  const e = JSON.parse(event.body);
  assertEquals(
    encodeNuropbEvent({
      topic: e.topic,
      event: e.event,
      correlationId: e.correlation_id,
      context: e.context,
      traceId: e.trace_id,
    }).body,
    event.body,
  );

  for (const response of wire.filter((w) => w.origin === "python service").slice(0, 2)) {
    const r = JSON.parse(response.body);
    assertEquals(
      encodeNuropbResponse({
        result: r.result,
        error: r.error,
        correlationId: r.correlation_id,
        traceId: r.trace_id,
        context: r.context,
        replyTo: r.reply_to,
      }).body,
      response.body,
    );
  }
});

Deno.test("nuropb wire: every captured request and command decodes to a message", () => {
  for (const captured of wire.filter((w) => w.origin === "python client")) {
    const decoded = decodeNuropb(captured.body, propertiesOf(captured));
    assertEquals(
      decoded.kind,
      { request: "request", command: "notification", event: "notification" }[
        captured.properties.headers.nuropb_type as string
      ],
    );
  }
});

Deno.test("nuropb wire: poison is named, never thrown", () => {
  assertEquals(decodeNuropb("{}", {}), { kind: "poison", reason: "it has no headers" });
  const headers = { nuropb_protocol: "0.1.1", nuropb_type: "request" };
  assertEquals(decodeNuropb("[1]", { headers }).kind, "poison");
  assertEquals(decodeNuropb('{"method": "m"}', { headers }).kind, "poison"); // no correlation id
  assertEquals(
    decodeNuropb('{"x": 1}', { headers: { ...headers, nuropb_type: "gossip" } }),
    { kind: "poison", reason: 'unknown nuropb_type "gossip"' },
  );
});

Deno.test("nuropb wire: a call named nuropb.event, or a reply_to that is no response queue, is poison", () => {
  const headers = { nuropb_protocol: "0.1.1", nuropb_type: "request" };
  const request = { correlationId: "c1", replyTo: "nuropb-x-client-1-rq", headers };
  assertEquals(
    decodeNuropb('{"method": "nuropb.event", "params": {"topic": "t"}}', request),
    { kind: "poison", reason: "a request may not call nuropb.event" },
  );
  assertEquals(
    decodeNuropb('{"method": "nuropb.event"}', {
      headers: { ...headers, nuropb_type: "command" },
    }).kind,
    "poison",
  );
  for (const replyTo of ["nuropb-orders-sq", "nuropb-dl-queue", "orders", "nuropb--rq"]) {
    const decoded = decodeNuropb('{"method": "add"}', { ...request, replyTo });
    assertEquals(decoded.kind, "poison", replyTo);
  }
  for (const replyTo of ["nuropb-x-client-1-rq", "amq.rabbitmq.reply-to.g1h2AA"]) {
    assertEquals(decodeNuropb('{"method": "add"}', { ...request, replyTo }).kind, "request");
  }
});

Deno.test("nuropb encryption: Python's Fernet token and sealed request open here", async () => {
  const plain = await fernetDecrypt(crypto.fernet_key!, crypto.fernet_token!);
  assertEquals(new TextDecoder().decode(plain), crypto.fernet_plain);
  const keys = await NuropbKeyPair.fromPem(crypto.private_key_pem!);
  assertEquals(await keys.publicKeyPem(), crypto.public_key_pem);
  const request = await openNuropbBody(crypto.request_sealed!, { privateKey: keys.privateKey });
  assertEquals(request.body, crypto.request_plain);
  // Python's service answered with the same Fernet key.
  const response = await openNuropbBody(crypto.response_sealed!, { key: request.key });
  assertEquals(response.body, crypto.response_plain);
  // And ours, sealed for that key pair, opens with it.
  const sealed = await sealNuropbBody("{}", keys.publicKey);
  assertEquals((await openNuropbBody(sealed.body, { privateKey: keys.privateKey })).body, "{}");
  await assertRejects(
    () => openNuropbBody(sealed.body, { key: request.key }),
    Error,
    "Invalid Fernet token",
  );
});

Deno.test("nuropb: topic patterns match as RabbitMQ's topic exchange does", () => {
  assertEquals(topicMatches("a.*", "a.b"), true);
  assertEquals(topicMatches("a.*", "a.b.c"), false);
  assertEquals(topicMatches("a.#", "a"), true);
  assertEquals(topicMatches("a.#", "a.b.c"), true);
  assertEquals(topicMatches("#.c", "a.b.c"), true);
  assertEquals(topicMatches("*.b.*", "a.b"), false);
  assertEquals(topicMatches("#", ""), true);
});

Deno.test("correlation ids are uuid4 hex, as Python's uuid.uuid4().hex, and never repeat", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = uuidHex();
    assertEquals(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/.test(id), true, id);
    seen.add(id);
  }
  assertEquals(seen.size, 10_000);
});
