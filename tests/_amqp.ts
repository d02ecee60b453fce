// Shared set-up for the AMQP test files: one broker per file, or one node
// shared by the files under scripts/check_all.ts (see _rabbitmq.ts), a vhost
// per test so tests never see each other's queues, and `amqpTest`, which reports a test as skipped, with the reason in its
// name, when there is no broker.

import { type Broker, startBroker } from "./_rabbitmq.ts";
import { type RecordingLogger, waitFor } from "./_helpers.ts";

const started = await startBroker();

/** The broker, when there is one. */
export const broker: Broker | undefined = typeof started === "string" ? undefined : started;
/** Why there is no broker. */
export const noBroker: string | undefined = typeof started === "string" ? started : undefined;

// Vhosts are made a few at a time (one erl_call per batch, or without it one
// rabbitmqctl run, which takes a second or so; the batches grow), named after
// this process so files that share a node never meet.
const spare: string[] = [];
let made = 0;
let making: Promise<void> | undefined;

/** A fresh vhost on a private or shared node (its URL); `/` on an AMQP_URL broker. */
export async function freshMesh(): Promise<string> {
  if (broker === undefined) throw new Error(noBroker);
  if (!broker.controlled) return broker.url("/");
  while (spare.length === 0) {
    making ??= (async () => {
      const names = Array.from(
        { length: Math.min(16, Math.max(4, made)) },
        () => `p${Deno.pid}t${++made}`,
      );
      await broker.addVhosts(names);
      spare.push(...names);
    })().finally(() => making = undefined);
    await making;
  }
  return broker.url(spare.shift()!);
}

/** A test that needs the broker (and, with `restart`, a private one). */
export function amqpTest(
  name: string,
  fn: () => Promise<void>,
  needs: { restart?: boolean } = {},
): void {
  let why = noBroker;
  if (why === undefined && needs.restart && !broker!.private) {
    why =
      "the broker is not this file's own (AMQP_URL or a shared node): the broker-restart test needs a private node";
  }
  Deno.test({
    name: why === undefined ? name : `${name} (skipped: ${why})`,
    ignore: why !== undefined,
    fn,
  });
}

/** Registered last in a file: stops that file's private broker (a shared one stays up). */
export function stopBrokerAfterAll(): void {
  Deno.test({
    name: "amqp: the private broker stops",
    ignore: broker === undefined,
    fn: async () => {
      await broker!.stop();
    },
  });
}

/**
 * An admin connection with `queues` declared and bound to the rpc exchange,
 * each under its own name or under `key` when given; `full` ones refuse
 * every publish (basic.nack: `x-max-length` 0, `reject-publish`).
 */
export async function adminWith(
  url: string,
  queues: Record<string, "full" | "plain">,
  key?: string,
) {
  const { AMQPClient } = await import("@cloudamqp/amqp-client");
  const connection = await new AMQPClient(url, undefined, null).connect();
  const channel = await connection.channel();
  for (const [name, kind] of Object.entries(queues)) {
    await channel.queueDeclare(
      name,
      { durable: false, autoDelete: false, exclusive: false },
      kind === "full" ? { "x-max-length": 0, "x-overflow": "reject-publish" } : {},
    );
    await channel.queueBind(name, "nuropb-rpc-exchange", key ?? name);
  }
  return { connection, channel };
}

/** Refusals the mesh caller logged so far (each publish the broker refused, sent again). */
export function refusals(logger: RecordingLogger): number {
  return logger.messages("warn").filter((line) => line.includes("refused a message")).length;
}

/**
 * Publishes raw bytes to the rpc exchange (what a broken or hostile client
 * would send); with `frameMax`, it negotiates frames that large.
 */
export async function rawPublisher(url: string, frameMax?: number) {
  const { AMQPClient } = await import("@cloudamqp/amqp-client");
  const address = new URL(url);
  if (frameMax !== undefined) address.searchParams.set("frameMax", String(frameMax));
  const client = new AMQPClient(address.href, undefined, null);
  const connection = await client.connect();
  const channel = await connection.channel();
  const decoder = new TextDecoder();
  return {
    publish: async (
      body: string | Uint8Array,
      properties: object,
      exchange = "nuropb-rpc-exchange",
      routingKey = "calc",
    ) => {
      await channel.basicPublish(exchange, routingKey, body, properties as never);
    },
    /**
     * Declares `queue` and collects what arrives on it (the body only of
     * those `keep` accepts: "" for the others, so a test's memory stays flat).
     */
    collect: async (queue: string, keep: (correlationId: string) => boolean = () => true) => {
      const got: Array<{ correlationId?: string; body: string; headers: unknown }> = [];
      await channel.queueDeclare(queue, { durable: false, autoDelete: true, exclusive: false });
      await channel.basicConsume(queue, { noAck: true }, (m) => {
        const correlationId = m.properties.correlationId;
        got.push({
          correlationId,
          body: keep(correlationId ?? "") ? decoder.decode(m.body!) : "",
          headers: m.properties.headers,
        });
      });
      return got;
    },
    /** Copies of what is published to `exchange` under `key`. */
    tap: async (exchange: string, key: string) => {
      const got: Array<{ body: string; headers: Record<string, unknown> }> = [];
      const { name } = await channel.queueDeclare("", { exclusive: true, autoDelete: true });
      await channel.queueBind(name, exchange, key);
      await channel.basicConsume(name, { noAck: true }, (m) => {
        got.push({
          body: decoder.decode(m.body!),
          headers: m.properties.headers as Record<string, unknown>,
        });
      });
      return got;
    },
    count: async (queue: string) =>
      (await channel.queueDeclare(queue, { passive: true })).messageCount,
    /**
     * The messages in `queue` once there are at least `n` (the broker routes
     * a rejected message to its dead-letter queue a moment after the reject).
     */
    countAtLeast: async (queue: string, n: number) => {
      let count = 0;
      await waitFor(async () => {
        count = (await channel.queueDeclare(queue, { passive: true })).messageCount;
        return count >= n;
      }, { timeout: 10_000, message: `${n} messages in ${queue}` });
      return count;
    },
    close: () => connection.close(),
  };
}
