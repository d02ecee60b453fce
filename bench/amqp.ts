// amqp cases: a nuropb mesh request (our service, our caller) against the
// bare AMQP client's own RPC round trip (a consumer that answers to reply_to
// on the default exchange; the caller correlates by correlation id), both on
// the same broker in the same run, TCP no-delay on both. The broker is
// $AMQP_URL or a private node (Debian's rabbitmq-server); without either the
// group reports that it was skipped.

import { AMQPClient } from "@cloudamqp/amqp-client";
import { silentLogger } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";
import { startBroker } from "../tests/_rabbitmq.ts";
import { type BenchResult, measure } from "./_measure.ts";

/** The bare client's RPC: one queue served, replies to an exclusive queue. */
async function bareRpc(url: string) {
  const server = await new AMQPClient(url, undefined, null).connect();
  (server as AMQPClient).socket?.setNoDelay(true);
  const serverChannel = await server.channel();
  await serverChannel.queueDeclare("bare-rpc", { durable: false, autoDelete: true });
  await serverChannel.basicQos(16);
  await serverChannel.basicConsume("bare-rpc", { noAck: false }, async (message) => {
    const { a, b } = JSON.parse(new TextDecoder().decode(message.body!));
    await serverChannel.basicPublish("", message.properties.replyTo!, JSON.stringify(a + b), {
      correlationId: message.properties.correlationId,
    });
    await message.ack();
  });
  const client = await new AMQPClient(url, undefined, null).connect();
  (client as AMQPClient).socket?.setNoDelay(true);
  const channel = await client.channel();
  const { name: replyQueue } = await channel.queueDeclare("", { exclusive: true });
  const pending = new Map<string, (value: unknown) => void>();
  await channel.basicConsume(replyQueue, { noAck: true }, (message) => {
    const resolve = pending.get(message.properties.correlationId!);
    pending.delete(message.properties.correlationId!);
    resolve?.(JSON.parse(new TextDecoder().decode(message.body!)));
  });
  let next = 0;
  return {
    call(params: { a: number; b: number }): Promise<unknown> {
      const id = String(++next);
      const answered = new Promise((resolve) => pending.set(id, resolve));
      channel.basicPublish("", "bare-rpc", JSON.stringify(params), {
        correlationId: id,
        replyTo: replyQueue,
      });
      return answered;
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

export async function amqpCases(): Promise<Record<string, unknown>[]> {
  const broker = await startBroker();
  if (typeof broker === "string") return [{ bench: "amqp", skipped: broker }];
  const url = broker.url("/");
  const results: BenchResult[] = [];
  const params = { a: 1, b: 2 };
  try {
    const bare = await bareRpc(url);
    const server = await connectMesh(url, { logger: silentLogger });
    await server.serve("bench", { add: ({ a, b }) => a + b }, { prefetch: 16 });
    const client = await connectMesh(url, { logger: silentLogger, timeout: 30_000 });
    for (const inFlight of [1, 100]) {
      const bareResult = await measure(
        `amqp bare client RPC, ${inFlight} in flight`,
        () => bare.call(params),
        { inFlight },
      );
      results.push(bareResult);
      const ours = await measure(
        `amqp nuropb mesh request, ${inFlight} in flight`,
        () => client.request("bench", "add", params),
        { inFlight },
      );
      ours.ratio_to_bare = Math.round(ours.calls_per_s / bareResult.calls_per_s * 100) / 100;
      results.push(ours);
    }
    await client.close();
    await server.close();
    await bare.close();
  } finally {
    await broker.stop();
  }
  return results;
}
