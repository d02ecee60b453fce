// quickrpc's terse codec: its forms, its numbers (Python's %g) and the
// exchanges captured live with the original (tests/fixtures/quickrpc_terse_live.json),
// replayed byte for byte over real loopback sockets.

import { type CallContext, CallTimeout, type Message, Peer, Server } from "../mod.ts";
import { pythonG, quickRpcTerse, QuickRpcTerseCodec } from "../protocol/quickrpc/quickrpc.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { recordingLogger, test, waitFor } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import live from "./fixtures/quickrpc_terse_live.json" with { type: "json" };
import numbers from "./fixtures/quickrpc_terse_numbers.json" with { type: "json" };

type Chunk = [string, string];
const DIALECT = { dialect: quickRpcTerse } as const;

/** Python's repr of a float or int as a number. */
function fromRepr(text: string): number {
  return text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
}

/**
 * Plays the original's side of a captured run on `raw`: its chunks are
 * sent, ours are read and compared byte for byte.
 */
async function replay(raw: RawSocket, chunks: readonly Chunk[], original: "C->S" | "S->C") {
  for (const [direction, text] of chunks) {
    if (direction === original) await raw.send(text);
    else assertEquals(await raw.readLike(text), text, `ours should send ${JSON.stringify(text)}`);
  }
}

/** A fake original server: accepts one connection and replays `chunks`. */
function fakeOriginalServer(chunks: readonly Chunk[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const raw = RawSocket.wrap(await listener.accept());
    try {
      await replay(raw, chunks, "S->C");
      await raw.readToEnd();
    } finally {
      raw.close();
      listener.close();
    }
  })();
  return { url: `tcp://127.0.0.1:${listener.addr.port}`, done };
}

test("pythonG writes every number as Python's b'%g' does (ties to even, exponents of two digits)", () => {
  const wrong = numbers.rows
    .map(([repr, expected]) => [repr, expected, pythonG(fromRepr(repr!))])
    .filter(([, expected, ours]) => expected !== ours);
  assertEquals(wrong, []);
  assertEquals([NaN, Infinity, -Infinity, -0].map(pythonG), ["nan", "inf", "-inf", "-0"]);
});

test("The terse encoder writes what the original's encoder writes", () => {
  const codec = new QuickRpcTerseCodec();
  const { encoder } = live;
  const line = (message: Message) => codec.encode(message)[0] + "\n";
  assertEquals(
    line({ kind: "request", id: 5, method: "add", params: { a: 2, b: 3 } }),
    encoder.request,
  );
  assertEquals(line({ kind: "notification", method: "ping" }), encoder.notification_no_params);
  assertEquals(
    line({ kind: "notification", method: "flag", params: { on: true, off: false } }),
    encoder.bool_true,
  );
  assertEquals(
    codec.encode({
      kind: "result",
      id: 8,
      result: [1, "two", new Uint8Array([3]), { k: [2.5] }],
    }),
    [encoder.reply_list],
  );
  assertEquals(codec.encode({ kind: "result", id: 0, result: 3 }), [encoder.reply_id_0]);
});

test("Terse decodes the original's error reply, traceback and escapes included", () => {
  const codec = new QuickRpcTerseCodec();
  const decoded = codec.decode(live.encoder.error_with_traceback) as Message;
  assertEquals(decoded.kind, "error");
  if (decoded.kind !== "error") return;
  assertEquals(decoded.id, 8);
  assertEquals(decoded.error.code, 0);
  assertEquals(decoded.error.message, 'x "quoted"');
  assert(String(decoded.error.data).endsWith('\n\nValueError: x "quoted"\n'));
});

test("Terse errors carry quickrpc's wording, and none goes to a call without an id", () => {
  const codec = new QuickRpcTerseCodec();
  codec.decode("nosuch/2 ");
  assertEquals(
    codec.encode({ kind: "error", id: 2, error: { code: -32601, message: "Method not found" } }),
    [
      '[2]! message:"Incoming call of nosuch not defined on the api" details:"AttributeError: Incoming call of nosuch not defined on the api\\n"',
    ],
  );
  assertEquals(codec.encode({ kind: "error", id: 0, error: { code: 1, message: "x" } }), []);
  assertEquals(codec.encode({ kind: "error", id: null, error: { code: 1, message: "x" } }), []);
});

test("Terse values round-trip between our peers: strings, bytes, lists, maps, None", () => {
  const codec = new QuickRpcTerseCodec();
  const params = {
    s: 'quote " backslash \\ newline \n tab \t \\n ü',
    end: "ends with a backslash \\",
    b: new Uint8Array([0, 1, 255]),
    l: [1, -2.5, "x", [[]], {}],
    m: { k: "v", nested: { deep: [null] }, "": 1 },
    n: null,
    ["__proto__"]: 7,
  };
  const [frame] = codec.encode({ kind: "request", id: 3, method: "put", params });
  const decoded = codec.decode(frame!) as Message;
  assertEquals(decoded, {
    kind: "request",
    id: 3,
    method: "put",
    params: JSON.parse(JSON.stringify(params, (_k, v) => v instanceof Uint8Array ? "B" : v), (
      _k,
      v,
    ) => v === "B" ? new Uint8Array([0, 1, 255]) : v),
  });
  assertEquals(Object.getPrototypeOf((decoded as { params: object }).params), Object.prototype);
});

