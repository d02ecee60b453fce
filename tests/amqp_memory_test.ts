// What a stranger can make a nuropb service hold: remembered answers and
// requests in flight are bounded in bytes, refused calls are not remembered,
// and an oversized request or reply is refused before it is buffered.
// Counters are the assertions; RSS is checked with a generous margin.

import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { deferred, recordingLogger, waitFor } from "./_helpers.ts";
import { RemoteError } from "../mod.ts";
import { connectMesh, DEAD_LETTER_QUEUE } from "../transports/amqp.ts";

const MiB = 1024 * 1024;
const REQUEST_HEADERS = {
  nuropb_protocol: "0.1.1",
  nuropb_version: "0.1.8",
  nuropb_type: "request",
  trace_id: null,
  encrypted: "",
};

function requestBody(method: string, params: unknown, context: unknown = {}): string {
  return JSON.stringify({ service: "calc", method, params, context });
}

function rssMiB(): number {
  return Math.round(Deno.memoryUsage().rss / MiB);
}

amqpTest(
  "amqp: refused calls are not remembered; remembered answers are bounded in bytes",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    let ran = 0;
    await server.serve("calc", {
      echo: (_params, ctx) => {
        ran++;
        return ctx.meta.context; // echoes the caller's context, as the attack did
      },
    }, {
      authorize: (token) => token === "Bearer good" ? { user: "u1" } : undefined,
      rememberAnswerBytes: 1 * MiB,
    });
    const raw = await rawPublisher(url);
    const replyTo = "nuropb-t-raw-1-rq";
    const replies = await raw.collect(replyTo, (id) => !id.startsWith("no-"));
    const big = "x".repeat(256 * 1024);
    const send = (id: string, context: Record<string, unknown>) =>
      raw.publish(requestBody("echo", {}, context), {
        headers: REQUEST_HEADERS,
        correlationId: id,
        replyTo,
      });
    const calc = () => server.stats().services.calc!;
    try {
      // Refused (no token): answered, never remembered.
      const rssBefore = rssMiB();
      const REFUSED = 400;
      for (let i = 0; i < REFUSED; i++) await send(`no-${i}`, { pad: big });
      await waitFor(() => replies.length === REFUSED, {
        timeout: 60_000,
        message: "every refused call answered",
      });
      const grown = rssMiB() - rssBefore;
      console.log(`${REFUSED} refused calls with a 256 KiB context: RSS +${grown} MiB`);
      assertEquals(calc().rememberedBytes, 0, "refused calls are not remembered");
      assertEquals(ran, 0);
      assert(grown < 200, `RSS grew ${grown} MiB (${REFUSED * 256 / 1024} MiB of answers if kept)`);

      // Accepted: answers echo 256 KiB each; at most 1 MiB of them is kept.
      const ACCEPTED = 12;
      for (let i = 0; i < ACCEPTED; i++) {
        await send(`ok-${i}`, { Authorization: "Bearer good", pad: big });
      }
      await waitFor(() => replies.length === REFUSED + ACCEPTED, {
        timeout: 30_000,
        message: "every accepted call answered",
      });
      assertEquals(ran, ACCEPTED);
      assert(calc().rememberedBytes <= 1 * MiB, `${calc().rememberedBytes} bytes remembered`);
      assert(calc().rememberedBytes > 256 * 1024, "the newest answers are kept");

      // A copy of the newest is answered from memory; of the oldest, refused; neither runs again.
      await send(`ok-${ACCEPTED - 1}`, { Authorization: "Bearer good", pad: big });
      await send("ok-0", { Authorization: "Bearer good", pad: big });
      await waitFor(() => replies.length === REFUSED + ACCEPTED + 2, {
        timeout: 10_000,
        message: "both copies answered",
      });
      assertEquals(ran, ACCEPTED, "no handler ran twice");
      const [newest, oldest] = replies.slice(-2);
      assertEquals(
        newest!.body,
        replies.find((r) => r.correlationId === `ok-${ACCEPTED - 1}`)!.body,
      );
      assertStringIncludes(oldest!.body, "no longer held");
      assertEquals(calc().answeredFromMemory, 2);
    } finally {
      await raw.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a service holds at most maxInboxBytes of requests; a larger request is dead-lettered unread",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    const release = deferred();
    await server.serve("calc", {
      hold: async () => {
        await release.promise;
        return "done";
      },
    }, { prefetch: 4, maxInboxBytes: 4 * MiB }); // at most 1 MiB a request
    const raw = await rawPublisher(url);
    const replyTo = "nuropb-t-raw-2-rq";
    const replies = await raw.collect(replyTo);
    const calc = () => server.stats().services.calc!;
    try {
      const HELD = 12;
      const pad = "x".repeat(900 * 1024);
      for (let i = 0; i < HELD; i++) {
        await raw.publish(requestBody("hold", { pad }), {
          headers: REQUEST_HEADERS,
          correlationId: `h-${i}`,
          replyTo,
        });
      }
      const tooBig = "x".repeat(1536 * 1024);
      for (let i = 0; i < 2; i++) {
        await raw.publish(requestBody("hold", { pad: tooBig }), {
          headers: REQUEST_HEADERS,
          correlationId: `big-${i}`,
          replyTo,
        });
      }
      await waitFor(() => calc().running === 4, { timeout: 10_000, message: "4 handlers running" });
      assert(calc().inboxBytes <= 4 * MiB, `${calc().inboxBytes} bytes held`);
      release.resolve();
      await waitFor(() => replies.length === HELD, {
        timeout: 30_000,
        message: "every held request answered",
      });
      await waitFor(() => calc().deadLettered === 2, {
        timeout: 10_000,
        message: "the oversized requests dead-lettered",
      });
      assert(calc().peakInboxBytes <= 4 * MiB, `peak ${calc().peakInboxBytes} bytes`);
      assertEquals(calc().inboxBytes, 0);
      assertEquals(await raw.count(DEAD_LETTER_QUEUE), 2);
      const warnings = logger.messages("warn").filter((line) => line.includes("dead-lettered"));
      assertEquals(warnings.length, 2);
      assertStringIncludes(warnings[0]!, "maxInboxBytes / prefetch");
    } finally {
      release.resolve();
      await raw.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: requests too large for the defaults are refused unread (RSS stays flat)",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    const release = deferred();
    await server.serve("calc", {
      hold: async () => {
        await release.promise;
        return "done";
      },
    }); // prefetch 16, maxInboxBytes 64 MiB
    const raw = await rawPublisher(url);
    const calc = () => server.stats().services.calc!;
    try {
      const rssBefore = rssMiB();
      const COUNT = 16;
      const pad = "x".repeat(8 * MiB);
      for (let i = 0; i < COUNT; i++) {
        await raw.publish(requestBody("hold", { pad }), {
          headers: REQUEST_HEADERS,
          correlationId: `h-${i}`,
          replyTo: "nuropb-t-raw-3-rq",
        });
      }
      await waitFor(() => calc().deadLettered === COUNT, {
        timeout: 60_000,
        message: "every 8 MiB request dead-lettered",
      });
      const grown = rssMiB() - rssBefore;
      console.log(`${COUNT} requests of 8 MiB, handlers blocked: RSS +${grown} MiB`);
      assertEquals(calc().peakInboxBytes, 0, "none was held");
      assert(grown < 200, `RSS grew ${grown} MiB (${COUNT * 8} MiB of requests if held)`);
    } finally {
      release.resolve();
      await raw.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a reply larger than maxMessageBytes fails its call with FrameTooLarge",
  async () => {
    const url = await freshMesh();
    const server = await connectMesh(url, { logger: recordingLogger() });
    await server.serve("calc", { blob: ({ size }) => "x".repeat(size) });
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, maxMessageBytes: 64 * 1024, timeout: 10_000 });
    try {
      assertEquals((await client.request<string>("calc", "blob", { size: 1000 })).length, 1000);
      const error = await assertRejects(
        () => client.request("calc", "blob", { size: 100_000 }),
        RemoteError,
      );
      assertEquals(error.code, -32001);
      assertStringIncludes(error.message, "maxMessageBytes");
      assertEquals(client.stats().droppedReplies, 1);
      assertEquals(client.stats().pendingCalls, 0);
      assertEquals((await client.request<string>("calc", "blob", { size: 10 })).length, 10);
    } finally {
      await client.close();
      await server.close();
    }
  },
);

stopBrokerAfterAll();
