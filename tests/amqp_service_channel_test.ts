// The nuropb service channel alone, against a stand-in for the broker's
// channel: races a broker cannot be made to produce on demand.

import { assert, assertEquals } from "./_assert.ts";
import { waitFor } from "./_helpers.ts";
import { CallAgain, Peer, silentLogger } from "../mod.ts";
import { encodeNuropbRequest, NuropbKeyPair, sealNuropbBody } from "../transports/amqp.ts";
import { ServiceChannel } from "../transports/amqp/_service.ts";
import type { BrokerConnection } from "../transports/amqp/_connection.ts";

interface Delivered {
  properties: Record<string, unknown>;
  body: Uint8Array;
  bodySize: number;
  deliveryTag: number;
  redelivered: boolean;
}

/** A broker channel that records what the service settles and publishes. */
function standIn() {
  const ops = { acks: 0, rejects: 0, nacks: 0, publishes: 0 };
  const published: Array<{ routingKey: string; body: string; properties: unknown }> = [];
  let consume: ((message: Delivered) => void) | undefined;
  const channel = {
    exchangeDeclare: () => Promise.resolve(),
    queueDeclare: () => Promise.resolve({ name: "nuropb-calc-sq" }),
    queueBind: () => Promise.resolve(),
    basicQos: () => Promise.resolve(),
    basicConsume: (_queue: string, _options: unknown, callback: (m: Delivered) => void) => {
      consume = callback;
      return Promise.resolve();
    },
    basicAck: () => Promise.resolve(void ops.acks++),
    basicReject: () => Promise.resolve(void ops.rejects++),
    basicNack: () => Promise.resolve(void ops.nacks++),
    basicPublish: (_exchange: string, routingKey: string, body: string, properties: unknown) => {
      // A deep copy: what the channel sends must not change after it sent it.
      published.push(structuredClone({ routingKey, body, properties }));
      return Promise.resolve(void ops.publishes++);
    },
    close: () => Promise.resolve(),
  };
  const connection = {
    channel: () => Promise.resolve(channel),
    remove() {},
  } as unknown as BrokerConnection;
  let tag = 0;
  const deliver = (wire: { body: string; properties: object }) => {
    const body = new TextEncoder().encode(wire.body);
    consume!({
      properties: wire.properties as Record<string, unknown>,
      body,
      bodySize: body.length,
      deliveryTag: ++tag,
      redelivered: false,
    });
  };
  return { ops, published, connection, deliver };
}

/** A service channel for `calc`, attached to the stand-in. */
async function serviceChannel(
  broker: ReturnType<typeof standIn>,
  keys: NuropbKeyPair | undefined,
  rememberAnswers = 1000,
  rememberAnswerBytes = 1 << 20,
): Promise<ServiceChannel> {
  const channel = new ServiceChannel(broker.connection, {
    service: "calc",
    prefetch: 16,
    eventBindings: [],
    keys,
    logger: silentLogger,
    rememberAnswers,
    rememberAnswerBytes,
    maxInboxBytes: 1 << 26,
  });
  await channel.attach(broker.connection, 1);
  return channel;
}

const request = (
  id: string,
  context: unknown,
  traceId: string | null = null,
  replyTo = "nuropb-caller-rq",
) =>
  encodeNuropbRequest({
    type: "request",
    service: "calc",
    method: "echo",
    params: {},
    correlationId: id,
    context,
    traceId,
    replyTo,
  });

Deno.test("nuropb: a copy that arrives while an encrypted answer is sealed leaves nothing remembered", async () => {
  const broker = standIn();
  const keys = await NuropbKeyPair.generate();
  const channel = await serviceChannel(broker, keys);
  const peer = new Peer(channel, {
    logger: silentLogger,
    handlers: {
      echo: (_params: unknown, ctx) => {
        // A plain copy of the same call lands while the answer is being sealed.
        queueMicrotask(() => broker.deliver(request(String(ctx.id), { big: "x".repeat(1000) })));
        return "ok";
      },
    },
  });
  const calls = 20;
  for (let i = 0; i < calls; i++) {
    const plain = request(`c${i}`, { n: i });
    const sealed = await sealNuropbBody(plain.body, keys.publicKey);
    (plain.properties.headers as Record<string, unknown>).encrypted = "yes";
    broker.deliver({ body: sealed.body, properties: plain.properties });
  }
  // Every call and every copy answered and acknowledged.
  await waitFor(() => broker.ops.acks === 2 * calls, { timeout: 10_000 });
  assertEquals(broker.ops.publishes, 2 * calls);
  assertEquals(channel.requestsRemembered, 0);
  assertEquals(channel.keysHeld, 0);
  await peer.close();
});

Deno.test("nuropb: copies of a call given back to the queue are given back too", async () => {
  const broker = standIn();
  const channel = await serviceChannel(broker, undefined);
  const peer = new Peer(channel, {
    logger: silentLogger,
    handlers: {
      echo: (_params: unknown, ctx) => {
        // A copy arrives while the first is handled; then the first is given back.
        broker.deliver(request(String(ctx.id), {}));
        throw new CallAgain();
      },
    },
  });
  broker.deliver(request("c1", {}));
  // Each would otherwise hold a prefetch slot until the channel closed.
  await waitFor(() => broker.ops.nacks === 2, {
    timeout: 10_000,
    message: "first and copy requeued",
  });
  assertEquals(broker.ops.acks, 0);
  await peer.close();
});