test("Terse loses what the original loses: %g precision and booleans as 1 and 0", () => {
  const codec = new QuickRpcTerseCodec();
  const [frame] = codec.encode({
    kind: "notification",
    method: "n",
    params: { big: 1234567, yes: true, safe: 2 ** 53 + 2 },
  });
  assertEquals(frame, "n big:1.23457e+06 yes:1 safe:9.0072e+15");
  assertEquals(codec.decode(frame!), {
    kind: "notification",
    method: "n",
    params: { big: 1234570, yes: 1, safe: 9007200000000000 },
  });
});

test("Terse refuses what it cannot write: by-position params, names with spaces or a map key opening with }, string ids", () => {
  const codec = new QuickRpcTerseCodec();
  assertThrows(() => codec.encode({ kind: "notification", method: "m", params: [1] }), TypeError);
  assertThrows(
    () => codec.encode({ kind: "notification", method: "m", params: { "a b": 1 } }),
    TypeError,
  );
  assertThrows(() => codec.encode({ kind: "notification", method: "a:b" }), TypeError);
  // An empty line would send the original's decoder into an endless loop.
  assertThrows(() => codec.encode({ kind: "notification", method: "" }), TypeError);
  assertThrows(
    () => codec.encode({ kind: "notification", method: "m", params: { m: { "}": 1 } } }),
    TypeError,
  );
  assertThrows(() => codec.encode({ kind: "notification", method: "v/2" }), TypeError);
  assertThrows(() => codec.encode({ kind: "request", id: "x", method: "m" }), TypeError);
  assertThrows(
    () => codec.encode({ kind: "notification", method: "m", params: { f: () => 1 } }),
    TypeError,
  );
});

test("Bad terse input becomes an invalid message, never a throw; a readable id is answered", () => {
  const codec = new QuickRpcTerseCodec();
  const hostile = [
    "add/7 a:[1",
    "x a:",
    "x a:@",
    'x s:"open',
    "x b:'not base64!'",
    "x a 1",
    "[",
    "[x]:1",
    "[1]?",
    "[99999999999999999999]:1",
    "/5 a:1",
    "x m:{a:1",
    "[".repeat(100_000),
    "x a:" + "[".repeat(100_000),
    "\u0000\uffff",
  ];
  for (const frame of hostile) {
    const decoded = codec.decode(frame);
    const messages = Array.isArray(decoded) ? decoded : [decoded];
    assert(messages.length > 0, frame.slice(0, 20));
  }
  assertEquals(codec.decode("add/7 a:[1"), {
    kind: "invalid",
    id: 7,
    error: { code: -32602, message: "unterminated list at position 10" },
    answer: true,
  });
  assertEquals((codec.decode("x a:@") as Message).kind, "invalid");
  assertEquals(codec.decode(""), []);
  assertEquals(codec.decode(" \r"), []);
});

test("A reply the original wrote without a newline is split off the telegram after it", () => {
  const codec = new QuickRpcTerseCodec();
  assertEquals(codec.decode('[0]:3echo text:"after add"'), [
    { kind: "result", id: 0, result: 3 },
    { kind: "notification", method: "echo", params: { text: "after add" } },
  ]);
  assertEquals(codec.decode('[4]! message:"m" details:"d"ping/4 n:41'), [
    { kind: "error", id: 4, error: { code: 0, message: "m", data: "d" } },
    { kind: "request", id: 4, method: "ping", params: { n: 41 } },
  ]);
  // A datagram with several telegrams gives them all.
  assertEquals(codec.decode('echo text:"hi there"\nping/1 n:41\n'), [
    { kind: "notification", method: "echo", params: { text: "hi there" } },
    { kind: "request", id: 1, method: "ping", params: { n: 41 } },
  ]);
});

