// The nuropb mesh under hostile input: what a stranger who can publish to the
// broker can do to a service or a caller. Each message here is one a broken
// or malicious client could send; the process must live, refuse it once with
// one warning, and go on answering.

import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import { connectMesh, DEAD_LETTER_QUEUE, redactUrl } from "../transports/amqp.ts";

/** The headers of a valid nuropb request. */
const REQUEST_HEADERS = {
  nuropb_protocol: "0.1.1",
  nuropb_version: "0.1.8",
  nuropb_type: "request",
  trace_id: null,
  encrypted: "",
};
const ADD_BODY = '{"service": "calc", "method": "add", "params": {"a": 1, "b": 2}, "context": {}}';
/** Header sizes a publisher that negotiated RabbitMQ's default frame_max (131072) can send; 127 kB is near the largest (a frame of 131072 bytes). */
const HEADER_KB = [9, 30, 70, 100, 120, 127];
/** The frame size the hostile publisher negotiates: the broker's default maximum. */
const BROKER_FRAME_MAX = 131_072;

function deadLetterWarnings(lines: string[]): string[] {
  return lines.filter((line) => line.includes("dead-lettered"));
}

amqpTest(
  "amqp: a request with a huge header is dead-lettered once; the service answers the next",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger, instanceId: "svc1" });
    await server.serve("calc", { add: ({ a, b }) => a + b });
    const client = await connectMesh(url, {
      logger: recordingLogger(),
      instanceId: "cli1",
      timeout: 10_000,
    });
    const raw = await rawPublisher(url, BROKER_FRAME_MAX);
    try {
      for (const [i, kb] of HEADER_KB.entries()) {
        await raw.publish(ADD_BODY, {
          headers: { ...REQUEST_HEADERS, pad: "x".repeat(kb * 1024) },
          correlationId: `big${kb}`,
          replyTo: client.responseQueue,
        });
        await waitFor(() => server.stats().services.calc!.deadLettered === i + 1, {
          timeout: 10_000,
          message: `the ${kb} kB header dead-lettered`,
        });
        assertEquals(await client.request("calc", "add", { a: i, b: 1 }), i + 1);
        await waitFor(async () => (await raw.count(DEAD_LETTER_QUEUE)) >= i + 1, {
          timeout: 5_000,
          message: `the ${kb} kB message in ${DEAD_LETTER_QUEUE}`,
        });
      }
      const warnings = deadLetterWarnings(logger.messages("warn"));
      assertEquals(warnings.length, HEADER_KB.length, warnings.join("\n"));
      assert(warnings.every((line) => line.includes("header")), warnings.join("\n"));
      // Read whole, refused: the connection never had to be dropped.
      assertEquals(server.stats().reconnects, 0);
      assertEquals(
        await raw.countAtLeast(DEAD_LETTER_QUEUE, HEADER_KB.length),
        HEADER_KB.length,
        "dead-lettered once each",
      );
    } finally {
      await raw.close();
      await client.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a reply with a huge header is dropped with a warning; the caller goes on",
  async () => {
    const url = await freshMesh();
    const server = await connectMesh(url, { logger: recordingLogger() });
    await server.serve("calc", { add: ({ a, b }) => a + b });
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 10_000 });
    const raw = await rawPublisher(url, BROKER_FRAME_MAX);
    try {
      for (const [i, kb] of HEADER_KB.entries()) {
        await raw.publish(
          '{"tag": "response", "result": 1, "error": null}',
          {
            headers: { ...REQUEST_HEADERS, nuropb_type: "response", pad: "x".repeat(kb * 1024) },
            correlationId: `fake${kb}`,
          },
          "",
          client.responseQueue,
        );
        await waitFor(() => client.stats().droppedReplies === i + 1, {
          timeout: 10_000,
          message: `the ${kb} kB reply dropped`,
        });
        assertEquals(await client.request("calc", "add", { a: i, b: 1 }), i + 1);
      }
      const warnings = logger.messages("warn").filter((line) => line.includes("dropped a reply"));
      assertEquals(warnings.length, HEADER_KB.length, warnings.join("\n"));
      assertEquals(client.stats().reconnects, 0);
    } finally {
      await raw.close();
      await client.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a frame larger than the mesh reads drops the connection once; its message is refused",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    // Below the broker's frame_max: a frame between the two cannot be read.
    const small = { maxFrameBytes: 16_384, maxHeaderBytes: 200_000 };
    const server = await connectMesh(url, { logger, instanceId: "svc1", ...small });
    await server.serve("calc", { add: ({ a, b }) => a + b });
    const callerLogger = recordingLogger();
    const client = await connectMesh(url, {
      logger: callerLogger,
      instanceId: "cli1",
      timeout: 10_000,
      ...small,
    });
    const raw = await rawPublisher(url, BROKER_FRAME_MAX);
    try {
      assert(
        logger.messages("warn").some((line) => line.includes("reads frames up to 16384 bytes")),
        "the smaller frame limit is told at connect",
      );
      await raw.publish(ADD_BODY, {
        headers: { ...REQUEST_HEADERS, pad: "x".repeat(100 * 1024) },
        correlationId: "big",
        replyTo: client.responseQueue,
      });
      await waitFor(() => server.stats().services.calc!.deadLettered === 1, {
        timeout: 10_000,
        message: "the unreadable request dead-lettered",
      });
      await waitFor(() => server.stats().reconnects === 1, {
        timeout: 10_000,
        message: "the service connected again",
      });
      assertEquals(await client.request("calc", "add", { a: 1, b: 1 }), 2);
      assertEquals(
        await raw.countAtLeast(DEAD_LETTER_QUEUE, 1),
        1,
        "dead-lettered once, not redelivered",
      );

      await raw.publish(
        '{"tag": "response", "result": 1, "error": null}',
        {
          headers: { ...REQUEST_HEADERS, nuropb_type: "response", pad: "x".repeat(100 * 1024) },
          correlationId: "fake",
        },
        "",
        client.responseQueue,
      );
      await waitFor(() => client.stats().reconnects === 1, {
        timeout: 10_000,
        message: "the caller connected again",
      });
      assertEquals(client.stats().droppedReplies, 1);
      assertEquals(await client.request("calc", "add", { a: 2, b: 2 }), 4);
      assertEquals(server.stats().services.calc!.deadLettered, 1);
      assertEquals(deadLetterWarnings(logger.messages("warn")).length, 1);
    } finally {
      await raw.close();
      await client.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a request named nuropb.event is refused; event handlers and authorize are not bypassed",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    const heard: unknown[] = [];
    await server.serve("calc", { add: ({ a, b }) => a + b }, {
      events: { "#": (event, ctx) => void heard.push({ event, ctx }) },
      authorize: (token) => token === "Bearer good" ? { user: "u1" } : undefined,
    });
    const client = await connectMesh(url, { logger: recordingLogger(), timeout: 10_000 });
    const raw = await rawPublisher(url);
    try {
      for (const type of ["request", "command"]) {
        await raw.publish(
          JSON.stringify({
            service: "calc",
            method: "nuropb.event",
            params: { topic: "admin.reset", event: { all: true }, target: null, context: {} },
            context: { user: "forged" },
          }),
          {
            headers: { ...REQUEST_HEADERS, nuropb_type: type },
            correlationId: `forged-${type}`,
            replyTo: client.responseQueue,
          },
        );
      }
      await waitFor(() => server.stats().services.calc!.deadLettered === 2, {
        timeout: 10_000,
        message: "both forged events dead-lettered",
      });
      // A real event still arrives, after the forged ones.
      await client.publish("orders.created", { id: 1 });
      await waitFor(() => heard.length > 0, { timeout: 10_000, message: "the real event" });
      assertEquals(heard.map((h) => (h as { event: unknown }).event), [{ id: 1 }]);
      const warnings = deadLetterWarnings(logger.messages("warn"));
      assertEquals(warnings.length, 2);
      assert(warnings.every((line) => line.includes("nuropb.event")), warnings.join("\n"));
      assertEquals(client.stats().pendingCalls, 0);
      // Our own mesh refuses to send one (a command by that name went out as an event).
      for (
        const send of [
          () => client.request("calc", "nuropb.event"),
          () => client.command("calc", "nuropb.event"),
        ]
      ) {
        await assertRejects(send, TypeError, "publish()");
      }
    } finally {
      await raw.close();
      await client.close();
      await server.close();
    }
  },
);

