// quickrpc over real loopback sockets, byte for byte against the captured
// exchanges of the original (tests/fixtures/quickrpc_captured.json).

import { type CallContext, Peer, RpcError, Server } from "../mod.ts";
import { defineContract } from "../contract.ts";
import {
  hmacSecurity,
  noSecurity,
  parseQuickRpcTransport,
  quickRpc,
  secureListener,
  secureTransport,
} from "../protocol/quickrpc/quickrpc.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./_assert.ts";
import { type RecordingLogger, recordingLogger, test } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import captured from "./fixtures/quickrpc_captured.json" with { type: "json" };

const NUL = { dialect: quickRpc } as const;

const Api = defineContract({
  incoming: {
    add: {
      params: {
        type: "object",
        properties: { a: {}, b: {} },
        required: ["a", "b"],
        additionalProperties: false,
      },
    },
  },
});

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The server the captures were taken from. */
function quickServer(logger: RecordingLogger = recordingLogger()) {
  const server = new Server({
    dialect: quickRpc,
    logger,
    handlers: (connection) => ({
      // add(a, b) has a contract, so a wrong signature is refused as quickrpc does.
      ...Api.handlers({
        add: ({ a, b }) =>
          a instanceof Uint8Array && b instanceof Uint8Array
            ? concatBytes(a, b)
            : (a as number) + (b as number),
      }),
      fail: () => {
        throw new Error("x");
      },
      say: async () => {
        await connection.peer.notify("echo", { text: "yo" });
        await connection.peer.call("ping", { n: 41 });
      },
      warmup: () => connection.peer.call("ping", { n: 40 }),
    }),
  }).serve(listen("tcp://127.0.0.1:0", { ...NUL, logger }));
  return { server, logger };
}

test("quickrpc server answers the original's captured exchanges byte for byte", async () => {
  const { server } = quickServer();
  const raw = await RawSocket.connect(server.addr);
  for (const exchange of captured.exchanges) {
    await raw.send(exchange.send);
    if (exchange.reply === null) continue;
    assertEquals(await raw.readFrame("\0"), exchange.reply, exchange.send);
  }
  // The notification to an unknown method got no reply: the next frame is
  // the answer to this call, not to it.
  await raw.send('{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 1}, "id": 13}\0');
  assertEquals(await raw.readFrame("\0"), '{"jsonrpc": "2.0", "result": 2, "id": 13}\0');
  raw.close();
  await server.shutdown();
});

test("quickrpc server words its errors as the original does", async () => {
  const { server } = quickServer();
  const raw = await RawSocket.connect(server.addr);
  for (const exchange of captured.error_exchanges) {
    await raw.send(exchange.send);
    const reply = JSON.parse((await raw.readFrame("\0")).slice(0, -1));
    assertEquals(reply.id, exchange.id);
    assertEquals({ code: reply.error.code, message: reply.error.message }, exchange.error);
    assertEquals(typeof reply.error.data, "string");
  }
  raw.close();
  await server.shutdown();
});

test("quickrpc server pushes a notification and a call as the original does", async () => {
  const { server } = quickServer();
  const raw = await RawSocket.connect(server.addr);
  // The server's first call on this connection (id 1), so `ping` below is id 2.
  await raw.send('{"jsonrpc": "2.0", "method": "warmup", "params": {}, "id": 1}\0');
  assertEquals(
    await raw.readFrame("\0"),
    '{"jsonrpc": "2.0", "method": "ping", "params": {"n": 40}, "id": 1}\0',
  );
  await raw.send('{"jsonrpc": "2.0", "result": "pong", "id": 1}\0');
  assertEquals(await raw.readFrame("\0"), '{"jsonrpc": "2.0", "result": "pong", "id": 1}\0');
  await raw.send(captured.push.trigger);
  assertEquals(await raw.readLike(captured.push.bytes), captured.push.bytes);
  await raw.send('{"jsonrpc": "2.0", "result": null, "id": 2}\0');
  raw.close();
  await server.shutdown();
});