test("Live replay: our client against the original's terse tcpserv, byte for byte", async () => {
  const run = live.runs.original_server;
  const fake = fakeOriginalServer(run.chunks as Chunk[]);
  const logger = recordingLogger();
  const echoes: unknown[] = [];
  const values: unknown[] = [];
  const pings: number[] = [];
  const client = new Peer(await connect(fake.url, { ...DIALECT, logger }), {
    logger,
    handlers: {
      echo: (params: { text: string }) => void echoes.push(params.text),
      ping: ({ n }: { n: number }) => (pings.push(n), n + 1),
      values: (params: unknown) => void values.push(params),
    },
  });
  await client.notify("say", { text: "hi there" });
  await waitFor(() => pings.length === 1, { message: "the first ping" });
  await client.notify("say", { text: "values" });
  await waitFor(() => values.length === 1, { message: "the values" });
  const types = {
    i: 1234567,
    f: 0.1,
    s: 'a"b\\c\nd\tü',
    b: new Uint8Array([0, 1, 255]),
    l: [1, "x", [2.5]],
    d: { k: 1 },
    t: true,
  };
  await client.notify("types", { ...types, n: null });
  await client.notify("types", types);
  await client.notify("fail", {});
  // The original takes `add/1` for a method name and never answers.
  await assertRejects(() => client.call("add", { a: 1, b: 2 }, { timeout: 200 }), CallTimeout);
  await client.notify("add", { a: 1, b: 2 });
  await client.notify("say", { text: "after add" });
  await waitFor(() => pings.length === 2, { message: "the second ping" });
  await client.close();
  await fake.done;
  assertEquals(echoes, ["hi there", "values", "after add"]);
  assertEquals(values, [{
    i: 1234570,
    f: 0.1,
    s: 'a"b\\c\nd\tü',
    b: new Uint8Array([0, 1, 255]),
    l: [1, "x", [2.5]],
    d: { k: 1, n: { m: "v" } },
    t: 1,
    big: 9007200000000000,
    small: 0.00001,
  }]);
  assertEquals(pings, [41, 41]);
});

test("Live replay: the original's terse client against our server, byte for byte", async () => {
  const run = live.runs.original_client;
  const seen: unknown[] = [];
  const server = new Server({
    ...DIALECT,
    logger: recordingLogger(),
    handlers: {
      say: async ({ text }: { text: string }, ctx: CallContext) => {
        seen.push(text);
        await ctx.peer.notify("echo", { text });
      },
      add: ({ a, b }: { a: number; b: number }) => a + b,
      types: (params: unknown) => void seen.push(params),
    },
  }).serve(listen("tcp://127.0.0.1:0", DIALECT));
  const raw = await RawSocket.connect(server.addr);
  try {
    await replay(raw, run.chunks as Chunk[], "C->S");
  } finally {
    raw.close();
    await server.shutdown();
  }
  assertEquals(seen, [
    "hi there",
    {
      i: 1234570,
      f: 0.1,
      s: 'a"b\\c\nd\tü',
      b: new Uint8Array([0, 1, 255]),
      l: [1, "x", [2.5]],
      d: { k: 1, n: { m: "v" } },
      t: 1,
      big: 9007200000000000,
      small: 0.00001,
      neg: -0,
    },
    "bye",
  ]);
});

test("Terse request and reply both ways between our peers over TCP", async () => {
  const server = new Server({
    ...DIALECT,
    logger: recordingLogger(),
    handlers: {
      add: ({ a, b }: { a: number; b: number }) => a + b,
      blob: ({ data }: { data: Uint8Array }) => data.toReversed(),
      nothing: () => undefined,
      fail: () => {
        throw new Error('bad "input"');
      },
    },
  }).serve(listen("tcp://127.0.0.1:0", DIALECT));
  const client = new Peer(await connect(server.addr, DIALECT), { logger: recordingLogger() });
  try {
    assertEquals(await client.call("add", { a: 2, b: 3 }), 5);
    assertEquals(
      await client.call("blob", { data: new Uint8Array([1, 2, 3]) }),
      new Uint8Array([3, 2, 1]),
    );
    assertEquals(await client.call("nothing"), null);
    const error = await assertRejects(() => client.call("fail"), Error);
    assertEquals(error.message, 'bad "input"');
    const missing = await assertRejects(() => client.call("nosuch"), Error);
    assertEquals(missing.message, "Incoming call of nosuch not defined on the api");
  } finally {
    await client.close();
    await server.shutdown();
  }
});

test("Random values survive a terse round trip between our peers (numbers of six digits)", () => {
  let state = 7;
  const next = (n: number) =>
    Math.floor((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 * n);
  const chars = ['"', "\\", "n", "\n", " ", ":", "}", "]", "'", "ü", "\t", "a", "[", "{"];
  const value = (depth: number): unknown => {
    switch (next(depth > 3 ? 4 : 7)) {
      case 0:
        return next(2) === 0 ? next(2_000_000) - 1_000_000 : (next(200_000) - 100_000) / 2; // <= 6 digits
      case 1:
        return Array.from({ length: next(8) }, () => chars[next(chars.length)]).join("");
      case 2:
        return Uint8Array.from({ length: next(6) }, () => next(256));
      case 3:
        return null;
      case 4:
        return Array.from({ length: next(4) }, () => value(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: next(4) }, (_, i) => [`k${i}`, value(depth + 1)]),
        );
    }
  };
  const codec = new QuickRpcTerseCodec();
  for (let i = 0; i < 2000; i++) {
    const params = { v: value(0) };
    const [frame] = codec.encode({ kind: "notification", method: "m", params });
    assertEquals(codec.decode(frame!), { kind: "notification", method: "m", params }, frame);
  }
});
