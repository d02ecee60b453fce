import { type CallContext, memoryPair, Peer, RemoteError, RpcError, Server } from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { Contract, defineContract, type Implementation } from "../contract.ts";
import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./_assert.ts";
import { peerPair, recordingLogger, test } from "./_helpers.ts";

// Exact type equality, checked by `deno check` (a failing case does not compile).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function assertType<_T extends true>(): void {}

const Shop = defineContract({
  name: "shop",
  incoming: {
    order: {
      params: {
        type: "object",
        properties: {
          sku: { type: "string", pattern: "^[A-Z]-\\d+$" },
          quantity: { type: "integer", minimum: 1 },
          gift: { type: "boolean" },
        },
        required: ["sku", "quantity"],
        additionalProperties: false,
      },
      result: {
        type: "object",
        properties: { orderId: { type: "string" }, total: { type: "number" } },
        required: ["orderId", "total"],
      },
    },
    subtract: {
      params: {
        type: "object",
        properties: { minuend: { type: "number" }, subtrahend: { type: "number" } },
        required: ["minuend", "subtrahend"],
      },
      result: { type: "number" },
    },
    ping: { result: { const: "pong" } },
    audit: {
      notification: true,
      params: { type: "object", properties: { line: { type: "string" } }, required: ["line"] },
    },
  },
  outgoing: {
    shipped: {
      notification: true,
      params: {
        type: "object",
        properties: { orderId: { type: "string" } },
        required: ["orderId"],
      },
    },
    confirm: { params: { type: "array", items: { type: "string" } }, result: { type: "boolean" } },
  },
});

test("defineContract() types the implementation and the proxy from the schemas", () => {
  type Impl = Implementation<typeof Shop.incoming>;
  type OrderParams = Parameters<Impl["order"]>[0];
  assertType<Equal<OrderParams, { sku: string; quantity: number; gift?: boolean }>>();
  type OrderResult = Awaited<ReturnType<Impl["order"]>>;
  assertType<Equal<OrderResult, { orderId: string; total: number; [key: string]: unknown }>>();
  assertType<Equal<Parameters<Impl["ping"]>[0], undefined>>();
  // A notification handler may return anything: nobody sees it.
  assertType<Equal<ReturnType<Impl["audit"]>, unknown>>();

  const client = Shop.invert();
  type ClientRemote = ReturnType<typeof client.remote>;
  assertType<Equal<Awaited<ReturnType<ClientRemote["ping"]>>, "pong">>();
  assertType<Equal<Awaited<ReturnType<ClientRemote["audit"]>>, void>>();
  type ServerRemote = ReturnType<typeof Shop.remote>;
  assertType<Equal<Parameters<ServerRemote["confirm"]>[0], string[]>>();
  assertEquals(Object.keys(client.incoming), ["shipped", "confirm"]);
  assertEquals(Object.keys(client.outgoing), ["order", "subtract", "ping", "audit"]);
});

function shopServer(peer: Peer, audit: string[] = []) {
  Shop.implement(peer, {
    order: ({ sku, quantity }) => ({ orderId: `${sku}x${quantity}`, total: quantity * 2.5 }),
    subtract: ({ minuend, subtrahend }) => minuend - subtrahend,
    ping: () => "pong" as const,
    audit: ({ line }) => void audit.push(line),
  });
}

test("Contract.implement() and remote() work end to end", async () => {
  const audit: string[] = [];
  const { server, client, close } = peerPair();
  shopServer(server, audit);
  const shop = Shop.invert().remote(client);
  assertEquals(await shop.order({ sku: "A-1", quantity: 2 }), { orderId: "A-1x2", total: 5 });
  assertEquals(await shop.ping(), "pong");
  await shop.audit({ line: "checked" });
  assertEquals(await shop.subtract({ minuend: 42, subtrahend: 23 }), 19);
  assertEquals(audit, ["checked"]);
  await close();
});

test("Contract answers invalid params with -32602 and the path in data", async () => {
  const { server, client, close } = peerPair();
  shopServer(server);
  const cases: [unknown, string, string][] = [
    [{ sku: "A-1" }, "/quantity", "is required"],
    [{ sku: "A-1", quantity: 0 }, "/quantity", "must be >= 1"],
    [{ sku: "A-1", quantity: 1.5 }, "/quantity", "must be integer"],
    [{ sku: "bad", quantity: 1 }, "/sku", 'must match pattern "^[A-Z]-\\d+$"'],
    [{ sku: "A-1", quantity: 1, extra: true }, "/extra", "is not allowed"],
    [[], "/sku", "is required"],
  ];
  for (const [params, path, message] of cases) {
    // Raw calls skip the client-side check, so the server's answer is tested.
    const error = await assertRejects(() => client.call("order", params), RemoteError);
    assertEquals(error.code, -32602);
    assertEquals(error.message, `Invalid params: ${path || "(value)"} ${message}`);
    assertEquals((error.data as { path: string }[])[0]!.path, path);
    assertEquals((error.data as { message: string }[])[0]!.message, message);
  }
  await close();
});

