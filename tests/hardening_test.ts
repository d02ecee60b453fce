// Bounded memory under hostile input: each test reproduces a way a hostile
// client used to crash the server or grow it without bound.

import { CallTimeout, type FramedChannel, JsonRpcCodec, memoryPair, Peer, Server } from "../mod.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen, TcpTransport } from "../transports/tcp.ts";
import { assert, assertEquals, assertLessOrEqual, assertRejects } from "./_assert.ts";
import { deferred, rawHarness, recordingLogger, waitFor } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

// How long a slow handler works (never a wait for something to happen).
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

function transportOf(peer: Peer): TcpTransport {
  return (peer.channel as FramedChannel<string>).transport as TcpTransport;
}

Deno.test("hardening 1: a huge JSON-RPC batch is refused as a whole, with one small reply", async () => {
  const h = rawHarness({ add: ({ a, b }) => a + b });
  // 100 000 entries of `1`: each would be an Invalid Request reply of ~80 bytes.
  const reply = await h.exchange(`[${"1,".repeat(99_999)}1]`);
  assertLessOrEqual(reply.length, 200);
  const error = JSON.parse(reply);
  assertEquals([error.id, error.error.code], [null, -32600]);
  assertEquals(error.error.data, "a batch of 100000 entries; at most 1000 are accepted");
  // A batch within the bound is still answered in full.
  const ok = JSON.parse(
    await h.exchange(
      `[${'{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":1},"id":1},'.repeat(999)}1]`,
    ),
  );
  assertEquals(ok.length, 1000);
  await h.close();
});

Deno.test("hardening 1: the replies to a batch are bounded in size; beyond it, one error", async () => {
  const [a, b] = memoryPair();
  const logger = recordingLogger();
  const server = new Peer(a, {
    logger,
    dialect: { ...(await import("../mod.ts")).jsonRpc, maxFrameBytes: 10_000 },
    handlers: { big: () => "x".repeat(1000) },
  });
  const calls = Array.from({ length: 20 }, (_, id) => ({ jsonrpc: "2.0", method: "big", id }));
  await b.send(JSON.stringify(calls));
  const reply = JSON.parse((await b.frames[Symbol.asyncIterator]().next()).value as string);
  assertEquals([reply.id, reply.error.code, reply.error.message], [
    null,
    -32001,
    "Reply too large",
  ]);
  await b.close();
  await server.closed;
});

Deno.test("hardening 2: large calls to slow handlers are bounded in bytes, not only in count", async () => {
  const gate = deferred();
  let started = 0;
  const logger = recordingLogger();
  const server = new Server({
    logger,
    peer: { maxConcurrentBytes: 1024 * 1024 },
    handlers: { slow: async () => (started++, await gate.promise, "done") },
  }).serve(listen("tcp://127.0.0.1:0", { logger, highWaterBytes: 256 * 1024 }));
  const raw = await RawSocket.connect(server.addr);
  // 100 requests of 100 KB each, pipelined: 10 MB.
  const pad = "x".repeat(100_000);
  const sending = (async () => {
    for (let id = 1; id <= 100; id++) {
      await raw.send(`{"jsonrpc":"2.0","method":"slow","params":["${pad}"],"id":${id}}\n`);
    }
  })().catch(() => {});
  // Reading pauses at the bound: the handlers take no more, and the unread
  // input fills up to highWaterBytes.
  await waitFor(() => {
    const [connection] = server.connections.values();
    return connection !== undefined && started >= 10 &&
      transportOf(connection.peer).bufferedInput >= 256 * 1024;
  }, { message: "reading to pause" });
  const [connection] = server.connections.values();
  // 1 MB of calls in handlers: ten of 100 KB each (the tenth crosses the bound).
  assertLessOrEqual(started, 11);
  assertLessOrEqual(transportOf(connection!.peer).bufferedInput, 256 * 1024 + 2 * 100_100);
  gate.resolve();
  for (let i = 0; i < 100; i++) await raw.readFrame();
  assertEquals(started, 100);
  await sending;
  raw.close();
  await server.shutdown();
});

