// Our own CPU and allocation per call of a nuropb service, without a broker:
// the service channel and its Peer fed by a stand-in for the broker's
// channel (deliveries made here, publishes and acks counted and dropped),
// so what is measured is our code alone (envelope, call records, remembered
// answers, the peer), not sockets or the client. A shared machine's noise
// barely touches CPU time per call here; cases interleave per round.
// `deno run -A bench/_amqp_service_cost.ts [rounds] [calls]`; with
// MESH_BEFORE=<another checkout> (e.g. `git archive main | tar -x -C /tmp/b`)
// the case "before" is that checkout's service channel, same run.

import { Peer, silentLogger } from "../mod.ts";
import { encodeNuropbRequest, uuidHex } from "../transports/amqp.ts";
import type { ServiceChannel } from "../transports/amqp/_service.ts";
import type { BrokerConnection } from "../transports/amqp/_connection.ts";
import { runRounds } from "./_cpu_alloc.ts";

const rounds = Number(Deno.args[0] ?? 5);
const calls = Number(Deno.args[1] ?? 20_000);

type ServiceChannelClass = typeof ServiceChannel;

/** A service `add` on a stand-in broker channel; `call(n)` runs n calls, `inFlight` at a time. */
async function service(Channel: ServiceChannelClass, rememberAnswers: number) {
  let consume: ((message: unknown) => void) | undefined;
  let published = 0;
  let wanted = 0;
  let done: (() => void) | undefined;
  const resolved = Promise.resolve();
  const channel = {
    exchangeDeclare: () => resolved,
    queueDeclare: () => Promise.resolve({ name: "nuropb-bench-sq" }),
    queueBind: () => resolved,
    basicQos: () => resolved,
    basicConsume: (_queue: string, _options: unknown, callback: (m: unknown) => void) => {
      consume = callback;
      return resolved;
    },
    basicAck: () => resolved,
    basicReject: () => resolved,
    basicNack: () => resolved,
    basicPublish: () => {
      if (++published === wanted) done?.();
      return resolved;
    },
    close: () => resolved,
  };
  const connection = {
    channel: () => Promise.resolve(channel),
    remove() {},
  } as unknown as BrokerConnection;
  const serviceChannel = new Channel(connection, {
    service: "bench",
    prefetch: 128,
    eventBindings: [],
    keys: undefined,
    logger: silentLogger,
    rememberAnswers,
    rememberAnswerBytes: 16_777_216,
    maxInboxBytes: 67_108_864,
  });
  await serviceChannel.attach(connection, 1);
  const peer = new Peer(serviceChannel, {
    logger: silentLogger,
    timeout: 0,
    handlers: { add: ({ a, b }: { a: number; b: number }) => a + b },
  });
  const replyTo = `nuropb-bench-client-${uuidHex()}-rq`;
  const encoder = new TextEncoder();
  let tag = 0;
  /** One delivery as the client makes it: fresh properties, headers and body bytes. */
  const deliver = () => {
    const wire = encodeNuropbRequest({
      type: "request",
      service: "bench",
      method: "add",
      params: { a: 1, b: 2 },
      correlationId: uuidHex(),
      context: {},
      traceId: null,
      replyTo,
      ttl: 30_000,
    });
    const body = encoder.encode(wire.body);
    consume!({
      properties: wire.properties,
      body,
      bodySize: body.length,
      deliveryTag: ++tag,
      redelivered: false,
    });
  };
  return {
    /** Runs `n` calls, `inFlight` delivered at a time, each batch awaited. */
    async call(n: number, inFlight: number): Promise<void> {
      for (let sent = 0; sent < n; sent += inFlight) {
        const batch = Math.min(inFlight, n - sent);
        const finished = new Promise<void>((resolve) => done = resolve);
        wanted = published + batch;
        for (let i = 0; i < batch; i++) deliver();
        await finished;
      }
    },
    close: () => peer.close(),
  };
}

const here = (await import("../transports/amqp/_service.ts")).ServiceChannel;
const beforeDir = Deno.env.get("MESH_BEFORE");
const before: ServiceChannelClass | undefined = beforeDir === undefined
  ? undefined
  : (await import(new URL(`file://${beforeDir}/transports/amqp/_service.ts`).href)).ServiceChannel;

const cases: Record<string, Awaited<ReturnType<typeof service>>> = {
  mesh: await service(here, 10_000),
  forget: await service(here, 0),
  ...before && {
    before: await service(before, 10_000),
    before_forget: await service(before, 0),
  },
};

await runRounds(cases, rounds, calls);
