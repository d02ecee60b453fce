// Review of the caller's handling of refused and unconfirmed publishes
// (publisher confirms): a command the broker leaves unconfirmed fails after
// the mesh's timeout, and is never sent twice for it; it waits while the
// connection is down; a replaced publishing channel stays open until what
// was published on it is confirmed, then closes.
//
// A publish is held unconfirmed deterministically by suspending its queue's
// process on the node (sys:suspend): the channel hands the message over, and
// the confirm waits until the queue runs again.

import { assert, assertEquals, assertInstanceOf } from "./_assert.ts";
import { adminWith, amqpTest, broker, freshMesh, refusals, stopBrokerAfterAll } from "./_amqp.ts";
import { erlBinary } from "./_rabbitmq.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { TcpRelay } from "./_tcp_relay.ts";
import { ConnectionClosed, NotDelivered } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

const vhostOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** Suspends or resumes the process of `queue` in `vhost` (a classic queue). */
async function queueProcess(vhost: string, queue: string, action: "suspend" | "resume") {
  await broker!.ctl(
    "eval",
    `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(${erlBinary(vhost)}, queue, ${
      erlBinary(queue)
    })), ok = sys:${action}(amqqueue:get_pid(Q)).`,
  );
}

/** Open channels of `vhost` on the node. */
async function channelsOf(vhost: string): Promise<number> {
  const out = await broker!.ctl("list_channels", "vhost", "--no-table-headers", "--quiet");
  return out.split("\n").filter((line) => line.trim() === vhost).length;
}

amqpTest(
  "amqp: a command the broker leaves unconfirmed fails with NotDelivered after the mesh's timeout, and goes out once",
  async () => {
    const url = await freshMesh();
    const vhost = vhostOf(url);
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 1_500 });
    const admin = await adminWith(url, { held: "plain" });
    let resumed = false;
    try {
      await queueProcess(vhost, "held", "suspend");
      const started = performance.now();
      const error = await within(
        client.command("held", "x", { n: 1 }).then(() => undefined, (e) => e),
        10_000,
        "the command's end",
      );
      const took = performance.now() - started;
      assertInstanceOf(error, NotDelivered);
      assert(took >= 1_400, `it waited for the timeout, not ${took} ms`);
      await queueProcess(vhost, "held", "resume");
      resumed = true;
      // The one copy reaches the queue; nothing sent it again.
      assertEquals(
        await admin.channel.queueDeclare("held", { passive: true }).then((q) => q.messageCount),
        1,
      );
      assertEquals(client.stats().reconnects, 0);
      assert(logger.messages("warn").some((l) => l.includes("neither confirmed nor refused")));
    } finally {
      if (!resumed) await queueProcess(vhost, "held", "resume").catch(() => {});
      await admin.channel.queueDelete("held").catch(() => {});
      await admin.connection.close();
      await client.close();
    }
  },
);

amqpTest(
  "amqp: a replaced publishing channel stays open until what went out on it is confirmed, then closes",
  async () => {
    const url = await freshMesh();
    const vhost = vhostOf(url);
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 30_000 });
    const admin = await adminWith(url, { full: "full", held: "plain" });
    let resumed = false;
    try {
      const baseline = await channelsOf(vhost); // the client's consuming channel, the admin's
      await queueProcess(vhost, "held", "suspend");
      // Refused on the consuming channel, then on the publishing channel
      // that replaced it, and so on: each refusal replaces the publisher.
      const refused = client.command("full", "x", {}).then(() => "sent", (e) => e);
      await waitFor(() => refusals(logger) >= 2, { message: "a refusal on a publishing channel" });
      // A command held unconfirmed on the publishing channel of the moment,
      // which the next refusal replaces.
      const before = refusals(logger);
      const held = client.command("held", "x", { n: 1 });
      let heldDone = false;
      held.then(() => heldDone = true, () => heldDone = true);
      await waitFor(() => refusals(logger) > before + 1, { message: "two more refusals" });
      assertInstanceOf(await within(refused, 10_000, "the refused command's end"), NotDelivered);
      // Open: the consuming channel, the newest publisher, the one holding
      // `held` (every other replaced one closed at once, drained).
      await waitFor(async () => (await channelsOf(vhost)) === baseline + 2, {
        timeout: 10_000,
        message: "two publishing channels open",
      });
      assert(!heldDone, "the held command is still waiting for its confirm");
      await queueProcess(vhost, "held", "resume");
      resumed = true;
      await within(held, 10_000, "the held command's confirm");
      await waitFor(async () => (await channelsOf(vhost)) === baseline + 1, {
        timeout: 10_000,
        message: "the drained publisher closed",
      });
      assertEquals(
        (await admin.channel.queueDeclare("held", { passive: true })).messageCount,
        1,
        "the held command went out once",
      );
      assertEquals(client.stats().reconnects, 0);
    } finally {
      if (!resumed) await queueProcess(vhost, "held", "resume").catch(() => {});
      await admin.channel.queueDelete("held").catch(() => {});
      await admin.channel.queueDelete("full").catch(() => {});
      await admin.connection.close();
      await client.close();
    }
  },
);