test("quickrpc client sends the original client's bytes, ids from 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = new Peer(
    await connect(`tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, NUL),
    { dialect: quickRpc, logger: recordingLogger() },
  );
  const fake = RawSocket.wrap(await listener.accept());
  const [method, params] = captured.client_sends.call as [string, Record<string, unknown>];
  const sum = client.call(method, params);
  assertEquals(await fake.readLike(captured.client_sends.bytes), captured.client_sends.bytes);
  // Two telegrams in one read, an empty one between: both handled.
  await fake.send('{"jsonrpc": "2.0", "result": 5, "id": 1}\0\0');
  assertEquals(await sum, 5);
  const failing = client.call("fail", {});
  await fake.readFrame("\0");
  await fake.send(
    '{"jsonrpc": "2.0", "error": {"code": 0, "message": "x", "data": "Traceback ...\\nValueError: x\\n"}, "id": 2}\0',
  );
  const error = await assertRejects(() => failing, RpcError, "x");
  assertEquals([error.code, error.data], [0, "Traceback ...\nValueError: x\n"]);
  await assertRejects(() => client.call("add", [1, 2]), TypeError, "named params only");
  await client.close();
  fake.close();
  listener.close();
});

test("quickrpc carries Uint8Array as __bytes both ways", async () => {
  const { server } = quickServer();
  const client = new Peer(await connect(server.addr, NUL), {
    dialect: quickRpc,
    logger: recordingLogger(),
  });
  assertEquals(
    await client.call("add", { a: new Uint8Array([0, 1]), b: new Uint8Array([2]) }),
    new Uint8Array([0, 1, 2]),
  );
  await client.close();
  await server.shutdown();
});

test("quickrpc server logs and drops telegrams it cannot decode, and keeps serving", async () => {
  const logger = recordingLogger();
  const { server } = quickServer(logger);
  const raw = await RawSocket.connect(server.addr);
  const other = await RawSocket.connect(server.addr);
  await raw.send("garbage\0");
  await raw.send('{"jsonrpc": "1.0", "method": "add", "params": {"a": 1, "b": 2}, "id": 1}\0');
  await raw.send("[1, 2]\0");
  // Two objects in one telegram: only the first is handled (raw_decode).
  await raw.send(
    '{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}, "id": 2}{"jsonrpc": "2.0", "method": "add", "params": {"a": 5, "b": 5}, "id": 3}\0',
  );
  assertEquals(await raw.readFrame("\0"), '{"jsonrpc": "2.0", "result": 3, "id": 2}\0');
  // Split across two writes: reassembled.
  await raw.send('{"jsonrpc": "2.0", "method": "add", ');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await raw.send('"params": {"a": 2, "b": 2}, "id": 4}\0');
  assertEquals(await raw.readFrame("\0"), '{"jsonrpc": "2.0", "result": 4, "id": 4}\0');
  await other.send('{"jsonrpc": "2.0", "method": "add", "params": {"a": 0, "b": 9}, "id": 1}\0');
  assertEquals(await other.readFrame("\0"), '{"jsonrpc": "2.0", "result": 9, "id": 1}\0');
  assertEquals(
    logger.messages("warn").filter((m) => m.endsWith("dropped invalid input")).length,
    3,
  );
  raw.close();
  other.close();
  await server.shutdown();
});

test("quickrpc blindly_believe_everything sends the captured secinfo header", async () => {
  const logger = recordingLogger();
  const listener = listen("tcp://127.0.0.1:0", NUL);
  const server = new Server({
    dialect: quickRpc,
    logger,
    handlers: {
      add: ({ a, b }, ctx: CallContext) =>
        (ctx.meta.secinfo as { user: string }).user === "carol" ? a + b : -1,
    },
  }).serve(secureListener(listener, noSecurity(""), { logger }));
  const raw = await RawSocket.connect(server.addr);
  for (const id of [1, 2]) {
    await raw.send(`{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": {"user": "carol"}}\0`);
    await raw.send(
      `{"jsonrpc": "2.0", "method": "add", "params": {"a": 0, "b": 0}, "id": ${id}}\0`,
    );
    await raw.readFrame("\0");
    await raw.readFrame("\0");
  }
  await raw.send(`{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": {"user": "carol"}}\0`);
  await raw.send(`{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}, "id": 3}\0`);
  assertEquals(
    await raw.readLike(captured.blindly_believe_everything_reply),
    captured.blindly_believe_everything_reply,
  );
  raw.close();
  await server.shutdown();
});

