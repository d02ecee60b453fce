// Streams over the nuropb mesh when the broker restarts, on a RabbitMQ node
// of this file's own (the other stream tests, in stream_amqp_test.ts, share
// one).

import { assertEquals, assertRejects } from "./_assert.ts";
import { amqpTest, broker, freshMesh, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { ConnectionClosed } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

async function meshes(url: string) {
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  const client = await connectMesh(url, { logger, timeout: 10_000 });
  return {
    servers: [server],
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

amqpTest(
  "stream amqp: the broker restarts: open streams end with ConnectionClosed, handlers' finally runs, and new streams work",
  async () => {
    const url = await freshMesh();
    const { servers: [server], client, close } = await meshes(url);
    const ended = Promise.withResolvers<void>();
    await server!.serve("ticker", {
      async *ticks() {
        try {
          for (let n = 1;; n++) yield n;
        } finally {
          ended.resolve();
        }
      },
      async *count({ to }: { to: number }) {
        for (let n = 1; n <= to; n++) yield n;
      },
    });
    try {
      const stream = client.stream<number>("ticker", "ticks", {}, { credit: 2 });
      assertEquals((await stream.next()).value, 1);
      await broker!.restart();
      await within(
        assertRejects(async () => {
          for (;;) if ((await stream.next()).done) break;
        }, ConnectionClosed),
        30_000,
        "the open stream ends",
      );
      await within(ended.promise, 30_000, "the handler's finally");
      await waitFor(() => client.connected && server!.connected, {
        timeout: 30_000,
        message: "both meshes back",
      });
      const items: number[] = [];
      for await (const n of client.stream<number>("ticker", "count", { to: 3 })) items.push(n);
      assertEquals(items, [1, 2, 3]);
    } finally {
      await close();
    }
  },
  { restart: true },
);

stopBrokerAfterAll();
