// The nuropb mesh on a real RabbitMQ: calls, commands, events, describe,
// errors, timeouts and poison messages.

import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";
import { CallTimeout, ConnectionClosed, type Handler, NotDelivered, RemoteError } from "../mod.ts";
import { connectMesh, NuropbKeyPair } from "../transports/amqp.ts";
import { main } from "../cli.ts";
import { defineContract } from "../contract.ts";

async function pair(url: string, handlers: Record<string, Handler>) {
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger, instanceId: "svc1" });
  const service = await server.serve("calc", handlers);
  const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 5_000 });
  return {
    server,
    service,
    client,
    logger,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

amqpTest("amqp: a request is answered, with context and trace id", async () => {
  const url = await freshMesh();
  const { client, close } = await pair(url, {
    add: ({ a, b }) => a + b,
    whoami: (_params, ctx) => ({ context: ctx.meta.context, traceId: ctx.meta.traceId }),
  });
  try {
    assertEquals(await client.request("calc", "add", { a: 2, b: 3 }), 5);
    assertEquals(
      await client.request("calc", "whoami", {}, { context: { user: "u1" }, traceId: "t-1" }),
      { context: { user: "u1" }, traceId: "t-1" },
    );
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.request("calc", "add", { a: i, b: 1 })),
    );
    assertEquals(many, Array.from({ length: 50 }, (_, i) => i + 1));
  } finally {
    await close();
  }
});

amqpTest("amqp: errors come back with nuropb's names; unknown services fail at once", async () => {
  const url = await freshMesh();
  const { client, close } = await pair(url, {
    boom: () => {
      throw new Error("kaboom");
    },
  });
  try {
    const unknown = await assertRejects(() => client.request("calc", "nope", {}), RemoteError);
    assertEquals(unknown.data, {
      error: "NuropbHandlingError",
      description: "Unknown method nope",
    });
    const boom = await assertRejects(() => client.request("calc", "boom", {}), RemoteError);
    assertEquals(boom.data, {
      error: "NuropbException",
      description: "Runtime exception calling calc.boom:Error: kaboom",
    });
    const started = performance.now();
    const ghost = await assertRejects(() => client.request("ghost", "x", {}), NotDelivered);
    assertEquals(ghost.to, "ghost");
    assert(performance.now() - started < 2_000, "a return comes back at once");
    await assertRejects(() => client.command("ghost", "x", {}), NotDelivered);
  } finally {
    await close();
  }
});

amqpTest("amqp: commands run once and are not answered", async () => {
  const url = await freshMesh();
  const ran = deferred<unknown>();
  const { client, close } = await pair(url, { log: (params) => void ran.resolve(params) });
  try {
    await client.command("calc", "log", { line: "hello" });
    assertEquals(await within(ran.promise, 10_000, "the command"), { line: "hello" });
    assertEquals(client.stats().pendingCalls, 0);
  } finally {
    await close();
  }
});

amqpTest("amqp: events reach service bindings and subscribers by topic pattern", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  const serviceGot = deferred<unknown>();
  await server.serve("orders", {}, {
    events: { "orders.*": (event, ctx) => void serviceGot.resolve({ event, topic: ctx.topic }) },
  });
  const listener = await connectMesh(url, { logger });
  const heard: string[] = [];
  const both = deferred();
  await listener.subscribe("orders.#", (_event, ctx) => {
    heard.push(ctx.topic);
    if (heard.length === 2) both.resolve();
  });
  const publisher = await connectMesh(url, { logger });
  try {
    await publisher.publish("orders.created", { id: 7 }, { traceId: "t" });
    await publisher.publish("orders.eu.shipped", { id: 7 });
    await publisher.publish("invoices.created", { id: 1 });
    assertEquals(await within(serviceGot.promise, 10_000, "the service's event"), {
      event: { id: 7 },
      topic: "orders.created",
    });
    await within(both.promise, 10_000, "both events at the subscriber");
    assertEquals(heard.sort(), ["orders.created", "orders.eu.shipped"]);
  } finally {
    await publisher.close();
    await listener.close();
    await server.close();
  }
});