test("quickrpc HMAC security verifies frames and refuses tampered or unsigned ones", async () => {
  const key = "0123456789abcdef-shared";
  const logger = recordingLogger();
  const listener = listen("tcp://127.0.0.1:0", NUL);
  const server = new Server({
    dialect: quickRpc,
    logger,
    handlers: {
      whoami: (_p: unknown, ctx: CallContext) => (ctx.meta.secinfo as { user: string }).user,
    },
  }).serve(secureListener(listener, hmacSecurity({ key, user: "server" }), { logger }));
  // A client with the key: calls work, and the server knows who it is.
  const good = new Peer(
    secureTransport(await connect(server.addr, NUL), hmacSecurity({ key, user: "alice" }), {
      logger,
    }),
    { dialect: quickRpc, logger },
  );
  assertEquals(await good.call("whoami", {}), "alice");
  assertEquals(await good.call("whoami", {}), "alice");

  // A client with the wrong key is refused: the server closes its connection.
  const wrong = new Peer(
    secureTransport(
      await connect(server.addr, NUL),
      hmacSecurity({ key: "not-the-right-key!!", user: "mallory" }),
      {
        logger,
      },
    ),
    { dialect: quickRpc, logger, timeout: 5000 },
  );
  await assertRejects(() => wrong.call("whoami", {}), Error);
  await wrong.closed;

  // Unsigned, and signed-then-altered frames are refused too.
  // (Each connection first gets the server's hello: its challenge.)
  const hello = /^\{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": \{"hello": "[^"]+"\}\}\0$/;
  const raw = await RawSocket.connect(server.addr);
  await raw.send('{"jsonrpc": "2.0", "method": "whoami", "params": {}, "id": 1}\0');
  assertMatch(await raw.readToEnd(), hello);
  const tampered = await RawSocket.connect(server.addr);
  const challenge = JSON.parse((await tampered.readFrame("\0")).slice(0, -1)).params.hello;
  const session = hmacSecurity({ key, user: "alice" }).open();
  session.greeted!({ hello: challenge });
  const payload = '{"jsonrpc": "2.0", "method": "whoami", "params": {}, "id": 1}';
  const { secinfo } = await session.secureOut(payload);
  await tampered.send(
    `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${JSON.stringify(secinfo)}}\0${
      payload.replace("whoami", "whoAmI")
    }\0`,
  );
  assertEquals(await tampered.readToEnd(), "");
  raw.close();
  tampered.close();
  const refusals = logger.messages("warn").filter((m) => m.includes("hmac-sha256 refused a frame"));
  assertEquals(refusals.length, 3);
  assertEquals(refusals.some((m) => m.endsWith("bad signature")), true);
  assertEquals(refusals.some((m) => m.endsWith("frame without a secinfo header")), true);
  await good.close();
  await server.shutdown();
});

test("hmacSecurity refuses replayed, reflected and out-of-order frames", async () => {
  const provider = hmacSecurity({ key: "0123456789abcdef-shared" });
  const alice = provider.open();
  const bob = provider.open();
  alice.greeted!(bob.hello!()!);
  bob.greeted!(alice.hello!()!);
  const first = await alice.secureOut("one");
  const second = await alice.secureOut("two");
  await assertRejects(
    () => bob.secureIn("two", second.secinfo),
    Error,
    "out of sequence: expected 1, got 2",
  );
  assertEquals(await bob.secureIn("one", first.secinfo), { payload: "one", secinfo: { user: "" } });
  await assertRejects(() => bob.secureIn("one", first.secinfo), Error, "out of sequence");
  assertEquals((await bob.secureIn("two", second.secinfo)).payload, "two");
  // Sent back to its sender, a frame is signed for the wrong challenge.
  await assertRejects(() => alice.secureIn("one", first.secinfo), Error, "bad signature");
  assertThrows(() => hmacSecurity({ key: "short" }), RangeError, "at least 16 bytes");
});

test("hmacSecurity: a frame captured on one connection is refused on another", async () => {
  const key = "0123456789abcdef-shared";
  const logger = recordingLogger();
  const server = new Server({
    dialect: quickRpc,
    logger,
    handlers: { whoami: (_p: unknown, ctx: CallContext) => ctx.meta.secinfo },
  }).serve(
    secureListener(listen("tcp://127.0.0.1:0", NUL), hmacSecurity({ key, user: "server" }), {
      logger,
    }),
  );
  // A client with the key talks to the server; an eavesdropper records its frames.
  const raw = await RawSocket.connect(server.addr);
  const serverHello = await raw.readFrame("\0");
  const challenge = JSON.parse(serverHello.slice(0, -1)).params.hello as string;
  const alice = hmacSecurity({ key, user: "alice" }).open();
  alice.greeted!({ hello: challenge });
  await raw.send(
    `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${JSON.stringify(alice.hello!())}}\0`,
  );
  const payload = '{"jsonrpc": "2.0", "method": "whoami", "params": {}, "id": 1}';
  const { secinfo } = await alice.secureOut(payload);
  const captured = `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${
    JSON.stringify(secinfo)
  }}\0${payload}\0`;
  await raw.send(captured);
  await raw.readFrame("\0"); // the reply's header
  assertEquals(JSON.parse((await raw.readFrame("\0")).slice(0, -1)).result, { user: "alice" });
  // The same bytes on a new connection: the server's challenge differs, so refused.
  const replay = await RawSocket.connect(server.addr);
  await replay.readFrame("\0");
  await replay.send(captured);
  assertEquals(await replay.readToEnd(), "");
  assert(logger.messages("warn").some((m) => m.endsWith("refused a frame: bad signature")));
  raw.close();
  replay.close();
  await server.shutdown();
});

