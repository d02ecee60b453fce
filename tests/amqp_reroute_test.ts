// After a reconnect, a request no queue took (NO_ROUTE) is sent again for a
// while instead of failing: a restarted broker takes connections before its
// durable queues' bindings are back, and a service declares its queue again
// once it reconnects.

import { assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { amqpTest, broker, freshMesh, stopBrokerAfterAll } from "./_amqp.ts";
import { waitFor } from "./_helpers.ts";
import { connectMesh } from "../transports/amqp.ts";
import { NotDelivered, silentLogger } from "../mod.ts";

amqpTest(
  "amqp: just after a reconnect, a request to a queue not yet there waits for its service instead of failing",
  async () => {
    const url = await freshMesh();
    const vhost = decodeURIComponent(new URL(url).pathname.slice(1)) || "/";
    const client = await connectMesh(url, { logger: silentLogger, reconnectMax: 200 });
    // Before any reconnect, a service nobody serves fails at once.
    await assertRejects(() => client.request("late", "echo", { n: 0 }), NotDelivered);

    await broker!.ctl("close_all_connections", "-p", vhost, "reroute test");
    await waitFor(() => client.stats().reconnects > 0, { timeout: 20_000 });
    const answer = client.request<number>("late", "echo", { n: 1 });
    await waitFor(() => client.stats().rerouted > 0, { timeout: 5_000 });
    const server = await connectMesh(url, { logger: silentLogger });
    await server.serve("late", { echo: ({ n }: { n: number }) => n });
    assertEquals(await answer, 1);
    assertGreater(client.stats().rerouted, 0);
    await client.close();
    await server.close();
  },
);

stopBrokerAfterAll();