amqpTest("amqp: describe answers from the contract's schemas", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  await server.serve("calc", { add: ({ a, b }) => a + b }, {
    description: "Adds",
    version: "1.0.0",
    contract: {
      incoming: {
        add: {
          description: "a + b",
          params: {
            type: "object",
            properties: { a: { type: "integer" }, b: { type: "number", default: 0 } },
            required: ["a"],
          },
        },
      },
    },
  });
  const client = await connectMesh(url, { logger });
  try {
    assertEquals(await client.describe("calc"), {
      service_name: "calc",
      service_version: "1.0.0",
      description: "Adds",
      warnings: [],
      encrypted_methods: false,
      public_key: null,
      methods: {
        add: {
          description: "a + b",
          requires_encryption: false,
          parameters: {
            type: "object",
            properties: [
              ["a", { type: "int", description: "", default: "" }],
              ["b", { type: "float", description: "", default: 0 }],
            ],
            required: ["a"],
          },
        },
      },
    });
  } finally {
    await client.close();
    await server.close();
  }
});

amqpTest(
  "amqp: a contract validates params and results; the caller gets NuropbValidationError",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    const Calc = defineContract({
      name: "calc",
      incoming: {
        add: {
          params: {
            type: "object",
            properties: { a: { type: "number" }, b: { type: "number" } },
            required: ["a", "b"],
          },
          result: { type: "number" },
        },
        bad: { result: { type: "number" } },
      },
    }, { logger });
    let ran = 0;
    await server.serve("calc", {
      add: ({ a, b }) => {
        ran++;
        return a + b;
      },
      bad: () => "not a number",
    }, { contract: Calc });
    const client = await connectMesh(url, { logger });
    try {
      assertEquals(await client.request("calc", "add", { a: 2, b: 3 }), 5);
      const invalid = await assertRejects(
        () => client.request("calc", "add", { a: "x", b: 3 }),
        RemoteError,
      );
      assertEquals((invalid.data as { error: string }).error, "NuropbValidationError");
      assertStringIncludes((invalid.data as { description: string }).description, "/a");
      assertEquals(invalid.code, -32602);
      assertEquals(ran, 1, "the handler never saw the bad params");
      const bad = await assertRejects(() => client.request("calc", "bad", {}), RemoteError);
      assertEquals((bad.data as { error: string }).error, "NuropbException");
      assertEquals(
        logger.messages("error").filter((line) => line.includes("breaks its schema")).length,
        1,
      );
      // Described from the same contract.
      assertEquals(Object.keys((await client.describe("calc")).methods).sort(), ["add", "bad"]);
    } finally {
      await client.close();
      await server.close();
    }
  },
);

amqpTest("amqp: timeouts, aborts, and a ttl that runs out in the queue", async () => {
  const url = await freshMesh();
  const release = deferred();
  const { client, server, close } = await pair(url, {
    slow: async () => {
      await release.promise;
      return "late";
    },
  });
  try {
    await assertRejects(() => client.request("calc", "slow", {}, { timeout: 100 }), CallTimeout);
    const controller = new AbortController();
    const aborted = client.request("calc", "slow", {}, { signal: controller.signal });
    controller.abort(new Error("stop"));
    await assertRejects(() => aborted, Error, "stop");
    release.resolve();
    // The late replies arrive and are dropped, counted.
    await waitFor(() => client.stats().lateReplies >= 2, {
      timeout: 10_000,
      message: "both late replies",
    });
    assertEquals(client.stats().lateReplies, 2);
    assertEquals(client.stats().pendingCalls, 0);
    // A ttl: with the service gone, the request expires in the queue.
    await server.close();
    const started = performance.now();
    await assertRejects(() => client.request("calc", "slow", {}, { ttl: 300 }), CallTimeout);
    assert(performance.now() - started < 2_000);
  } finally {
    await close();
  }
});

amqpTest(
  "amqp: poison messages are dead-lettered with a log line, and service goes on",
  async () => {
    const url = await freshMesh();
    const { client, server, logger, close } = await pair(url, { add: ({ a, b }) => a + b });
    const raw = await rawPublisher(url);
    try {
      const headers = {
        nuropb_protocol: "0.1.1",
        nuropb_type: "request",
        trace_id: null,
        encrypted: "",
      };
      await raw.publish("not json", { headers, correlationId: "p1", replyTo: "nowhere" });
      await raw.publish('{"method": "add"}', { correlationId: "p2", replyTo: "nowhere" });
      await raw.publish('{"method": "add", "params": {}}', {
        headers: { ...headers, nuropb_protocol: "9.9" },
        correlationId: "p3",
        replyTo: "nowhere",
      });
      assertEquals(await client.request("calc", "add", { a: 1, b: 1 }), 2);
      await waitFor(() => server.stats().services.calc!.deadLettered >= 3, {
        timeout: 10_000,
        message: "three dead letters",
      });
      assertEquals(server.stats().services.calc!.deadLettered, 3);
      const lines = logger.messages("warn").filter((line) => line.includes("dead-lettered"));
      assertEquals(lines.length, 3);
      assertStringIncludes(lines.join("\n"), "not JSON");
      assertStringIncludes(lines.join("\n"), "no headers");
      assertStringIncludes(lines.join("\n"), "unsupported nuropb_protocol");
      assertEquals(await raw.countAtLeast("nuropb-dl-queue", 3), 3);
    } finally {
      await raw.close();
      await close();
    }
  },
);

