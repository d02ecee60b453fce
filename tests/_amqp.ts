// Shared set-up for the AMQP test files: one broker per file (see
// _rabbitmq.ts), a vhost per test so tests never see each other's queues,
// and `amqpTest`, which reports a test as skipped, with the reason in its
// name, when there is no broker.

import { type Broker, startBroker } from "./_rabbitmq.ts";

const started = await startBroker();

/** The broker, when there is one. */
export const broker: Broker | undefined = typeof started === "string" ? undefined : started;
/** Why there is no broker. */
export const noBroker: string | undefined = typeof started === "string" ? started : undefined;

let vhosts = 0;

/** A fresh vhost on a private broker (its URL); `/` on an AMQP_URL broker. */
export async function freshMesh(): Promise<string> {
  if (broker === undefined) throw new Error(noBroker);
  if (!broker.private) return broker.url("/");
  const name = `t${++vhosts}`;
  await broker.addVhost(name);
  return broker.url(name);
}

/** A test that needs the broker (and, with `restart`, a private one). */
export function amqpTest(
  name: string,
  fn: () => Promise<void>,
  needs: { restart?: boolean } = {},
): void {
  let why = noBroker;
  if (why === undefined && needs.restart && !broker!.private) {
    why = "AMQP_URL is set: the broker-restart test needs a private node";
  }
  Deno.test({
    name: why === undefined ? name : `${name} (skipped: ${why})`,
    ignore: why !== undefined,
    fn,
  });
}

/** Registered last in a file: stops that file's private broker. */
export function stopBrokerAfterAll(): void {
  Deno.test({
    name: "amqp: the private broker stops",
    ignore: broker === undefined,
    fn: async () => {
      await broker!.stop();
    },
  });
}
