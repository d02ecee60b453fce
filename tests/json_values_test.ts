// Values JSON cannot carry over JSON-RPC: refused by default with a message
// naming the value and where it is (call side and reply side, over memory and
// TCP); carried as tags with values: "tagged"; the escape; bad tags; the
// frame limit on tagged replies; and the worker wire, which clones them.

import {
  JsonRpcCodec,
  jsonRpcTagged,
  memoryPair,
  Peer,
  type PeerOptions,
  RemoteError,
  RpcError,
  Server,
} from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { connect as connectWorker } from "../transports/worker.ts";
import { connect as connectHttp, listen as listenHttp } from "../transports/http.ts";
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { recordingLogger } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

const HINT = 'convert it, or use values: "tagged" (the jsonRpcTagged dialect) on both sides';

/** Every value refused by default, the path it is sent at, and what the message says. */
const REFUSED: [string, unknown, string][] = [
  [
    "a Date",
    { when: new Date(0) },
    "params.when: a Date cannot be sent as plain JSON (it would arrive as a string)",
  ],
  [
    "a Map",
    [new Map([["a", 1]])],
    "params[0]: a Map cannot be sent as plain JSON (it would arrive as {})",
  ],
  [
    "a Set",
    { s: new Set([1]) },
    "params.s: a Set cannot be sent as plain JSON (it would arrive as {})",
  ],
  ["a BigInt", { n: 1n }, "params.n: a BigInt cannot be sent as plain JSON (JSON has no BigInt)"],
  ["NaN", [NaN], "params[0]: NaN cannot be sent as plain JSON (it would arrive as null)"],
  ["Infinity", { x: Infinity }, "params.x: Infinity cannot be sent as plain JSON"],
  ["-Infinity", { x: -Infinity }, "params.x: -Infinity cannot be sent as plain JSON"],
  [
    "a Uint8Array",
    { "a b": new Uint8Array(2) },
    'params["a b"]: a Uint8Array cannot be sent as plain JSON (it would arrive as an object of indices)',
  ],
  [
    "an ArrayBuffer",
    [new ArrayBuffer(1)],
    "params[0]: an ArrayBuffer cannot be sent as plain JSON",
  ],
  ["a RegExp", { re: /x/ }, "params.re: a RegExp cannot be sent as plain JSON"],
  ["an Error", { e: new Error("x") }, "params.e: an Error cannot be sent as plain JSON"],
];

/** A peer on one end of a memory pair, and the frames the other end receives. */
function rawClient(options: PeerOptions = {}) {
  const [a, b] = memoryPair<string>();
  const client = new Peer(a, { logger: recordingLogger(), ...options });
  return {
    client,
    raw: b,
    close: async () => {
      await b.close();
      await client.closed;
    },
  };
}

/** A client and a server peer over a memory pair speaking `dialect`. */
function pair(handlers: PeerOptions["handlers"], tagged = false) {
  const [a, b] = memoryPair<string>(tagged ? { dialect: jsonRpcTagged } : {});
  const logger = recordingLogger();
  const server = new Peer(a, { logger, handlers });
  const client = new Peer(b, { logger: recordingLogger() });
  return {
    client,
    logger,
    close: async () => {
      await client.close();
      await server.closed;
    },
  };
}

Deno.test("By default, a call or notification with a value JSON cannot carry fails before anything is sent", async () => {
  const { client, raw, close } = rawClient();
  for (const [what, params, message] of REFUSED) {
    const error = await assertRejects(() => client.call("m", params), TypeError, message, what);
    assertStringIncludes(error.message, HINT);
    await assertRejects(() => client.notify("m", params), TypeError, message, what);
  }
  // Nothing went out: the first frame the other end sees is the next good call.
  await client.notify("ok", [1]);
  assertEquals(raw.take(), '{"jsonrpc":"2.0","method":"ok","params":[1]}');
  await close();
});

Deno.test("The message names a nested value's whole path", () => {
  const codec = new JsonRpcCodec();
  const params = { items: [{ id: 1 }, { id: 2, tags: { seen: [0, new Set()] } }] };
  assertThrows(
    () => codec.encode({ kind: "request", id: 1, method: "m", params }),
    TypeError,
    "params.items[1].tags.seen[1]: a Set cannot be sent as plain JSON",
  );
  // A class instance's own fields are walked too.
  class Point {
    constructor(readonly x: number, readonly at: Date) {}
  }
  assertThrows(
    () => codec.encode({ kind: "notification", method: "m", params: [new Point(1, new Date())] }),
    TypeError,
    "params[0].at: a Date cannot be sent",
  );
});