amqpTest("amqp: a closed mesh fails its calls and its connection is gone", async () => {
  const url = await freshMesh();
  const client = await connectMesh(url, { logger: recordingLogger() });
  await client.close();
  await assertRejects(() => client.request("calc", "add", {}), ConnectionClosed);
  const refused = await assertRejects(
    () => connectMesh(url.replace("guest:guest", "guest:wrong"), { logger: recordingLogger() }),
    Error,
  );
  assertStringIncludes(refused.message, "ACCESS_REFUSED");
});

amqpTest("amqp: Python nuropb's captured requests get one byte-exact answer each", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  await server.serve("ts-svc", {
    add: ({ a, b }) => a + b,
    boom: () => {
      throw new Error("kaboom");
    },
    log: () => {},
  });
  const raw = await rawPublisher(url);
  const captured: Array<{
    origin: string;
    exchange: string;
    routing_key: string;
    properties: Record<string, unknown> & { headers: Record<string, unknown> };
    body: string;
  }> = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/nuropb/python_wire.json", import.meta.url)),
  );
  const requests = captured.filter((c) =>
    c.origin === "python client" && c.routing_key === "ts-svc" &&
    c.properties.headers.nuropb_type === "request" && !c.body.includes("nuropb_describe")
  );
  const replyQueue = requests[0]!.properties.reply_to as string;
  const replies = await raw.collect(replyQueue);
  try {
    for (const request of requests) {
      await raw.publish(
        request.body,
        {
          correlationId: request.properties.correlation_id,
          replyTo: request.properties.reply_to,
          expiration: request.properties.expiration,
          headers: request.properties.headers,
          contentType: "application/json",
        },
        request.exchange,
        request.routing_key,
      );
    }
    await waitFor(() => replies.length >= requests.length, {
      timeout: 10_000,
      message: "an answer to every request",
    });
    // A second answer (nuropb sends two per failure) would go out on the
    // service's channel right after the first, so before the answer to a
    // request sent now: once that one is here, every second answer would be.
    const sentinel = requests[0]!;
    await raw.publish(
      sentinel.body,
      {
        correlationId: "sentinel",
        replyTo: sentinel.properties.reply_to,
        headers: sentinel.properties.headers,
        contentType: "application/json",
      },
      sentinel.exchange,
      sentinel.routing_key,
    );
    await waitFor(() => replies.some((r) => r.correlationId === "sentinel"), {
      timeout: 10_000,
      message: "the answer to a later request",
    });
    replies.splice(replies.findIndex((r) => r.correlationId === "sentinel"), 1);
    assertEquals(replies.length, requests.length, "one answer per request");
    const [add, boom, nope] = requests.map((r) => r.properties.correlation_id as string);
    const byId = new Map(replies.map((r) => [r.correlationId, r]));
    assertEquals(
      byId.get(add)!.body,
      `{"tag": "response", "result": 5, "error": null, "correlation_id": "${add}", "trace_id": "trace-add", "context": {"user": "u1", "Authorization": "Bearer x"}, "warning": null, "reply_to": "${replyQueue}"}`,
    );
    assertEquals(
      byId.get(boom)!.body,
      `{"tag": "response", "correlation_id": "${boom}", "context": {}, "trace_id": null, "result": null, "error": {"error": "NuropbException", "description": "Runtime exception calling ts-svc.boom:Error: kaboom"}, "warning": null, "reply_to": "${replyQueue}"}`,
    );
    assertStringIncludes(
      byId.get(nope)!.body,
      '"error": {"error": "NuropbHandlingError", "description": "Unknown method nope"}',
    );
    assertEquals(byId.get(add)!.headers, {
      nuropb_protocol: "0.1.1",
      nuropb_version: "0.1.8",
      nuropb_type: "response",
      trace_id: "trace-add",
      encrypted: "",
    });
  } finally {
    await raw.close();
    await server.close();
  }
});

