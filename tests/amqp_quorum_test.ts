// A service on a quorum queue (`queueType: "quorum"`) on one RabbitMQ node:
// its channel confirms replies and acks a request only after its reply's
// confirm (transports/amqp/_service.ts), so requests, commands, progress and
// stream items must all still flow, in order, and nothing stays unacked.
// The node-loss case is tests/amqp_cluster_test.ts.

import { assertEquals } from "./_assert.ts";
import { amqpTest, freshMesh, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import type { CallContext } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

amqpTest(
  "amqp quorum service: requests beyond the prefetch, commands, progress and a stream under credit all flow (each ack waits for its reply's confirm)",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    const client = await connectMesh(url, { logger, timeout: 10_000 });
    const noted: number[] = [];
    try {
      await server.serve("q", {
        twice: ({ n }: { n: number }) => 2 * n,
        note: ({ k }: { k: number }) => void noted.push(k),
        async build(_params: unknown, ctx: CallContext) {
          await ctx.progress(0.5);
          return "built";
        },
        async *count({ to }: { to: number }) {
          for (let i = 1; i <= to; i++) yield i;
          return "done";
        },
      }, { queueType: "quorum", prefetch: 4 });
      // More calls at once than the prefetch: each later one waits for an ack,
      // which waits for a confirm.
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, n) => client.request<number>("q", "twice", { n })),
      );
      assertEquals(answers, Array.from({ length: 40 }, (_, n) => 2 * n));
      for (let k = 0; k < 5; k++) await client.command("q", "note", { k });
      await waitFor(() => noted.length === 5, { message: "the five commands handled" });
      assertEquals(noted, [0, 1, 2, 3, 4]);
      const steps: unknown[] = [];
      assertEquals(
        await client.request("q", "build", {}, { onProgress: (value) => steps.push(value) }),
        "built",
      );
      assertEquals(steps, [0.5]);
      const stream = client.stream<number>("q", "count", { to: 30 }, { credit: 4 });
      const items: number[] = [];
      let next = await stream.next();
      while (!next.done) {
        items.push(next.value);
        next = await stream.next();
      }
      assertEquals([items, next.value], [Array.from({ length: 30 }, (_, i) => i + 1), "done"]);
      assertEquals(client.stats().pendingCalls, 0);
    } finally {
      await client.close();
      await server.close();
    }
  },
);

stopBrokerAfterAll();