Deno.test("hardening 3: simplerpc replies held for order keep their slot: a slow call pauses reading", async () => {
  const gate = deferred();
  let echoed = 0;
  const server = new Server({
    logger: recordingLogger(),
    peer: { maxConcurrentHandlers: 4 },
    handlers: {
      sleep: async () => (await gate.promise, {}),
      echo: (args) => (echoed++, { echo: args }),
    },
  }).serve(listen("tcp://127.0.0.1:0", { dialect: simpleRpc }));
  const raw = await RawSocket.connect(server.addr);
  await raw.send(`sleep{}\n${'echo{"n": 1}\n'.repeat(5000)}`);
  // Reading stops: the unread frames fill the connection's queue (1024).
  await waitFor(() => {
    const [connection] = server.connections.values();
    return connection !== undefined && transportOf(connection.peer).framesReceived > 1024;
  }, { message: "the queue to fill" });
  // One sleeping, three echo replies held behind it: then reading stops.
  assertLessOrEqual(echoed, 3);
  gate.resolve();
  assertEquals(await raw.readFrame(), "OKAY{}\n");
  for (let i = 0; i < 5000; i++) assertEquals(await raw.readFrame(), 'OKAY{"echo": {"n": 1}}\n');
  assertEquals(echoed, 5000);
  raw.close();
  await server.shutdown();
});

Deno.test("hardening 4: a frame arriving a byte at a time is reassembled intact", async () => {
  const received = deferred<unknown>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: { echo: (params) => (received.resolve(params), "ok") },
  }).serve(listen("tcp://127.0.0.1:0"));
  const raw = await RawSocket.connect(server.addr);
  const text = "é€😀".repeat(200);
  const frame = new TextEncoder().encode(
    `{"jsonrpc":"2.0","method":"echo","params":["${text}"],"id":1}\n`,
  );
  for (const byte of frame) await raw.send(new Uint8Array([byte]));
  assertEquals(await received.promise, [text]);
  assertEquals(JSON.parse(await raw.readFrame()).result, "ok");
  raw.close();
  await server.shutdown();
});

Deno.test("hardening 4: reassembling a frame that arrives a byte per read costs about its own size", async () => {
  // A connection that hands over a 2 MB frame one byte per read.
  const frame = new TextEncoder().encode(
    `{"jsonrpc":"2.0","method":"echo","params":["${"y".repeat(2 * 1024 * 1024)}"],"id":1}\n`,
  );
  let at = 0;
  let closed = false;
  let peak = 0;
  let before = 0;
  const oneByteAtATime = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    read(buffer: Uint8Array): Promise<number | null> {
      if (closed || at >= frame.length) return Promise.resolve(null);
      buffer[0] = frame[at++]!;
      // Reads never wait here, so no timer runs meanwhile: sample as we go.
      if (at % 65536 === 0) peak = Math.max(peak, Deno.memoryUsage().rss - before);
      return Promise.resolve(1);
    },
    write: (bytes: Uint8Array) => Promise.resolve(bytes.length),
    close: () => void (closed = true),
  } as unknown as Deno.Conn;
  before = Deno.memoryUsage().rss;
  const transport = new TcpTransport(oneByteAtATime, { logger: recordingLogger() });
  const first = await transport.frames[Symbol.asyncIterator]().next();
  assertEquals((first.value as string).length, frame.length - 1);
  // One growing buffer, a few times the frame; a buffer per read peaked near 1 GB.
  assertLessOrEqual(peak, 64 * 1024 * 1024);
  await transport.close();
});

Deno.test("hardening 5: answers to junk count against write backpressure; a client that never reads is bounded", async () => {
  const logger = recordingLogger();
  const gone = deferred();
  const server = new Server({
    logger,
    peer: { maxConcurrentHandlers: 4 },
    onDisconnect: () => gone.resolve(),
  }).serve(
    listen("tcp://127.0.0.1:0", { logger, writeHighWaterMark: 64 * 1024, writeTimeout: 500 }),
  );
  const raw = await RawSocket.connect(server.addr);
  // Each `x` line earns a Parse error reply of about 80 bytes; never read.
  const junk = "x\n".repeat(100_000);
  const sending = raw.send(junk.repeat(4)).catch(() => {});
  let peak = 0;
  let cut = false;
  gone.promise.then(() => cut = true);
  await waitFor(() => {
    const [connection] = server.connections.values();
    if (connection) peak = Math.max(peak, transportOf(connection.peer).bufferedAmount);
    return cut;
  }, { message: "the client to be cut off" });
  assertLessOrEqual(peak, 64 * 1024 + 4 * 200);
  await sending;
  raw.close();
  await server.shutdown();
});

Deno.test("hardening 6: a batch's entries respect maxConcurrentHandlers", async () => {
  let running = 0;
  let most = 0;
  const h = rawHarness({
    slow: async () => {
      most = Math.max(most, ++running);
      await tick(1);
      running--;
      return 1;
    },
  }, { maxConcurrentHandlers: 8 });
  const batch = Array.from({ length: 500 }, (_, id) => ({ jsonrpc: "2.0", method: "slow", id }));
  const replies = JSON.parse(await h.exchange(JSON.stringify(batch)));
  assertEquals(replies.length, 500);
  assertLessOrEqual(most, 8);
  await h.close();
});