amqpTest("amqp: encrypted calls end to end; keys are not kept after the call", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const keys = await NuropbKeyPair.generate();
  const server = await connectMesh(url, { logger });
  await server.serve("vault", { secret: ({ word }) => String(word).toUpperCase() }, {
    keys,
    encryptedMethods: ["secret"],
  });
  const client = await connectMesh(url, { logger });
  const raw = await rawPublisher(url);
  const seen = await raw.tap("nuropb-rpc-exchange", "vault");
  try {
    assertEquals(
      await client.request("vault", "secret", { word: "psst" }, { encrypted: true }),
      "PSST",
    );
    const described = await client.describe("vault");
    assertEquals(described.public_key, await keys.publicKeyPem());
    assertEquals(described.methods.secret!.requires_encryption, true);
    const plain = await assertRejects(
      () => client.request("vault", "secret", { word: "x" }),
      RemoteError,
    );
    assertEquals((plain.data as { error: string }).error, "NuropbValidationError");
    const sealed = seen.find((m) => m.headers.encrypted === "yes")!;
    assertEquals(sealed.body.includes("psst"), false);
    assertEquals(sealed.body.split(".").length, 2);
    assertEquals(client.stats().keysHeld, 0);
    assertEquals(server.stats().keysHeld, 0);
  } finally {
    await raw.close();
    await client.close();
    await server.close();
  }
});

amqpTest("amqp: authorize turns the context token into claims, or refuses", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  await server.serve("guarded", { me: (_params, ctx) => ctx.meta.claims }, {
    authorize: (token) => token === "Bearer good" ? { user: "u1" } : undefined,
  });
  const client = await connectMesh(url, { logger });
  try {
    assertEquals(
      await client.request("guarded", "me", {}, { context: { Authorization: "Bearer good" } }),
      { user: "u1" },
    );
    const refused = await assertRejects(
      () => client.request("guarded", "me", {}, { context: { Authorization: "Bearer bad" } }),
      RemoteError,
    );
    assertEquals(refused.data, { error: "NuropbAuthorizationError", description: "Unauthorized" });
  } finally {
    await client.close();
    await server.close();
  }
});

amqpTest("amqp: the rpc command calls, commands, publishes and describes on a mesh", async () => {
  const url = await freshMesh();
  const server = await connectMesh(url, { logger: recordingLogger() });
  const logged: unknown[] = [];
  await server.serve("demo", {
    add: ({ a, b }) => a + b,
    log: (params) => void logged.push(params),
    fail: ({ message }) => {
      throw new Error(message);
    },
  });
  const out: string[] = [];
  const err: string[] = [];
  const output = {
    stdout: (line: string) => out.push(line),
    stderr: (line: string) => err.push(line),
  };
  try {
    assertEquals(await main(["call", url, "add", '{"a":2,"b":3}', "--service", "demo"], output), 0);
    assertEquals(out.pop(), "5");
    assertEquals(
      await main(["call", url, "fail", '{"message":"no"}', "--service", "demo"], output),
      1,
    );
    assertEquals(err.pop(), "error NuropbException: Runtime exception calling demo.fail:Error: no");
    assertEquals(await main(["call", url, "x", "{}", "--service", "ghost"], output), 1);
    assertStringIncludes(err.pop()!, "NuropbNotDeliveredError");
    assertEquals(
      await main(["notify", url, "log", '{"line":"hi"}', "--service", "demo"], output),
      0,
    );
    assertEquals(await main(["publish", url, "demo.hello", '{"k":1}'], output), 0);
    assertEquals(await main(["describe", url, "--service", "demo"], output), 0);
    assertEquals(JSON.parse(out.pop()!).service_name, "demo");
    assertEquals(await main(["call", url, "add", "[1,2]", "--service", "demo"], output), 2);
    assertEquals(await main(["call", url, "add", "{}"], output), 2);
    assertStringIncludes(err.join("\n"), "needs --service NAME");
    await waitFor(() => logged.length > 0, { timeout: 10_000, message: "the command handled" });
    assertEquals(logged, [{ line: "hi" }]);
  } finally {
    await server.close();
  }
});

stopBrokerAfterAll();