Deno.test("nuropb: a copy of an answered call gets the first answer again, body and properties", async () => {
  const broker = standIn();
  const keys = await NuropbKeyPair.generate();
  const channel = await serviceChannel(broker, keys);
  let ran = 0;
  const peer = new Peer(channel, {
    logger: silentLogger,
    handlers: { echo: (_params: unknown, ctx) => `ran ${++ran} for ${JSON.stringify(ctx.meta)}` },
  });
  // Plain, with a trace id and a context the answer echoes; then sealed.
  const plain = request("p1", { user: "u1" }, "trace-1");
  const sealedRequest = request("s1", { user: "u2" });
  const sealing = await sealNuropbBody(sealedRequest.body, keys.publicKey);
  (sealedRequest.properties.headers as Record<string, unknown>).encrypted = "yes";
  const sealed = { body: sealing.body, properties: sealedRequest.properties };
  for (const [i, wire] of [plain, sealed].entries()) {
    broker.deliver(wire);
    await waitFor(() => broker.ops.acks === 2 * i + 1, { timeout: 10_000, message: "answered" });
    broker.deliver(wire);
    await waitFor(() => broker.ops.acks === 2 * i + 2, { timeout: 10_000, message: "copy" });
    const [first, again] = broker.published.slice(-2);
    assertEquals(again, first);
  }
  assertEquals(ran, 2, "no handler ran twice");
  assertEquals(channel.answeredFromMemory, 2);
  const [plainAnswer, , sealedAnswer] = broker.published as Array<
    { body: string; properties: { headers: Record<string, unknown> } }
  >;
  assertEquals(plainAnswer!.properties.headers.trace_id, "trace-1");
  assertEquals(plainAnswer!.properties.headers.encrypted, "");
  assertEquals(sealedAnswer!.properties.headers.encrypted, "yes");
  assertEquals(channel.requestsRemembered, 0);
  await peer.close();
});

Deno.test("nuropb: two callers' calls with one correlation id are two calls, each remembered for its own copies", async () => {
  const broker = standIn();
  // Room for two answers: the third call forgets the oldest.
  const channel = await serviceChannel(broker, undefined, 2);
  const ran: string[] = [];
  const peer = new Peer(channel, {
    logger: silentLogger,
    handlers: {
      echo: (_params: unknown, ctx) => {
        const user = (ctx.meta as { context: { user: string } }).context.user;
        ran.push(user);
        return `ran for ${user}`;
      },
    },
  });
  const answered = (n: number) =>
    waitFor(() => broker.ops.acks === n, { timeout: 10_000, message: `${n} acked` });
  const fromX = request("same", { user: "x" }, "trace-x", "nuropb-x-rq");
  const fromY = request("same", { user: "y" }, "trace-y", "nuropb-y-rq");
  broker.deliver(fromX);
  await answered(1);
  // Another caller's call with the same id runs, and gets its own answer.
  broker.deliver(fromY);
  await answered(2);
  assertEquals(ran, ["x", "y"]);
  const [toX, toY] = broker.published;
  assertEquals([toX!.routingKey, toY!.routingKey], ["nuropb-x-rq", "nuropb-y-rq"]);
  assertEquals(JSON.parse(toY!.body).context, { user: "y" });
  // A copy from each gets its own caller's answer again, byte for byte.
  broker.deliver(fromX);
  await answered(3);
  broker.deliver(fromY);
  await answered(4);
  assertEquals(ran, ["x", "y"]);
  assertEquals(broker.published.slice(2), [toX, toY]);
  // A third call forgets the oldest (x's, behind y's under that id): x's copy
  // runs again; y's is still answered from memory.
  broker.deliver(request("other", { user: "z" }, null, "nuropb-x-rq"));
  await answered(5);
  broker.deliver(fromY);
  await answered(6);
  assertEquals(broker.published[5], toY);
  broker.deliver(fromX);
  await answered(7);
  assertEquals(ran, ["x", "y", "z", "x"]);
  assertEquals(channel.requestsRemembered, 0);
  await peer.close();
});

Deno.test("nuropb: past the bytes bound the oldest answer's body goes first; its copy is refused, not run again", async () => {
  const broker = standIn();
  // Room for one answer's body (each is some 180 characters), not two.
  const channel = await serviceChannel(broker, undefined, 100, 250);
  let ran = 0;
  const peer = new Peer(channel, {
    logger: silentLogger,
    handlers: { echo: () => `run ${++ran}` },
  });
  const answered = (n: number) =>
    waitFor(() => broker.ops.acks === n, { timeout: 10_000, message: `${n} acked` });
  const a = request("a", { user: "a" }, "trace-a", "nuropb-a-rq");
  const b = request("b", { user: "b" }, "trace-b", "nuropb-b-rq");
  broker.deliver(a);
  await answered(1);
  broker.deliver(b);
  await answered(2);
  assert(channel.rememberedBytes <= 250, `${channel.rememberedBytes} bytes kept`);
  broker.deliver(b);
  await answered(3);
  assertEquals(broker.published[2], broker.published[1], "b's answer again");
  broker.deliver(a);
  await answered(4);
  assertEquals(ran, 2);
  const refusal = broker.published[3]!;
  assertEquals(refusal.routingKey, "nuropb-a-rq");
  const body = JSON.parse(refusal.body);
  assertEquals([body.correlation_id, body.trace_id, body.error?.error], [
    "a",
    "trace-a",
    "NuropbException",
  ]);
  assertEquals(
    (refusal.properties as { correlationId: string }).correlationId,
    "a",
  );
  await peer.close();
});
