// Review of issue 21's mesh changes: a publish the broker refuses for good
// (a queue that is full, `x-overflow: reject-publish`) is not a node's loss.

import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { amqpTest, freshMesh, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger } from "./_helpers.ts";
import { NotDelivered } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

// KNOWN BUG (review21, finding 1): since 46881d0/5021324 a refused publish
// drops the whole mesh connection and resends it, four times, before the
// call fails: every service on the mesh loses its channel, its unacked
// deliveries and its streams each time. Ignored until fixed (set FIXED to
// true to see it fail); in CI the skip counts as a failure.
const FIXED = false;

const name = "amqp: a full queue's refusal fails the call at once, without dropping the connection";
if (FIXED) amqpTest(name, fullQueue);
else Deno.test({ name: `${name} (known bug, ignored)`, ignore: true, fn: fullQueue });

async function fullQueue(): Promise<void> {
  const url = await freshMesh();
  const logger = recordingLogger();
  const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 5_000 });
  const { AMQPClient } = await import("@cloudamqp/amqp-client");
  const admin = new AMQPClient(url, undefined, null);
  const connection = await admin.connect();
  try {
    const channel = await connection.channel();
    // A queue an operator capped: every publish to it is refused (basic.nack).
    await channel.queueDeclare("full", { durable: false, autoDelete: false, exclusive: false }, {
      "x-max-length": 0,
      "x-overflow": "reject-publish",
    });
    await channel.queueBind("full", "nuropb-rpc-exchange", "full");
    const started = performance.now();
    const refused = await assertRejects(() => client.command("full", "x", {}), NotDelivered);
    assertEquals(refused.to, "full");
    assert(performance.now() - started < 1_000, "the refusal comes back at once");
    assertEquals(client.stats().reconnects, 0, "the connection was not dropped for it");
    await channel.queueDelete("full");
  } finally {
    await connection.close();
    await client.close();
  }
}

stopBrokerAfterAll();
