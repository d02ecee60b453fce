// Hostile review of meta, values and compound filters: each test is a defect
// found in review (marked FIXED where the module at fault was changed).

import {
  type CallContext,
  type Interceptor,
  JsonRpcCodec,
  jsonRpcTagged,
  memoryPair,
  Peer,
} from "../mod.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { test, within } from "./_helpers.ts";

const echo = { echo: (params: unknown) => params };

test("FIXED: a class with its own toJSON is sent through it even when it extends Error", async () => {
  class AppError extends Error {
    toJSON() {
      return { app: this.message };
    }
  }
  const [a, b] = memoryPair();
  const server = new Peer(a, { handlers: echo });
  const client = new Peer(b);
  assertEquals(await client.call("echo", { e: new AppError("boom") }), { e: { app: "boom" } });
  await client.close();
  await server.closed;
});

test("FIXED: BigInt.prototype.toJSON (the common polyfill) is honoured as JSON.stringify does", async () => {
  const proto = BigInt.prototype as unknown as { toJSON?: () => string };
  proto.toJSON = function (this: bigint) {
    return this.toString();
  };
  try {
    const [a, b] = memoryPair();
    const server = new Peer(a, { handlers: echo });
    const client = new Peer(b);
    assertEquals(await client.call("echo", { n: 2n ** 64n }), { n: "18446744073709551616" });
    await client.close();
    await server.closed;
  } finally {
    delete proto.toJSON;
  }
});

test("a meta value JSON cannot carry fails the call instead of hanging it", async () => {
  const [a, b] = memoryPair();
  const server = new Peer(a, { handlers: echo });
  const client = new Peer(b);
  await within(
    assertRejects(() => client.call("echo", [], { meta: { n: 1n } }), TypeError),
    2000,
    "the call to reject",
  );
  await client.close();
  await server.closed;
});

test("DOC FIXED: outgoing call.meta is a shallow copy; nested objects are the caller's (README said never changed)", async () => {
  const stamp: Interceptor = (call, next) => {
    if (call.direction === "outgoing") {
      call.meta.user = "replaced";
      (call.meta.baggage as Record<string, unknown>).hop = 1;
    }
    return next();
  };
  const [a, b] = memoryPair();
  const server = new Peer(a, { handlers: { seen: (_: unknown, ctx: CallContext) => ctx.meta } });
  const client = new Peer(b, { interceptors: [stamp] });
  const mine: Record<string, unknown> = { user: "u1", baggage: { user: "u1" } };
  assertEquals(await client.call("seen", [], { meta: mine }), {
    user: "replaced",
    baggage: { user: "u1", hop: 1 },
  });
  // Top-level members are the copy's; the nested object was shared, as the docs now say.
  assertEquals(mine, { user: "u1", baggage: { user: "u1", hop: 1 } });
  await client.close();
  await server.closed;
});

test("tagged bytes that are a view into a larger buffer travel as the view", async () => {
  const [a, b] = memoryPair({ dialect: jsonRpcTagged });
  const server = new Peer(a, { handlers: echo });
  const client = new Peer(b);
  const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
  assertEquals(await client.call("echo", [view]), [new Uint8Array([1, 2, 3])]);
  await client.close();
  await server.closed;
});

test("meta keyed __proto__ from the wire stays a plain key", () => {
  const codec = new JsonRpcCodec();
  const message = codec.decode(
    '{"jsonrpc":"2.0","method":"m","id":1,"meta":{"__proto__":{"traceparent":"x"}}}',
  ) as { meta: Record<string, unknown> };
  assertEquals(message.meta.traceparent, undefined);
  assertEquals(Object.getPrototypeOf(message.meta), Object.prototype);
});

test("FIXED: tagged, a class with its own toJSON is sent through it even when it extends Error", async () => {
  class AppError extends Error {
    toJSON() {
      return { app: this.message };
    }
  }
  const [a, b] = memoryPair({ dialect: jsonRpcTagged });
  const server = new Peer(a, { handlers: echo });
  const client = new Peer(b);
  assertEquals(await client.call("echo", [new AppError("boom")]), [{ app: "boom" }]);
  await client.close();
  await server.closed;
});

test("tagged, a BigInt is still a $bigint tag when BigInt.prototype.toJSON is defined", () => {
  const proto = BigInt.prototype as unknown as { toJSON?: () => string };
  proto.toJSON = function (this: bigint) {
    return this.toString();
  };
  try {
    const codec = new JsonRpcCodec({ values: "tagged" });
    assertEquals(
      codec.encode({ kind: "request", id: 1, method: "m", params: [1n] }),
      ['{"jsonrpc":"2.0","method":"m","params":[{"$bigint":"1"}],"id":1}'],
    );
  } finally {
    delete proto.toJSON;
  }
});

test("a Date is still refused by default, and a Date subclass without its own toJSON", () => {
  class Day extends Date {}
  const codec = new JsonRpcCodec();
  for (const value of [new Date(0), new Day(0)]) {
    let threw = false;
    try {
      codec.encode({ kind: "request", id: 1, method: "m", params: [value] });
    } catch {
      threw = true;
    }
    assertEquals(threw, true);
  }
});