amqpTest(
  "amqp: a reply_to that is not a response queue is dead-lettered, never answered",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const server = await connectMesh(url, { logger });
    let added = 0;
    await server.serve("calc", {
      add: ({ a, b }) => {
        added++;
        return a + b;
      },
    });
    const victimLogger = recordingLogger();
    const victim = await connectMesh(url, { logger: victimLogger });
    await victim.serve("victim", { ping: () => "pong" });
    const client = await connectMesh(url, { logger: recordingLogger(), timeout: 10_000 });
    const raw = await rawPublisher(url);
    try {
      const targets = ["nuropb-victim-sq", DEAD_LETTER_QUEUE, "orders", ""];
      for (const [i, replyTo] of targets.entries()) {
        await raw.publish(ADD_BODY, {
          headers: REQUEST_HEADERS,
          correlationId: `aimed-${i}`,
          replyTo,
        });
      }
      await waitFor(() => server.stats().services.calc!.deadLettered === targets.length, {
        timeout: 10_000,
        message: "every misdirected request dead-lettered",
      });
      assertEquals(added, 0, "no handler ran");
      // Python's and our callers' queues are still answered.
      assertEquals(await client.request("calc", "add", { a: 1, b: 2 }), 3);
      assertEquals(
        victim.stats().services.victim!.handled,
        0,
        "nothing reached the victim's queue",
      );
      assertEquals(victim.stats().services.victim!.deadLettered, 0);
      assertEquals(await raw.countAtLeast(DEAD_LETTER_QUEUE, targets.length), targets.length);
      const warnings = deadLetterWarnings(logger.messages("warn"));
      assertEquals(warnings.length, targets.length);
      assert(warnings.every((line) => line.includes("reply_to")), warnings.join("\n"));
    } finally {
      await raw.close();
      await client.close();
      await victim.close();
      await server.close();
    }
  },
);

