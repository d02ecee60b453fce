// Stream methods in contracts: an item schema, items checked on both sides,
// a typed reader from the proxy, and OpenRPC's `x-stream`.

import {
  type Handler,
  memoryPair,
  Peer,
  RemoteError,
  RpcError,
  type StreamReader,
} from "../mod.ts";
import { defineContract } from "../contract.ts";
import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { deferred, recordingLogger, within } from "./_helpers.ts";

const contractLog = recordingLogger();
const Ticker = defineContract({
  name: "ticker",
  incoming: {
    ticks: {
      description: "Counts to n",
      params: {
        type: "object",
        properties: { n: { type: "integer" } },
        required: ["n"],
        additionalProperties: false,
      },
      stream: { type: "integer" },
      result: { type: "string" },
    },
  },
}, { logger: contractLog });

function pair(handlers?: Record<string, Handler>) {
  const [a, b] = memoryPair();
  const logger = recordingLogger();
  const server = new Peer(a, { logger, handlers });
  const client = new Peer(b, { logger: recordingLogger() });
  return {
    server,
    client,
    logger,
    close: async () => {
      await client.close();
      await server.closed;
    },
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

Deno.test("contract stream: the proxy method returns a typed reader of the handler's items", async () => {
  const p = pair();
  Ticker.implement(p.server, {
    async *ticks({ n }) {
      for (let i = 1; i <= n; i++) yield i;
      return `counted to ${n}`;
    },
  });
  const api = Ticker.invert().remote(p.client);
  const items: StreamReader<number> = api.ticks({ n: 3 });
  const got: number[] = [];
  let step = await items.next();
  while (!step.done) {
    got.push(step.value);
    step = await items.next();
  }
  assertEquals([got, step.value], [[1, 2, 3], "counted to 3"]);
  await p.close();
});

Deno.test("contract stream: params are checked on both sides, before anything runs", async () => {
  const p = pair();
  let ran = false;
  Ticker.implement(p.server, {
    async *ticks() {
      ran = true;
      yield 1;
    },
  });
  const api = Ticker.invert().remote(p.client);
  // The proxy refuses at once, sending nothing.
  const refused = assertThrows(() => api.ticks({ n: "x" as never }), RpcError);
  assertEquals(refused.code, -32602);
  // A raw stream call is refused by the server's contract (the one dispatch path).
  const error = await assertRejects(
    () => collect(p.client.stream("ticks", { n: "x" })),
    RemoteError,
  );
  assertEquals(error.code, -32602);
  assertEquals(ran, false);
  await p.close();
});

Deno.test("contract stream: an item that breaks its schema never leaves; the handler is returned", async () => {
  const p = pair();
  const cleaned = deferred();
  Ticker.implement(p.server, {
    async *ticks() {
      try {
        yield 1;
        yield "two" as never;
        yield 3;
      } finally {
        cleaned.resolve();
      }
    },
  });
  const got: unknown[] = [];
  const error = await assertRejects(async () => {
    for await (const item of p.client.stream("ticks", { n: 3 })) got.push(item);
  }, RemoteError);
  assertEquals([got, error.code, error.data], [[1], -32603, {
    reason: "an item does not match the contract",
  }]);
  await within(cleaned.promise, 5000, "the handler's finally");
  assertEquals(contractLog.messages("error"), [
    "ticker: an item of 'ticks' breaks its schema: (value) must be integer",
  ]);
  await p.close();
});

Deno.test("contract stream: items are checked on arrival; a bad one cancels the stream", async () => {
  const cleaned = deferred();
  const p = pair({
    async *ticks() {
      try {
        yield 1;
        yield "two";
        for (;;) yield 3;
      } finally {
        cleaned.resolve();
      }
    },
  });
  const api = Ticker.invert().remote(p.client);
  const got: number[] = [];
  const error = await assertRejects(async () => {
    for await (const item of api.ticks({ n: 3 })) got.push(item);
  }, RpcError);
  assertEquals([got, error.code, error.message], [
    [1],
    -32603,
    "Invalid item from 'ticks': (value) must be integer",
  ]);
  await within(cleaned.promise, 5000, "the remote handler's finally");
  await p.close();
});

Deno.test("contract stream: OpenRPC marks a stream method with x-stream", () => {
  const doc = Ticker.openrpc({ version: "1.0.0" });
  assertEquals(doc.methods[0]!["x-stream"], { name: "item", schema: { type: "integer" } });
  assertEquals(doc.methods[0]!.result, { name: "result", schema: { type: "string" } });
});
