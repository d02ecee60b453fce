// What a stranger can make a nuropb service hold: remembered answers and
// requests in flight are bounded in bytes, refused calls are not remembered,
// and an oversized request or reply is refused before it is buffered.
// Counters are the assertions; RSS is checked with a generous margin.

import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";
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

/** tests/_amqp_service.ts in its own process, and a way to ask it things. */
async function serviceProcess(url: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      new URL("./_amqp_service.ts", import.meta.url).pathname,
      url,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const line = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the service process ended");
      buffered += value;
    }
    const end = buffered.indexOf("\n");
    const text = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    return text;
  };
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  assertEquals(await within(line(), 30_000, "the service ready"), "ready");
  const ask = async (command: string) => {
    await writer.write(encoder.encode(`${command}\n`));
    return await within(line(), 30_000, `the answer to ${command}`);
  };
  return {
    /** RSS and retained memory (JS heap in use + external buffers) after a GC, MiB. */
    memory: async () => {
      const { rss, retained } = JSON.parse(await ask("memory"));
      return { rss: Math.round(rss / MiB), retained: Math.round(retained / MiB) };
    },
    ask,
    stop: async () => {
      await writer.close();
      await lines.cancel();
      await child.status;
    },
  };
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
      const REFUSED = 100;
      for (let i = 0; i < REFUSED; i++) await send(`no-${i}`, { pad: big });
      await waitFor(() => replies.length === REFUSED, {
        timeout: 60_000,
        message: "every refused call answered",
      });
      assertEquals(calc().rememberedBytes, 0, "refused calls are not remembered");
      assertEquals(ran, 0);

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
      assertEquals(await raw.countAtLeast(DEAD_LETTER_QUEUE, 2), 2);
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
  "amqp: memory of a service stays flat under refused calls and oversized requests",
  async () => {
    const url = await freshMesh();
    const service = await serviceProcess(url);
    const raw = await rawPublisher(url);
    const replyTo = "nuropb-t-raw-3-rq";
    const replies = await raw.collect(replyTo, () => false);
    try {
      const start = await service.memory();
      // The first attack: calls refused by authorize, each echoing a 256 KiB context.
      const REFUSED = 400;
      const context = { pad: "x".repeat(256 * 1024) };
      for (let i = 0; i < REFUSED; i++) {
        await raw.publish(requestBody("echo", {}, context), {
          headers: REQUEST_HEADERS,
          correlationId: `no-${i}`,
          replyTo,
        });
      }
      await waitFor(() => replies.length === REFUSED, {
        timeout: 60_000,
        message: "every refused call answered",
      });
      const afterRefused = await service.memory();
      // The second: requests of 8 MiB to handlers that never finish (prefetch 16).
      const HELD = 16;
      const pad = "x".repeat(8 * MiB);
      for (let i = 0; i < HELD; i++) {
        await raw.publish(requestBody("hold", { pad }, { Authorization: "Bearer good" }), {
          headers: REQUEST_HEADERS,
          correlationId: `h-${i}`,
          replyTo,
        });
      }
      const stats = await waitFor(async () => {
        const stats = JSON.parse(await service.ask("stats"));
        return stats.deadLettered === HELD && stats;
      }, { timeout: 30_000, message: "every 8 MiB request dead-lettered" });
      const afterHeld = await service.memory();
      const show = (m: { rss: number; retained: number }) =>
        `RSS ${m.rss} MiB, retained ${m.retained} MiB`;
      console.log(
        `service: ${show(start)}; after ${REFUSED} refused calls with a 256 KiB context ` +
          `${show(afterRefused)} (${REFUSED / 4} MiB of answers if kept); after ${HELD} ` +
          `requests of 8 MiB ${show(afterHeld)} (${HELD * 8} MiB if held)`,
      );
      assertEquals(stats.rememberedBytes, 0);
      assert(stats.peakInboxBytes <= 64 * MiB, `peak inbox ${stats.peakInboxBytes} bytes`);
      // Retained memory (JS heap + buffers, after a GC) is what the bounds are
      // about; RSS also keeps what the allocator freed and did not give back.
      const retained = afterHeld.retained - start.retained;
      assert(retained < 32, `retained +${retained} MiB`);
      assert(afterRefused.rss - start.rss < 200, `RSS +${afterRefused.rss - start.rss} MiB`);
      assert(afterHeld.rss - start.rss < 250, `RSS +${afterHeld.rss - start.rss} MiB`);
    } finally {
      await raw.close();
      await service.stop();
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