Deno.test("hardening 6: a server-wide bound on running handlers across connections", async () => {
  let running = 0;
  let most = 0;
  const server = new Server({
    logger: recordingLogger(),
    maxRunningHandlers: 4,
    handlers: {
      slow: async () => {
        most = Math.max(most, ++running);
        await tick(2);
        running--;
        return "ok";
      },
    },
  }).serve(listen("tcp://127.0.0.1:0"));
  const clients = await Promise.all(
    Array.from({ length: 10 }, async () => new Peer(await connect(server.addr))),
  );
  const results = await Promise.all(
    clients.flatMap((client) => Array.from({ length: 5 }, () => client.call("slow"))),
  );
  assertEquals(results.length, 50);
  assertLessOrEqual(most, 4);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("hardening 7: with whenFull 'wait', a call's timeout counts from the call", async () => {
  const [a, b] = memoryPair();
  const server = new Peer(a, { handlers: { hang: () => new Promise(() => {}) } });
  const client = new Peer(b, { maxPendingCalls: 1, whenFull: "wait", timeout: 0 });
  const first = client.call("hang");
  const started = Date.now();
  await assertRejects(() => client.call("hang", undefined, { timeout: 100 }), CallTimeout);
  assertLessOrEqual(Date.now() - started, 1000);
  assert(client.stats().pendingCalls === 1);
  await client.close();
  await first.catch(() => {});
  await server.closed;
});

Deno.test("hardening: the JSON-RPC codec's batch bound is an option", () => {
  const codec = new JsonRpcCodec({ maxBatchLength: 2 });
  assertEquals(
    (codec.decode('[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]') as unknown[])
      .length,
    2,
  );
  assertEquals(
    (codec.decode("[1,2,3]") as { kind: string }).kind,
    "invalid",
  );
});

Deno.test("hardening 11: repeated log lines are rate-limited per connection", async () => {
  const h = rawHarness({});
  // 1000 replies to calls nobody made: each used to be its own warning.
  const replies = Array.from({ length: 1000 }, (_, id) => ({ jsonrpc: "2.0", result: 1, id }));
  await h.raw.send(JSON.stringify(replies));
  await h.raw.send('{"jsonrpc":"2.0","method":"rpc.ping","id":"marker"}');
  assertEquals(JSON.parse(await h.next()).id, "marker");
  assertEquals(h.peer.stats().unknownReplies, 1000);
  assertLessOrEqual(h.logger.messages("warn").length, 20);
  await h.close();
});

Deno.test("hardening 11: bytes that are not UTF-8 are a parse error, not replaced", async () => {
  const server = new Server({ logger: recordingLogger(), handlers: { echo: (params) => params } })
    .serve(listen("tcp://127.0.0.1:0"));
  const raw = await RawSocket.connect(server.addr);
  const head = new TextEncoder().encode('{"jsonrpc":"2.0","method":"echo","params":["');
  const tail = new TextEncoder().encode(
    '"],"id":1}\n{"jsonrpc":"2.0","method":"echo","params":["ok"],"id":2}\n',
  );
  await raw.send(new Uint8Array([...head, 0xff, 0xfe, ...tail]));
  const refused = JSON.parse(await raw.readFrame());
  assertEquals([refused.id, refused.error.code, refused.error.data], [
    null,
    -32700,
    "not UTF-8 text",
  ]);
  assertEquals(JSON.parse(await raw.readFrame()), { jsonrpc: "2.0", result: ["ok"], id: 2 });
  raw.close();
  await server.shutdown();
});

Deno.test("hardening 11: shutdown({ deadline }) resolves by the deadline, even with a client that does not read", async () => {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: {
      big: ({ size }) => "x".repeat(size),
      hang: () => new Promise(() => {}),
    },
  }).serve(
    listen("tcp://127.0.0.1:0", { logger, writeHighWaterMark: 1024 * 1024, closeTimeout: 5000 }),
  );
  const raw = await RawSocket.connect(server.addr);
  // Replies this client never reads fill the socket, so a graceful close would wait.
  for (let id = 1; id <= 50; id++) {
    await raw.send(`{"jsonrpc":"2.0","method":"big","params":{"size":100000},"id":${id}}\n`);
  }
  await raw.send('{"jsonrpc":"2.0","method":"hang","id":"h"}\n');
  // The replies fill the socket: a graceful close would now wait.
  await waitFor(() => {
    const [connection] = server.connections.values();
    return connection !== undefined &&
      transportOf(connection.peer).bufferedAmount > 1024 * 1024;
  }, { message: "the unread replies to pass writeHighWaterMark" });
  const started = Date.now();
  await server.shutdown({ deadline: 300 });
  assertLessOrEqual(Date.now() - started, 1000);
  raw.close();
});