Deno.test("By default, values JSON carries as the user meant are sent as JSON.stringify writes them", () => {
  const codec = new JsonRpcCodec();
  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }
  const params = {
    own: { toJSON: () => "mine" }, // its own toJSON: the user's choice
    point: new Point(1, 2),
    gone: undefined,
    list: [undefined, -0, 1.5, "s", true, null],
    nullProto: Object.assign(Object.create(null), { a: 1 }),
  };
  assertEquals(codec.encode({ kind: "notification", method: "m", params }), [
    `{"jsonrpc":"2.0","method":"m","params":${JSON.stringify(params)}}`,
  ]);
  // A cycle is still refused by JSON.stringify itself.
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assertThrows(
    () => codec.encode({ kind: "notification", method: "m", params: cycle }),
    TypeError,
    "circular",
  );
});

Deno.test("By default, a result JSON cannot carry becomes -32603 saying which value, and the server logs it", async () => {
  const { client, logger, close } = pair({
    date: () => ({ when: new Date(0) }),
    nested: () => [{ ok: 1 }, { tags: new Set(["a"]) }],
    big: () => 1n,
    fails: () => {
      throw new RpcError(7, "Custom", { at: new Map() });
    },
  });
  const cases: [string, string][] = [
    ["date", "result.when: a Date cannot be sent as plain JSON (it would arrive as a string)"],
    ["nested", "result[1].tags: a Set cannot be sent as plain JSON"],
    ["big", "result: a BigInt cannot be sent as plain JSON"],
    ["fails", "error.data.at: a Map cannot be sent as plain JSON"],
  ];
  for (const [method, message] of cases) {
    const error = await assertRejects(() => client.call(method), RemoteError);
    assertEquals([error.code, error.message], [-32603, "Internal error"], method);
    assertStringIncludes(error.data as string, message);
    assertStringIncludes(error.data as string, HINT);
  }
  assertEquals(logger.messages("error").length, 4);
  await close();
});

