// Streams and progress over the nuropb mesh between our own services, on a
// real RabbitMQ: items under credit, progress, cancellation both ways,
// competing instances, an instance's death, and a Python nuropb service
// (its captured description), which is never sent a stream call. The broker
// restart is in stream_amqp_restart_test.ts, on a node of its own; these
// share one.

import { assert, assertEquals, assertLessOrEqual, assertRejects } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { type CallContext, ConnectionClosed, RemoteError, RpcError, Unsupported } from "../mod.ts";
import {
  connectMesh,
  type Mesh,
  NuropbCallerCodec,
  NuropbServiceCodec,
} from "../transports/amqp.ts";

async function meshes(url: string, instances = 1) {
  const logger = recordingLogger();
  const servers: Mesh[] = [];
  for (let i = 0; i < instances; i++) servers.push(await connectMesh(url, { logger }));
  const client = await connectMesh(url, { logger, timeout: 10_000 });
  return {
    servers,
    client,
    logger,
    close: async () => {
      await client.close();
      for (const server of servers) await server.close();
    },
  };
}

Deno.test("stream amqp: the wire: a stream call and its messages in nuropb's shape; a plain call gains no header", () => {
  const caller = new NuropbCallerCodec("nuropb-demo-client-c1-rq");
  const service = new NuropbServiceCodec("clock");
  const [plain] = caller.encode({ kind: "request", id: "p1", method: "now", params: {} }, "clock");
  assertEquals(Object.keys(plain!.properties.headers!), [
    "nuropb_protocol",
    "nuropb_version",
    "nuropb_type",
    "trace_id",
    "encrypted",
  ]);
  const [call] = caller.encode(
    { kind: "request", id: "c1", method: "ticks", params: { count: 2 }, stream: 8 },
    "clock",
  );
  assertEquals(call!.properties.headers!.seed_stream, 8);
  assertEquals(
    call!.body,
    '{"tag": "request", "service": "clock", "method": "ticks", "params": {"count": 2}, "correlation_id": "c1", "context": {}, "trace_id": null}',
  );
  const decoded = service.decode(call!);
  assertEquals([decoded.kind, (decoded as { stream?: number }).stream], ["request", 8]);
  const to = "nuropb-demo-client-c1-rq";
  const [item] = service.encode({ kind: "item", id: "c1", value: { n: 1 } }, to);
  assertEquals(item!.body, '{"tag": "item", "correlation_id": "c1", "item": {"n": 1}}');
  assertEquals(item!.properties.headers!.nuropb_type, "item");
  assertEquals(caller.decode(item!), { kind: "item", id: "c1", value: { n: 1 } });
  const [progress] = service.encode({ kind: "progress", id: "c1", value: 0.5 }, to);
  assertEquals(caller.decode(progress!), { kind: "progress", id: "c1", value: 0.5 });
  const [credit] = caller.encode({ kind: "credit", id: "c1", credit: 4 });
  assertEquals(credit!.body, '{"tag": "credit", "correlation_id": "c1", "credit": 4}');
  assertEquals(credit!.properties.replyTo, to);
  const [end] = service.encode({ kind: "result", id: "c1", result: "done" }, to);
  assertEquals(caller.decode(end!).kind, "result");
});

amqpTest("stream amqp: items arrive in order, then the end value, with progress", async () => {
  const url = await freshMesh();
  const { servers: [server], client, close } = await meshes(url);
  await server!.serve("counter", {
    async *count({ to }: { to: number }, ctx: CallContext) {
      for (let i = 1; i <= to; i++) {
        if (i === to) await ctx.progress({ done: i / to });
        yield { n: i, who: (ctx.meta.context as { user?: string }).user };
      }
      return "done";
    },
    async build(_params: unknown, ctx: CallContext) {
      await ctx.progress(0.5);
      await ctx.progress(1);
      return "built";
    },
  });
  try {
    const steps: unknown[] = [];
    const built = await client.request("counter", "build", {}, {
      onProgress: (value) => steps.push(value),
    });
    assertEquals([built, steps], ["built", [0.5, 1]]);
    const progress: unknown[] = [];
    const stream = client.stream<{ n: number; who: string }>("counter", "count", { to: 50 }, {
      context: { user: "u1" },
      credit: 4,
      onProgress: (value) => progress.push(value),
    });
    const items = [];
    let next = await stream.next();
    while (!next.done) {
      items.push(next.value);
      next = await stream.next();
    }
    assertEquals(items.map((item) => item.n), Array.from({ length: 50 }, (_, i) => i + 1));
    assertEquals(items[0]!.who, "u1");
    assertEquals(next.value, "done");
    assertEquals(progress, [{ done: 1 }]);
    assertEquals(client.stats().pendingCalls, 0);
  } finally {
    await close();
  }
});