test("hmacSecurity: fields the signature does not cover never reach handlers", async () => {
  const key = "0123456789abcdef-shared";
  const server = new Server({
    dialect: quickRpc,
    logger: recordingLogger(),
    handlers: { whoami: (_p: unknown, ctx: CallContext) => ctx.meta.secinfo },
  }).serve(secureListener(listen("tcp://127.0.0.1:0", NUL), hmacSecurity({ key, user: "server" })));
  const raw = await RawSocket.connect(server.addr);
  const challenge = JSON.parse((await raw.readFrame("\0")).slice(0, -1)).params.hello as string;
  const mallory = hmacSecurity({ key, user: "mallory" }).open();
  mallory.greeted!({ hello: challenge });
  await raw.send(
    `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${JSON.stringify(mallory.hello!())}}\0`,
  );
  const payload = '{"jsonrpc": "2.0", "method": "whoami", "params": {}, "id": 1}';
  const { secinfo } = await mallory.secureOut(payload);
  // An unsigned field slipped into a signed header.
  const padded = { ...secinfo, role: "admin" };
  await raw.send(
    `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${
      JSON.stringify(padded)
    }}\0${payload}\0`,
  );
  await raw.readFrame("\0");
  assertEquals(JSON.parse((await raw.readFrame("\0")).slice(0, -1)).result, { user: "mallory" });
  raw.close();
  await server.shutdown();
});

test("parseQuickRpcTransport() maps quickrpc strings to URLs, refuses the others", () => {
  assertEquals(parseQuickRpcTransport("tcp:127.0.0.1:8888"), {
    role: "connect",
    url: "tcp://127.0.0.1:8888",
  });
  assertEquals(parseQuickRpcTransport("tcpserv::8888"), {
    role: "listen",
    url: "tcp://0.0.0.0:8888",
  });
  assertEquals(parseQuickRpcTransport("tcpserv:127.0.0.1:9"), {
    role: "listen",
    url: "tcp://127.0.0.1:9",
  });
  for (const bad of ["stdio:", "udp:8888", "tcp:host", "tcp::1", "tcp:h:99999", "mux:(tcp:a:1)"]) {
    assertThrows(() => parseQuickRpcTransport(bad), TypeError, undefined, bad);
  }
});

test("quickrpc refuses a call nested too deep with a reply, and ids it cannot echo unchanged", async () => {
  const logger = recordingLogger();
  let called = 0;
  const server = new Server({
    dialect: quickRpc,
    logger,
    handlers: { echo: (params) => (called++, params) },
  }).serve(listen("tcp://127.0.0.1:0", NUL));
  const raw = await RawSocket.connect(server.addr);
  const deep = "[".repeat(5000) + "]".repeat(5000);
  await raw.send(`{"jsonrpc": "2.0", "method": "echo", "params": {"x": ${deep}}, "id": 5}\0`);
  const refused = JSON.parse((await raw.readFrame("\0")).slice(0, -1));
  assertEquals([refused.id, refused.error.message], [5, "JSON nested more than 512 deep"]);
  for (const id of ["1e400", "9007199254740993"]) {
    await raw.send(`{"jsonrpc": "2.0", "method": "echo", "params": {"n": 1}, "id": ${id}}\0`);
  }
  await raw.send('{"jsonrpc": "2.0", "method": "echo", "params": {"n": 2}, "id": 6}\0');
  assertEquals(await raw.readFrame("\0"), '{"jsonrpc": "2.0", "result": {"n": 2}, "id": 6}\0');
  assertEquals(called, 1);
  assertEquals(
    logger.messages("warn").filter((m) => m.endsWith("dropped invalid input")).length,
    2,
  );
  raw.close();
  await server.shutdown();
});
