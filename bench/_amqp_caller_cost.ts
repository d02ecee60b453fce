// Our own CPU and allocation per call of a mesh caller, without a broker: a
// Mesh on a stand-in connection whose channel confirms each publish at once
// and answers each request with a nuropb response (made here, the same for
// every case), so what is measured is our caller (Mesh.request, the peer,
// the caller channel, the envelope), not sockets or the client. Cases
// interleave per round. `deno run -A bench/_amqp_caller_cost.ts [rounds] [calls]`;
// with MESH_BEFORE=<another checkout> the case "before" is that checkout's Mesh;
// with MESH_HEAP_PROFILE=<prefix>, each measured loop's sampled heap profile
// (garbage included) goes to <prefix>.<case>.<in flight>.

import { setImmediate } from "node:timers";
import { silentLogger } from "../mod.ts";
import { encodeNuropbResponse } from "../transports/amqp.ts";
import type { Mesh } from "../transports/amqp.ts";
import type { BrokerConnection } from "../transports/amqp/_connection.ts";
import { closedLoop, runRounds } from "./_cpu_alloc.ts";

const rounds = Number(Deno.args[0] ?? 5);
const calls = Number(Deno.args[1] ?? 20_000);

type MeshClass = typeof Mesh;

interface Attachment {
  attach(connection: unknown, generation: number): Promise<void>;
}

/** A Mesh whose broker is a stand-in: `call(n, inFlight)` runs n requests. */
async function caller(MeshOf: MeshClass) {
  let consume: ((message: unknown) => void) | undefined;
  const resolved = Promise.resolve();
  const encoder = new TextEncoder();
  const channel = {
    onReturn: undefined as unknown,
    exchangeDeclare: () => resolved,
    queueDeclare: (name: string) => Promise.resolve({ name }),
    queueBind: () => resolved,
    confirmSelect: () => resolved,
    basicConsume: (_queue: string, _options: unknown, callback: (m: unknown) => void) => {
      consume = callback;
      return resolved;
    },
    basicPublish: (
      _exchange: string,
      _routingKey: string,
      _body: string,
      properties: { correlationId: string; replyTo: string },
    ) => {
      // The answer comes in a later task, as from a socket: setImmediate, since
      // nested zero timeouts are clamped to 4 ms (a call at 1 in flight took
      // ~2 ms, and the CPU per call counted the event loop's idle wake-ups).
      setImmediate(() => {
        const wire = encodeNuropbResponse({
          result: 3,
          error: null,
          correlationId: properties.correlationId,
          traceId: null,
          context: {},
          replyTo: properties.replyTo,
        });
        const body = encoder.encode(wire.body);
        consume!({ properties: wire.properties, body, bodySize: body.length });
      });
      return resolved;
    },
    close: () => resolved,
  };
  const connection = {
    vhost: "/",
    connected: true,
    channel: () => Promise.resolve(channel),
    add: (attachment: Attachment) => attachment.attach(connection, 1),
    remove() {},
    close: () => resolved,
  };
  const mesh = new MeshOf(connection as unknown as BrokerConnection, {
    logger: silentLogger,
    timeout: 30_000,
  });
  await mesh.start();
  const params = { a: 1, b: 2 };
  return {
    /** Runs `n` requests, `inFlight` at a time (closed loop). */
    async call(n: number, inFlight: number): Promise<void> {
      await closedLoop(n, inFlight, () => mesh.request("bench", "add", params));
    },
    close: () => mesh.close(),
  };
}

const here = (await import("../transports/amqp.ts")).Mesh;
const beforeDir = Deno.env.get("MESH_BEFORE");
const before: MeshClass | undefined = beforeDir === undefined
  ? undefined
  : (await import(new URL(`file://${beforeDir}/transports/amqp.ts`).href)).Mesh;

const cases: Record<string, Awaited<ReturnType<typeof caller>>> = {
  mesh: await caller(here),
  ...before && { before: await caller(before) },
};

await runRounds(cases, rounds, calls);