test("Contract accepts by-position params in the order of the properties", async () => {
  const { server, client, close } = peerPair();
  shopServer(server);
  assertEquals(await client.call("subtract", [42, 23]), 19);
  assertEquals(await client.call("subtract", [23, 42]), -19);
  const tooMany = await assertRejects(() => client.call("subtract", [1, 2, 3]), RemoteError);
  assertEquals(tooMany.code, -32602);
  assertStringIncludes(tooMany.message, "at most 2 by position");
  const missing = await assertRejects(() => client.call("subtract", [1]), RemoteError);
  assertEquals(missing.message, "Invalid params: /subtrahend is required");
  await close();
});

test("Contract refuses params for a method that declares none", async () => {
  const { server, client, close } = peerPair();
  shopServer(server);
  assertEquals(await client.call("ping", []), "pong");
  assertEquals(await client.call("ping", {}), "pong");
  const error = await assertRejects(() => client.call("ping", [1]), RemoteError);
  assertEquals([error.code, error.message], [-32602, "Invalid params: 'ping' takes none"]);
  await close();
});

test("Contract answers a result that breaks its schema with -32603 and logs it", async () => {
  const logger = recordingLogger();
  const Broken = defineContract({
    name: "broken",
    incoming: { count: { result: { type: "integer" } } },
  }, { logger });
  const { server, client, close } = peerPair();
  Broken.implement(server, { count: () => "many" as unknown as number });
  const error = await assertRejects(() => client.call("count"), RemoteError);
  assertEquals(error.toJSON(), {
    code: -32603,
    message: "Internal error",
    data: { reason: "the result does not match the contract" },
  });
  assertEquals(logger.messages("error"), [
    "broken: the result of 'count' breaks its schema: (value) must be integer",
  ]);
  await close();
});

test("Contract.remote() checks params before sending and results on arrival", async () => {
  const { server, client, close } = peerPair({ handlers: { confirm: () => "yes" } });
  let sent = 0;
  server.handle("count", () => ++sent);
  const remote = Shop.remote(client);
  const bad = await assertRejects(() => remote.confirm([1] as unknown as string[]), RpcError);
  assertEquals([bad.code, bad.message], [-32602, "Invalid params: /0 must be string"]);
  await assertRejects(
    () => remote.shipped({} as { orderId: string }),
    RpcError,
    "Invalid params: /orderId is required",
  );
  const wrong = await assertRejects(() => remote.confirm(["x"]), RpcError);
  assertEquals([wrong.code, wrong.message], [
    -32603,
    "Invalid result from 'confirm': (value) must be boolean",
  ]);
  // The invalid calls never reached the server.
  assertEquals(await client.call("count"), 1);
  await close();
});

test("Contract validates notifications and logs the failure (no reply)", async () => {
  const audit: string[] = [];
  const serverLogger = recordingLogger();
  const { server, client, close } = peerPair({ logger: serverLogger });
  shopServer(server, audit);
  await client.notify("audit", { line: 5 });
  assertEquals(await client.call("ping"), "pong");
  assertEquals(audit, []);
  assertEquals(serverLogger.messages("warn"), ["memory: notification 'audit' failed"]);
  await close();
});

test("Contract handlers receive the call context", async () => {
  const Api = defineContract({ incoming: { who: { result: { type: "string" } } } });
  const { server, client, close } = peerPair();
  Api.implement(server, { who: (_p: undefined, ctx: CallContext) => `${ctx.method}#${ctx.id}` });
  assertEquals(await client.call("who"), "who#1");
  await close();
});

test("defineContract() fails early on a broken schema, naming the method", () => {
  assertThrows(
    () => defineContract({ incoming: { bad: { params: { type: "nonsense" } } } }),
    TypeError,
    "the params of 'bad': Invalid schema",
  );
  assertThrows(
    () => defineContract({ incoming: { bad: { result: { type: "string", format: "e-mail" } } } }),
    TypeError,
    'unknown format "e-mail"',
  );
  assertThrows(
    () => defineContract({ incoming: { "rpc.x": {} } }),
    TypeError,
    "reserved",
  );
});

test("Contract formats option adds named formats", async () => {
  const Api = defineContract(
    {
      incoming: { check: { params: { type: "array", items: { type: "string", format: "sku" } } } },
    },
    { formats: { sku: /^[A-Z]-\d+$/ } },
  );
  const { server, client, close } = peerPair();
  Api.implement(server, { check: () => true });
  assertEquals(await client.call("check", ["A-1"]), true);
  const error = await assertRejects(() => client.call("check", ["nope"]), RemoteError);
  assertEquals(error.message, 'Invalid params: /0 must match format "sku"');
  await close();
});