amqpTest(
  "stream amqp: a slow reader pauses the handler (credit), and break runs its finally",
  async () => {
    const url = await freshMesh();
    const { servers: [server], client, close } = await meshes(url);
    let produced = 0;
    const ended = Promise.withResolvers<void>();
    let aborted = false;
    await server!.serve("ticker", {
      ping: () => "pong",
      async *ticks(_params: unknown, ctx: CallContext) {
        try {
          for (;;) {
            produced++;
            yield produced;
          }
        } finally {
          aborted = ctx.signal.aborted;
          ended.resolve();
        }
      },
    });
    try {
      const seen: number[] = [];
      for await (const n of client.stream<number>("ticker", "ticks", {}, { credit: 4 })) {
        seen.push(n);
        if (seen.length === 3) {
          // The reader stops reading. Credit so far: the window (4) and the 2 granted after
          // the reader took half of it; the handler sends those 6 items, makes one more
          // (one ahead of the credit) and waits there.
          await waitFor(() => produced === 7, { timeout: 10_000, message: "the handler's run" });
          // A round trip to the same instance: anything in flight has arrived by now.
          assertEquals(await client.request("ticker", "ping", {}), "pong");
          assertEquals(produced, 7, "the handler waits while the reader does not read");
        }
        if (seen.length === 10) break;
      }
      assertEquals(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await within(ended.promise, 5_000, "the handler's finally after break");
      assert(aborted, "ctx.signal aborted");
    } finally {
      await close();
    }
  },
);

amqpTest(
  "stream amqp: a caller that aborts before any item, or goes away mid-stream, ends the handler (finally runs)",
  async () => {
    const url = await freshMesh();
    const { servers: [server], client, close } = await meshes(url);
    const ended: string[] = [];
    const started = Promise.withResolvers<void>();
    await server!.serve("ticker", {
      async *ticks({ name, wait }: { name: string; wait?: boolean }) {
        try {
          // Its first item comes after the caller gave up: it still learns of it.
          if (wait) await started.promise;
          for (let n = 1;; n++) yield n;
        } finally {
          ended.push(name);
        }
      },
    });
    try {
      const abort = new AbortController();
      const early = client.stream("ticker", "ticks", { name: "early", wait: true }, {
        signal: abort.signal,
        credit: 2,
      });
      const first = early.next();
      await waitFor(() => server!.stats().services.ticker!.running === 1, {
        message: "the handler runs",
      });
      abort.abort(new Error("changed my mind"));
      await assertRejects(() => first, Error, "changed my mind");
      started.resolve();
      await waitFor(() => ended.includes("early"), { message: "the early stream's finally" });

      // A caller whose mesh closes mid-stream sends nothing more: its queue is
      // gone, and the instance's check of it ends the handler.
      const other = await connectMesh(url, { logger: recordingLogger() });
      const late = other.stream<number>("ticker", "ticks", { name: "gone" }, { credit: 2 });
      assertEquals((await late.next()).value, 1);
      await other.close();
      await waitFor(() => ended.includes("gone"), {
        timeout: 10_000,
        message: "the handler of a caller that went away ends",
      });
    } finally {
      await close();
    }
  },
);

amqpTest("stream amqp: a handler's throw ends the iteration with its error", async () => {
  const url = await freshMesh();
  const { servers: [server], client, close } = await meshes(url);
  await server!.serve("failing", {
    async *twice() {
      yield 1;
      yield 2;
      throw new RpcError(-32042, "ran dry", { error: "NuropbException" });
    },
  });
  try {
    const seen: unknown[] = [];
    const error = await assertRejects(async () => {
      for await (const n of client.stream("failing", "twice")) seen.push(n);
    }, RemoteError);
    assertEquals(seen, [1, 2]);
    assertEquals(error.message, "ran dry");
  } finally {
    await close();
  }
});

amqpTest(
  "stream amqp: with competing instances, credit and cancels reach the instance holding each stream",
  async () => {
    const url = await freshMesh();
    const { servers, client, close } = await meshes(url, 3);
    const finished: number[] = [];
    for (const [i, server] of servers.entries()) {
      await server.serve("pool", {
        async *count({ to }: { to: number }) {
          try {
            for (let n = 1; n <= to; n++) yield n;
            return i;
          } finally {
            finished.push(i);
          }
        },
      }, { prefetch: 2 });
    }
    try {
      const read = async () => {
        const stream = client.stream<number>("pool", "count", { to: 40 }, { credit: 2 });
        let sum = 0;
        for await (const n of stream) sum += n;
        return sum;
      };
      const sums = await within(
        Promise.all(Array.from({ length: 12 }, read)),
        20_000,
        "every stream ends (credit reached its instance)",
      );
      assertEquals(sums, Array(12).fill(820));
      // A cancel goes to the instance that holds the stream, not to a competitor.
      const streams = Array.from(
        { length: 6 },
        () => client.stream<number>("pool", "count", { to: 1_000_000 }, { credit: 2 }),
      );
      for (const stream of streams) assertEquals((await stream.next()).value, 1);
      for (const stream of streams) await stream.return(undefined);
      await waitFor(() => finished.length === 18, { message: "every handler's finally ran" });
    } finally {
      await close();
    }
  },
);

amqpTest(
  "stream amqp: a Python nuropb service is never sent a stream call: Unsupported at the first next()",
  async () => {
    const url = await freshMesh();
    const logger = recordingLogger();
    const client = await connectMesh(url, { logger, timeout: 10_000 });
    const raw = await rawPublisher(url);
    const captured: Array<
      { origin: string; body: string; properties: { headers: Record<string, unknown> } }
    > = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/nuropb/python_wire.json", import.meta.url)),
    );
    // The Python service's own answer to nuropb_describe, as captured.
    const description = captured.find((c) =>
      c.origin === "python service" && c.body.includes('"service_name"')
    )!;
    // Stands in for the Python service's queue (bound as nuropb binds it).
    const received = await raw.tap("nuropb-rpc-exchange", "seeds-svc");
    // Answers each request as the Python service answered its describe (captured).
    let answered = 0;
    const answering = setInterval(async () => {
      while (answered < received.length) {
        const { correlation_id: id } = JSON.parse(received[answered++]!.body);
        const body = description.body
          .replace(/"correlation_id": "[0-9a-f]+"/, `"correlation_id": "${id}"`)
          .replace(/"reply_to": "[^"]*"/, `"reply_to": "${client.responseQueue}"`);
        await raw.publish(
          body,
          {
            correlationId: id,
            headers: description.properties.headers,
            contentType: "application/json",
            replyTo: "",
          },
          "",
          client.responseQueue,
        );
      }
    }, 20);
    try {
      const error = await assertRejects(async () => {
        for await (const _ of client.stream("seeds-svc", "count", { to: 3 })) {
          throw new Error("no item may come");
        }
      }, Unsupported);
      assertEquals(error.feature, "streams");
      // It asked once, with a plain describe plus our header; the stream call never went.
      assertEquals(received.length, 1);
      const asked = JSON.parse(received[0]!.body);
      assertEquals(asked.method, "nuropb_describe");
      assertEquals(received[0]!.headers.seed_rpc, "streams");
      // Asked once per service: the second refusal needs no round trip.
      await assertRejects(() => client.stream("seeds-svc", "count").next(), Unsupported);
      const progress = await assertRejects(
        () => client.request("seeds-svc", "add", { a: 1, b: 2 }, { onProgress: () => {} }),
        Unsupported,
      );
      assertEquals(progress.feature, "progress");
      assertEquals(received.length, 1);
      assert(!("seed_stream" in received[0]!.headers));
    } finally {
      clearInterval(answering);
      await raw.close();
      await client.close();
    }
  },
);

amqpTest(
  "stream amqp: the instance holding a stream dies: the iteration ends with ConnectionClosed",
  async () => {
    const url = await freshMesh();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-env",
        new URL("./_amqp_stream_service.ts", import.meta.url).pathname,
        url,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const client = await connectMesh(url, { logger: recordingLogger(), timeout: 10_000 });
    try {
      const first = await within(lines.read(), 30_000, "the service ready");
      assertEquals(first.value?.trim(), "ready");
      const stream = client.stream<number>("ticker", "ticks", {}, { credit: 2 });
      assertEquals((await stream.next()).value, 1);
      child.kill("SIGKILL");
      await child.status;
      const started = performance.now();
      await within(
        assertRejects(async () => {
          for (;;) if ((await stream.next()).done) break;
        }, ConnectionClosed),
        10_000,
        "the iteration ends",
      );
      assertLessOrEqual(performance.now() - started, 5_000);
      assertEquals(client.stats().pendingCalls, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await lines.cancel();
      await client.close();
    }
  },
);

stopBrokerAfterAll();