amqpTest("amqp: an answer nested too deep to encode is answered with an error", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger });
  await server.serve("calc", { echo: (params) => ({ echo: params }) });
  const raw = await rawPublisher(url);
  const replyTo = "nuropb-t-raw-9-rq";
  const replies = await raw.collect(replyTo);
  try {
    const deep = "[".repeat(5000) + "1" + "]".repeat(5000);
    await raw.publish(`{"method": "echo", "params": {"x": ${deep}}, "context": {}}`, {
      headers: REQUEST_HEADERS,
      correlationId: "deep",
      replyTo,
    });
    await waitFor(() => replies.length === 1, { timeout: 10_000, message: "an answer" });
    assertStringIncludes(replies[0]!.body, "could not be encoded");
    assertStringIncludes(replies[0]!.body, '"error": "NuropbException"');
  } finally {
    await raw.close();
    await server.close();
  }
});

amqpTest("amqp: the password never appears in what the mesh throws or logs", async () => {
  const url = await freshMesh();
  const secret = "s3cret-Pw";
  const withSecret = (address: string) => address.replace("guest:guest@", `guest:${secret}@`);
  const logger = recordingLogger();
  const attempts = [
    withSecret(url), // refused by the broker
    withSecret(url).replace("amqp:", "http:"), // not AMQP
    withSecret(url).replace("127.0.0.1", "[::1"), // not a URL
    withSecret(url).replace(/:\d+\//, ":1/"), // nothing listens
  ];
  for (const attempt of attempts) {
    const error = await assertRejects(() => connectMesh(attempt, { logger }), Error);
    const text = `${error}`;
    assert(!text.includes(secret), text);
  }
  for (const line of logger.lines) {
    assert(!`${line.message} ${line.data.join(" ")}`.includes(secret), line.message);
  }
  assertEquals(
    redactUrl(`amqp://guest:${secret}@127.0.0.1:5672/seeds`),
    "amqp://guest:***@127.0.0.1:5672/seeds",
  );
  assertEquals(redactUrl(`amqp://guest:${secret}@[::1/x`), "amqp://guest:***@[::1/x");
  assertEquals(redactUrl("amqp://127.0.0.1/"), "amqp://127.0.0.1/");
});

amqpTest(
  "amqp: replies that keep arriving while a caller closes are dropped, never an unhandled rejection",
  async () => {
    const url = await freshMesh();
    const raw = await rawPublisher(url);
    try {
      for (let round = 0; round < 3; round++) {
        const client = await connectMesh(url, {
          logger: recordingLogger(),
          instanceId: `c${round}`,
        });
        const responseHeaders = { ...REQUEST_HEADERS, nuropb_type: "response" };
        let stop = false;
        let published = 0;
        // A stranger floods the caller's response queue (named in every reply_to).
        const flood = (async () => {
          while (!stop && published < 20_000) {
            const id = `fake-${published++}`;
            await raw.publish(
              `{"tag": "response", "correlation_id": "${id}", "context": {}, "trace_id": null, "result": 1, "error": null, "warning": null, "reply_to": ""}`,
              { correlationId: id, headers: responseHeaders },
              "",
              client.responseQueue,
            ).catch(() => {});
          }
        })();
        await waitFor(() => published >= 200, { message: "the flood to start" });
        // Before: a reply decoded after close pushed into the ended inbox, and
        // its rejected promise was never handled (the test fails on that).
        await client.close();
        await waitFor(() => published >= 400, { message: "the flood to go on after close" });
        stop = true;
        await flood;
      }
    } finally {
      await raw.close();
    }
  },
);

stopBrokerAfterAll();