test("Contract.implement() refuses a missing implementation", async () => {
  const [a, b] = memoryPair();
  const peer = new Peer(a);
  assertThrows(
    () => Shop.implement(peer, {} as Implementation<typeof Shop.incoming>),
    TypeError,
    "shop: no implementation for 'order'",
  );
  await peer.close();
  await b.closed;
});

test("Contract.invert() shares compiled schemas and swaps directions twice back", () => {
  const twice = Shop.invert().invert();
  assertEquals(Object.keys(twice.incoming), Object.keys(Shop.incoming));
  assertEquals(twice.name, "shop");
  const plain = new Contract({ incoming: { a: {} } });
  assertEquals(plain.name, "contract");
});

const Feed = defineContract({
  name: "feed",
  incoming: { subscribe: { params: { type: "array", items: { type: "string" } } } },
  outgoing: {
    post: {
      notification: true,
      params: {
        type: "object",
        properties: { text: { type: "string" } },
        required: ["text"],
        additionalProperties: false,
      },
    },
    version: { result: { type: "string" } },
  },
});

test("a notification's implementation may return anything", () => {
  const impl: Implementation<{ post: { notification: true; params: { type: "object" } } }> = {
    post: () => 42,
  };
  assertEquals(impl.post({}, undefined as never), 42);
  const clientImpl: Implementation<ReturnType<typeof Feed.invert>["incoming"]> = {
    post: ({ text }) => text.length,
    version: () => "1.0",
  };
  assertEquals(clientImpl.post({ text: "abc" }, undefined as never), 3);
});

test("Contract.broadcast() notifies every connection, typed and checked", async () => {
  const server = new Server({ logger: recordingLogger() }).serve(listen("tcp://127.0.0.1:0"));
  const heard: unknown[][] = [[], []];
  const clients = await Promise.all([0, 1].map(async (i) => {
    const peer = new Peer(await connect(server.addr), { logger: recordingLogger() });
    Feed.invert().implement(peer, {
      post: (params) => heard[i]!.push(params),
      version: () => `v${i}`,
    });
    await peer.call("rpc.ping");
    return peer;
  }));
  const feed = Feed.broadcast(server);
  assertType<Equal<Parameters<typeof feed.post>, [params: { text: string }]>>();
  assertEquals(await feed.post({ text: "hello" }), 2);
  // Bad params are refused before anything is sent.
  const error = await assertRejects(
    () => feed.post({ text: 1 } as unknown as { text: string }),
    RpcError,
  );
  assertEquals(error.code, -32602);
  // Calls fan out too; each outcome is by connection id.
  const versions = await feed.version();
  assertEquals(
    [...versions.values()].map((o) => o.status === "fulfilled" ? o.value : o.reason),
    ["v0", "v1"],
  );
  // Only the chosen connections.
  const [first] = server.connections.keys();
  assertEquals(await Feed.broadcast(server, { to: [first!] }).post({ text: "only one" }), 1);
  await Promise.all(clients.map((c) => c.call("rpc.ping")));
  assertEquals(heard, [[{ text: "hello" }, { text: "only one" }], [{ text: "hello" }]]);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

test("Contract.broadcast() turns a result that breaks its schema into a rejection", async () => {
  const server = new Server({ logger: recordingLogger() }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr), {
    handlers: { version: () => 3 },
    logger: recordingLogger(),
  });
  await client.call("rpc.ping");
  const outcomes = await Feed.broadcast(server).version();
  const [outcome] = outcomes.values();
  assertEquals(outcome?.status, "rejected");
  const reason = (outcome as PromiseRejectedResult).reason as RpcError;
  assertEquals(reason.code, -32603);
  assertStringIncludes(reason.message, "Invalid result from 'version'");
  await client.close();
  await server.shutdown();
});

test("a contract with prefixItems types and checks its tuples", async () => {
  const Geo = defineContract({
    incoming: {
      move: {
        params: {
          type: "array",
          prefixItems: [{ type: "number" }, { type: "number" }, { enum: ["m", "km"] }],
          items: false,
        },
        result: { type: "string" },
      },
    },
  });
  type Params = Parameters<Implementation<typeof Geo.incoming>["move"]>[0];
  assertType<Equal<Params, [number, number, "m" | "km"]>>();
  const { client, server, close } = peerPair();
  Geo.implement(server, { move: ([x, y, unit]) => `${x},${y} ${unit}` });
  const remote = Geo.invert().remote(client);
  assertEquals(await remote.move([1, 2, "km"]), "1,2 km");
  const error = await assertRejects(
    () => client.call("move", [1, 2, "mi"]),
    RemoteError,
  );
  assertEquals(error.code, -32602);
  await close();
});

test("defineContract() names the method and path of an unknown keyword", () => {
  assertThrows(
    () =>
      defineContract({
        incoming: {
          add: {
            params: { type: "object", properties: { a: { type: "number", minimun: 0 } } },
          },
        },
      }),
    TypeError,
    `the params of 'add': Invalid schema: unknown keyword "minimun" at /properties/a/minimun`,
  );
});