Deno.test("Over TCP, a value JSON cannot carry fails the call, and a result holding one fails clearly", async () => {
  const server = new Server({
    logger: recordingLogger(),
    handlers: { echo: (params) => params, later: () => ({ at: new Date(0) }) },
  }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  try {
    await assertRejects(
      () => client.call("echo", { when: new Date(0) }),
      TypeError,
      "params.when: a Date cannot be sent as plain JSON",
    );
    const error = await assertRejects(() => client.call("later"), RemoteError);
    assertEquals(error.code, -32603);
    assertStringIncludes(error.data as string, "result.at: a Date cannot be sent as plain JSON");
    // The connection is still good.
    assertEquals(await client.call("echo", [1, "two"]), [1, "two"]);
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("Over HTTP, a result JSON cannot carry is answered -32603 saying so, alone or in a batch", async () => {
  const server = new Server({
    logger: recordingLogger(),
    handlers: { later: () => new Date(0), ok: () => 1 },
  }).serve(listenHttp("http://127.0.0.1:0/rpc"));
  const client = new Peer(await connectHttp(server.addr), { logger: recordingLogger() });
  try {
    await assertRejects(() => client.call("ok", [new Set()]), TypeError, "params[0]: a Set");
    const error = await assertRejects(() => client.call("later"), RemoteError);
    assertEquals(error.code, -32603);
    assertStringIncludes(error.data as string, "result: a Date cannot be sent as plain JSON");
    const response = await fetch(server.addr, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '[{"jsonrpc":"2.0","method":"ok","id":1},{"jsonrpc":"2.0","method":"later","id":2}]',
    });
    const [first, second] = await response.json();
    assertEquals(first, { jsonrpc: "2.0", result: 1, id: 1 });
    assertEquals([second.id, second.error.code], [2, -32603]);
    // The endpoint still serves.
    assertEquals(await client.call("ok"), 1);
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("Over HTTP with batching, a call JSON cannot carry fails alone; the rest of its batch goes", async () => {
  const server = new Server({ logger: recordingLogger(), handlers: { echo: (params) => params } })
    .serve(listenHttp("http://127.0.0.1:0/rpc"));
  const client = new Peer(await connectHttp(server.addr, { batch: { maxBatch: 3 } }), {
    logger: recordingLogger(),
  });
  try {
    const [first, bad, last] = await Promise.allSettled([
      client.call("echo", [1]),
      client.call("echo", [NaN]),
      client.call("echo", [3]),
    ]);
    assertEquals(first, { status: "fulfilled", value: [1] });
    assertEquals(last, { status: "fulfilled", value: [3] });
    assert(bad.status === "rejected" && bad.reason instanceof TypeError);
    assertStringIncludes(bad.reason.message, "params[0]: NaN cannot be sent as plain JSON");
  } finally {
    await client.close();
    await server.shutdown();
  }
});

/** Every value tagging carries, nested in each other. */
function everything() {
  return {
    big: 12345678901234567890n,
    negative: -5n,
    when: new Date(Date.UTC(2024, 1, 29, 12)),
    invalid: new Date(NaN),
    bytes: new Uint8Array([0, 1, 254, 255]),
    map: new Map<unknown, unknown>([["a", 1], [2n, new Set([new Date(0)])], [{ k: 1 }, null]]),
    set: new Set([1, "one", new Uint8Array([1])]),
    numbers: [NaN, Infinity, -Infinity, 0, 1.5],
    plain: { a: [1, { b: "c" }] },
  };
}

Deno.test("With values tagged, BigInt, Date, Uint8Array, Map, Set, NaN and Infinity round-trip, nested", async () => {
  const { client, close } = pair({ echo: (params) => params }, true);
  const value = everything();
  const back = await client.call("echo", value) as ReturnType<typeof everything>;
  assertEquals(back, value);
  assertInstanceOf(back.bytes, Uint8Array);
  assertInstanceOf(back.map, Map);
  assertEquals(typeof back.big, "bigint");
  await close();
});

Deno.test("The tagged encoding writes the documented tags", () => {
  const codec = new JsonRpcCodec({ values: "tagged" });
  const params = [
    123n,
    new Date(0),
    new Date(NaN),
    new Uint8Array([1, 2]),
    new Map([["a", 1]]),
    new Set([1]),
    NaN,
    Infinity,
    -Infinity,
    { $date: "x" },
  ];
  const [frame] = codec.encode({ kind: "notification", method: "m", params });
  assertEquals(JSON.parse(frame!).params, [
    { $bigint: "123" },
    { $date: "1970-01-01T00:00:00.000Z" },
    { $date: null },
    { $bytes: "AQI=" },
    { $map: [["a", 1]] },
    { $set: [1] },
    { $number: "NaN" },
    { $number: "Infinity" },
    { $number: "-Infinity" },
    { $escape: { $date: "x" } },
  ]);
  // Plain values are written exactly as the plain codec writes them.
  const plain = { kind: "request", id: 1, method: "m", params: { a: [1, "x"] } } as const;
  assertEquals(codec.encode(plain), new JsonRpcCodec().encode(plain));
});

Deno.test("With values tagged, user objects that look like tags round-trip unchanged", async () => {
  const { client, close } = pair({ echo: (params) => params }, true);
  const lookalikes = [
    { $date: "not a date" },
    { $bigint: 1 },
    { $escape: { $set: [1] } },
    { $map: new Map([["$bytes", { $bytes: "AQI=" }]]) },
    { $date: "x", other: 1 }, // two members: never a tag, sent as is
    { $ref: "#/a" }, // not one of the tags
  ];
  assertEquals(await client.call("echo", lookalikes), lookalikes);
  await close();
});

Deno.test("With values tagged, a value tagging cannot carry fails clearly on both sides", async () => {
  const { client, close } = pair({ floats: () => ({ f: new Float64Array(1) }) }, true);
  await assertRejects(
    () => client.call("floats", [new WeakMap()]),
    TypeError,
    "params[0]: a WeakMap cannot be sent, even tagged (tagged JSON carries BigInt, Date, Uint8Array, Map, Set, NaN and ±Infinity)",
  );
  const error = await assertRejects(() => client.call("floats"), RemoteError);
  assertEquals(error.code, -32603);
  assertStringIncludes(
    error.data as string,
    "result.f: a Float64Array cannot be sent, even tagged",
  );
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  await assertRejects(
    () => client.call("floats", cycle),
    TypeError,
    "nested more than 512 deep (or a cycle)",
  );
  await close();
});

Deno.test("With values tagged, a tag that cannot be read is Invalid params, or an error for the caller", async () => {
  const codec = new JsonRpcCodec({ values: "tagged" });
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":"m","params":{"n":{"$bigint":"1.5"}},"id":4}'),
    {
      kind: "invalid",
      id: 4,
      error: {
        code: -32602,
        message: "Invalid params",
        data: 'params.n: a $bigint tag needs a decimal string of at most 4300 digits, not "1.5"',
      },
      answer: true,
    },
  );
  assertEquals(codec.decode('{"jsonrpc":"2.0","result":[{"$map":[[1]]}],"id":5}'), {
    kind: "error",
    id: 5,
    error: {
      code: -32700,
      message: "Parse error",
      data: "result[0]: a $map tag needs an array of [key, value] pairs, not an array",
    },
  });
  // Reading a BigInt is superlinear in its digits: one of more than 4300 is refused.
  const huge = codec.decode(
    `{"jsonrpc":"2.0","method":"m","params":[{"$bigint":"${"9".repeat(4301)}"}],"id":6}`,
  );
  assertEquals((huge as { error: { code: number } }).error.code, -32602);
  assertThrows(
    () => codec.encode({ kind: "request", id: 1, method: "m", params: [10n ** 4300n] }),
    TypeError,
    "params[0]: a BigInt of more than 4300 digits cannot be sent",
  );
  assertEquals(
    codec.decode(`{"jsonrpc":"2.0","result":{"$bigint":"-${"9".repeat(4300)}"},"id":7}`),
    { kind: "result", id: 7, result: -(10n ** 4300n - 1n) },
  );
  const bad = codec.decode('{"jsonrpc":"2.0","method":"m","params":[{"$date":"soon"}]}');
  assertEquals((bad as { kind: string; answer: boolean }).answer, false); // a notification: logged
  // Over a pair: the server answers -32602 and the call fails with it.
  const [a, b] = memoryPair<string>({ dialect: jsonRpcTagged });
  const server = new Peer(a, { logger: recordingLogger(), handlers: { m: () => 1 } });
  await b.send('{"jsonrpc":"2.0","method":"m","params":[{"$bytes":"not base64!"}],"id":1}');
  const reply = JSON.parse(await b.frames[Symbol.asyncIterator]().next().then((r) => r.value!));
  assertEquals(reply.error, {
    code: -32602,
    message: "Invalid params",
    data: 'params[0]: a $bytes tag needs a base64 string, not "not base64!"',
  });
  await b.close();
  await server.closed;
});

Deno.test("A plain JSON-RPC peer sees a tagged peer's tags as ordinary objects", () => {
  const codec = new JsonRpcCodec({ values: "tagged" });
  const [frame] = codec.encode({ kind: "request", id: 1, method: "m", params: [new Date(0), 2n] });
  assertEquals(new JsonRpcCodec().decode(frame!), {
    kind: "request",
    id: 1,
    method: "m",
    params: [{ $date: "1970-01-01T00:00:00.000Z" }, { $bigint: "2" }],
  });
});

Deno.test("Over TCP with the jsonRpcTagged dialect, values round-trip and replies to a batch over the limit are still refused", async () => {
  const server = new Server({
    logger: recordingLogger(),
    handlers: { echo: (params) => params, bytes: ([n]: [number]) => new Uint8Array(n) },
  }).serve(listen("tcp://127.0.0.1:0", { dialect: { ...jsonRpcTagged, maxFrameBytes: 1024 } }));
  const client = new Peer(await connect(server.addr, { dialect: jsonRpcTagged }), {
    logger: recordingLogger(),
  });
  const raw = await RawSocket.connect(server.addr);
  try {
    const value = everything();
    assertEquals(await client.call("echo", value), value);
    assertEquals(await client.call("bytes", [400]), new Uint8Array(400));
    // Three replies of 400 bytes each are 3 x 536 characters of base64: over 1024.
    const call = (id: number) => `{"jsonrpc":"2.0","method":"bytes","params":[400],"id":${id}}`;
    await raw.send(`[${call(1)},${call(2)},${call(3)}]\n`);
    const reply = JSON.parse(await raw.readFrame());
    assertEquals([reply.id, reply.error.code, reply.error.message], [
      null,
      -32001,
      "Reply too large",
    ]);
  } finally {
    raw.close();
    await client.close();
    await server.shutdown();
  }
});

Deno.test("The worker wire still carries Date, Map, Set, BigInt and bytes as themselves", async () => {
  const worker = new Worker(new URL("./_worker_echo.ts", import.meta.url), { type: "module" });
  const peer = new Peer(connectWorker(worker), { logger: recordingLogger() });
  try {
    const value = [new Date(5), new Map([["k", new Set([1n])]]), new Uint8Array([9]), NaN];
    const back = await peer.call("echo", value);
    assertEquals(back, value);
    assert(Array.isArray(back) && back[0] instanceof Date);
  } finally {
    await peer.close();
  }
});