amqpTest(
  "amqp: a replaced publishing channel whose last unconfirmed publish was a stream's ping closes once that is confirmed",
  async () => {
    const url = await freshMesh();
    const vhost = vhostOf(url);
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger, instanceId: "svc" });
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 30_000 });
    const release = Promise.withResolvers<void>();
    await server.serve("counter", {
      async *hang() {
        yield 1;
        await release.promise;
      },
    });
    const admin = await adminWith(url, { full: "full" });
    let control: string | undefined;
    try {
      // A stream held open: the caller pings its instance's control queue
      // every second, on its publishing channel of the moment.
      const stream = client.stream<number>("counter", "hang");
      assertEquals((await stream.next()).value, 1);
      const queues = await broker!.ctl("list_queues", "-p", vhost, "name", "--no-table-headers");
      control = queues.split("\n").map((line) => line.trim()).find((n) => n.startsWith("amq.gen-"));
      assert(control !== undefined, `the instance's control queue among ${queues}`);
      const baseline = await channelsOf(vhost);
      // Pings stay unconfirmed while the control queue is suspended; the
      // refusals of a command replace the publisher seven times in 3.5 s.
      await queueProcess(vhost, control, "suspend");
      const refused = client.command("full", "x", {}).then(() => "sent", (e) => e);
      assertInstanceOf(await within(refused, 15_000, "the refused command's end"), NotDelivered);
      await queueProcess(vhost, control, "resume");
      control = undefined;
      // Every replaced publisher is drained now: only the newest stays.
      let open = 0;
      await waitFor(async () => (open = await channelsOf(vhost)) === baseline + 1, {
        timeout: 10_000,
        message: `${baseline + 1} channels open (the newest publisher beside the rest)`,
      }).catch((error) => {
        throw new Error(`${error.message}: ${open}`);
      });
      release.resolve();
      assertEquals((await stream.next()).done, true);
    } finally {
      release.resolve();
      if (control !== undefined) await queueProcess(vhost, control, "resume").catch(() => {});
      await admin.channel.queueDelete("full").catch(() => {});
      await admin.connection.close();
      await client.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a command unconfirmed when the connection drops is not failed while the broker is away, and is confirmed once back",
  async () => {
    const url = await freshMesh();
    const vhost = vhostOf(url);
    // The mesh reaches the broker through a relay the test cuts at once.
    const relay = new TcpRelay(Number(new URL(url).port));
    const logger = recordingLogger();
    const client = await connectMesh(relay.via(url), {
      logger,
      instanceId: "cli1",
      timeout: 4_000,
    });
    const admin = await adminWith(url, { held: "plain" });
    await admin.connection.close();
    let suspended = false;
    try {
      await queueProcess(vhost, "held", "suspend");
      suspended = true;
      const publishedAt = performance.now();
      const before = relay.sent;
      let outcome: unknown = "waiting";
      const sent = client.command("held", "x", { n: 1 }).then(
        () => outcome = "confirmed",
        (error) => outcome = error,
      );
      // The publish went out (a method, a header and a body frame: over 100 bytes).
      await waitFor(() => relay.sent - before > 100, { message: "the publish relayed" });
      // The connection drops, and no new one is taken for a while.
      relay.refuse(true);
      relay.cut();
      await waitFor(() => logger.messages("warn").some((l) => l.includes("lost the broker")), {
        message: "the connection lost",
      });
      assert(
        performance.now() - publishedAt < 4_000,
        "the connection dropped before the command's timeout (else this test proves nothing)",
      );
      // Twice its timeout after the publish (the sweep runs every second): it waits.
      await waitFor(() => performance.now() - publishedAt > 8_000, {
        timeout: 9_000,
        interval: 100,
      });
      assertEquals(outcome, "waiting", "no confirm can come while the connection is down");
      await queueProcess(vhost, "held", "resume");
      suspended = false;
      relay.refuse(false);
      await within(sent, 20_000, "the command's end after the reconnect");
      assertEquals(outcome, "confirmed");
      assertEquals(client.stats().reconnects, 1);
    } finally {
      if (suspended) await queueProcess(vhost, "held", "resume").catch(() => {});
      relay.refuse(false);
      await client.close();
      await relay.close();
    }
  },
);

amqpTest(
  "amqp: commands whose retries wait across a reconnect leave no timer behind once the mesh closes",
  async () => {
    const url = await freshMesh();
    const vhost = vhostOf(url);
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 2_000 });
    const admin = await adminWith(url, { full: "full" });
    await admin.connection.close();
    // Six commands a refusal apart: their retries wait 50 ms to 1 s each, out
    // of step, so some still wait when the connection comes back. attach
    // sends those again at once; their old wait must not outlive close().
    const pending = new Set<number>();
    const outcomes: Promise<unknown>[] = [];
    for (let n = 0; n < 6; n++) {
      const before = refusals(logger);
      pending.add(n);
      outcomes.push(
        client.command("full", "x", { n }).then(() => "sent", (e) => e).finally(() =>
          pending.delete(n)
        ),
      );
      await waitFor(() => refusals(logger) > before, { message: `a refusal of command ${n}` });
    }
    try {
      await broker!.ctl("close_all_connections", "--vhost", vhost, "review31");
      await waitFor(() => client.stats().reconnects === 1, { message: "the reconnect" });
      // A command still waiting goes again at once, and is refused again
      // (RabbitMQ 3.10 leaves some of those refusals unsent: such a command
      // fails 2 s later, the mesh's timeout).
      const before = refusals(logger);
      await waitFor(() => refusals(logger) > before || pending.size === 0, {
        message: "a refusal after the reconnect",
      });
    } finally {
      await client.close();
    }
    for (const outcome of await Promise.all(outcomes)) {
      assert(outcome instanceof NotDelivered || outcome instanceof ConnectionClosed, `${outcome}`);
    }
    // The sanitizers fail this test if a retry's timer outlived close().
  },
);

stopBrokerAfterAll();
