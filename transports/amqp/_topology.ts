// nuropb's broker objects: their names, and their declarations with exactly
// nuropb 0.1.8's arguments (declaring an existing exchange or queue with other
// arguments makes the broker close the channel: 406 PRECONDITION_FAILED).

import type { AMQPChannel } from "./_connection.ts";

/** The direct exchange requests and commands are published to. */
export const RPC_EXCHANGE = "nuropb-rpc-exchange";
/** The topic exchange events are published to. */
export const EVENTS_EXCHANGE = "nuropb-events-exchange";
/** The fanout exchange service queues dead-letter to. */
export const DEAD_LETTER_EXCHANGE = "nuropb-dl-exchange";
/** The queue bound to the dead-letter exchange. */
export const DEAD_LETTER_QUEUE = "nuropb-dl-queue";
/**
 * The service queue of `service`: competing consumers, durable.
 *
 * @example A service queue's name
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { serviceQueueName } from "@seed/rpc/amqp";
 * assertEquals(serviceQueueName("orders"), "nuropb-orders-sq");
 * ```
 */
export function serviceQueueName(service: string): string {
  return `nuropb-${service}-sq`;
}

/**
 * The response queue of one instance: where replies to its requests go.
 * A caller that serves nothing is the service `<vhost>-client`.
 *
 * @example A response queue's name
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { responseQueueName } from "@seed/rpc/amqp";
 * assertEquals(responseQueueName("seeds-client", "cli1"), "nuropb-seeds-client-cli1-rq");
 * ```
 */
export function responseQueueName(service: string, instanceId: string): string {
  return `nuropb-${service}-${instanceId}-rq`;
}

/** The exchanges and the dead-letter queue every part of a mesh relies on. */
export async function declareMeshExchanges(channel: AMQPChannel): Promise<void> {
  await channel.exchangeDeclare(DEAD_LETTER_EXCHANGE, "fanout", { durable: true });
  await channel.queueDeclare(DEAD_LETTER_QUEUE, {
    durable: false,
    autoDelete: false,
    exclusive: false,
  });
  await channel.queueBind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE);
  await channel.exchangeDeclare(EVENTS_EXCHANGE, "topic", { durable: true });
  await channel.exchangeDeclare(RPC_EXCHANGE, "direct", { durable: true });
}

/**
 * The kind of a service queue: nuropb's own `"classic"` one, or a
 * `"quorum"` queue, replicated over a cluster's nodes (Raft), that survives
 * the loss of a minority of them.
 */
export type ServiceQueueType = "classic" | "quorum";

/**
 * A service's queue: durable, dead-lettering to the DL exchange, bound to the
 * rpc exchange under the service's name and to the events exchange under
 * each topic pattern. Returns the queue's name. A classic queue is declared
 * with exactly nuropb's arguments; a quorum queue adds `x-queue-type`.
 */
export async function declareServiceQueue(
  channel: AMQPChannel,
  service: string,
  eventBindings: readonly string[],
  queueType: ServiceQueueType = "classic",
): Promise<string> {
  const queue = serviceQueueName(service);
  await channel.queueDeclare(
    queue,
    // A quorum queue is always durable, never exclusive or auto-deleted.
    { durable: true, autoDelete: false, exclusive: false },
    queueType === "quorum"
      ? { "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-queue-type": "quorum" }
      : { "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE },
  );
  await channel.queueBind(queue, RPC_EXCHANGE, service);
  for (const pattern of eventBindings) await channel.queueBind(queue, EVENTS_EXCHANGE, pattern);
  return queue;
}

/** A subscriber's own queue: server-named, exclusive, gone with the connection. */
export async function declarePrivateEventQueue(
  channel: AMQPChannel,
  eventBindings: readonly string[],
): Promise<string> {
  const { name } = await channel.queueDeclare("", {
    durable: false,
    autoDelete: true,
    exclusive: true,
  });
  for (const pattern of eventBindings) await channel.queueBind(name, EVENTS_EXCHANGE, pattern);
  return name;
}
