// Messages the broker refuses (basic.nack) go again, each on a fresh
// publishing channel, and the channel renewed for one may be replaced again
// (for another message refused meanwhile) before its wait is over. No such
// message may be left waiting: one published on a channel closed meanwhile
// went nowhere and nothing sent it again (in the cluster test, 1 run in 30
// lost a request so during a quorum queue's election), and a broker may
// leave a publish neither confirmed nor refused (RabbitMQ 3.10 drops some
// refusals from a full queue when publishes come back to back): a command
// then fails with NotDelivered after the mesh's timeout.

import { assertEquals } from "./_assert.ts";
import { adminWith, amqpTest, freshMesh, refusals, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { NotDelivered } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

amqpTest(
  "amqp: commands refused out of step each end with NotDelivered: none waits on a channel closed meanwhile, or for a confirm that never comes",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 2_000 });
    const admin = await adminWith(url, { full: "full" });
    try {
      // One command, then more while its retries wait: their refusals renew
      // the publishing channel while the first one's retry waits for its own.
      const first = client.command("full", "x", { n: 0 });
      const settled = [first.then(() => "sent", (error) => error)];
      for (let n = 1; n <= 3; n++) {
        const before = refusals(logger);
        await waitFor(() => refusals(logger) > before, {
          timeout: 5_000,
          message: "a refusal between two commands",
        });
        const next = client.command("full", "x", { n });
        settled.push(next.then(() => "sent", (error) => error));
      }
      // Each fails after its eighth refusal (about 3.5 s of waits), or 2 s
      // after a publish the broker left unconfirmed: within 10 s.
      const outcomes = await within(Promise.all(settled), 10_000, "every command's end");
      assertEquals(outcomes.map((o) => o instanceof NotDelivered), [true, true, true, true]);
      assertEquals(client.stats().reconnects, 0, "the connection was not dropped for it");
    } finally {
      await admin.channel.queueDelete("full").catch(() => {});
      await admin.connection.close();
      await client.close();
    }
  },
);

amqpTest(
  "amqp: commands refused out of step are all sent again until the broker takes them",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 15_000 });
    // "sink" takes them once the blocker is gone (while both are bound, a
    // publish routed to both is refused).
    const admin = await adminWith(url, { blocker: "full", sink: "plain" }, "sink");
    try {
      const sent: Promise<void>[] = [];
      for (let n = 0; n < 4; n++) {
        const before = refusals(logger);
        sent.push(client.command("sink", "note", { n }));
        await waitFor(() => refusals(logger) > before, {
          timeout: 5_000,
          message: "a refusal before the next command",
        });
      }
      await admin.channel.queueDelete("blocker");
      await within(Promise.all(sent), 10_000, "every command confirmed");
      // Each reached the sink (some more than once: a refused publish still
      // reached the sink while the blocker was bound).
      const seen = new Set<number>();
      for (;;) {
        const message = await admin.channel.basicGet("sink", { noAck: true });
        if (message === null) break;
        seen.add(JSON.parse(message.bodyToString()!).params.n);
      }
      assertEquals([...seen].sort(), [0, 1, 2, 3]);
      assertEquals(client.stats().reconnects, 0);
    } finally {
      await admin.channel.queueDelete("blocker").catch(() => {});
      await admin.channel.queueDelete("sink").catch(() => {});
      await admin.connection.close();
      await client.close();
    }
  },
);

amqpTest(
  "amqp: a request answered while its retry after a refusal waits leaves no timer behind",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const service = await connectMesh(url, { logger, instanceId: "svc" });
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 5_000 });
    // A second queue on the service's key that refuses: the publish is
    // refused, and its copy in the service's queue is answered all the same,
    // once the refusal reached the caller (else the answer can come first, and
    // no retry waits).
    await service.serve("calc", {
      twice: async ({ n }: { n: number }) => {
        await waitFor(() => refusals(logger) > 0, { timeout: 5_000, message: "the refusal" });
        return 2 * n;
      },
    });
    const admin = await adminWith(url, { "calc-blocker": "full" }, "calc");
    try {
      assertEquals(await client.request("calc", "twice", { n: 3 }), 6);
      assertEquals(refusals(logger), 1, "the publish was refused once");
      // The retry's wait (50 ms) would still be pending here: the sanitizer
      // fails this test if it was left behind.
    } finally {
      await admin.channel.queueDelete("calc-blocker").catch(() => {});
      await admin.connection.close();
      await client.close();
      await service.close();
    }
  },
);

stopBrokerAfterAll();
