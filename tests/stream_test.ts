// Streams and progress: a handler returns an AsyncIterable, the caller reads
// it with peer.stream(). Backpressure, cancellation both ways, errors,
// timeouts, limits and the connection's end, over memory pairs and real
// TCP, TLS and WebSocket connections.

import {
  type CallContext,
  CallTimeout,
  ConnectionClosed,
  type FramedChannel,
  memoryPair,
  Peer,
  RemoteError,
  RpcError,
  Server,
  TooManyCalls,
  Unsupported,
} from "../mod.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen, type TcpTransport } from "../transports/tcp.ts";
import { connect as wsConnect, reconnecting } from "../transports/websocket.ts";
import { connect as workerConnect } from "../transports/worker.ts";
import { listen as wsListen } from "../transports/websocket_server.ts";
import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertRejects,
  assertThrows,
} from "./_assert.ts";
import { deferred, peerPair, recordingLogger, waitFor, within } from "./_helpers.ts";
import { selfSigned } from "./_tls.ts";

/** Handlers every test can use; `seen` records what the handlers saw. */
function streamHandlers() {
  const seen = {
    finally: deferred<string>(),
    aborted: deferred<unknown>(),
    pulls: 0,
  };
  const handlers = {
    async *count({ to }: { to: number }) {
      for (let i = 1; i <= to; i++) yield i;
      return `counted to ${to}`;
    },
    async *endless(_params: unknown, ctx: CallContext) {
      ctx.signal.addEventListener("abort", () => seen.aborted.resolve(ctx.signal.reason));
      try {
        for (let i = 0;; i++) {
          seen.pulls++;
          yield i;
        }
      } finally {
        seen.finally.resolve("finally ran");
      }
    },
    async *failing() {
      yield 1;
      throw new RpcError(-32050, "Out of ticks", { left: 0 });
    },
    async *quiet(_params: unknown, ctx: CallContext) {
      // Nothing until the caller cancels.
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      yield "never";
    },
    async *slowFirst({ ms }: { ms: number }, ctx: CallContext) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener("abort", () => resolve(clearTimeout(timer)));
      });
      yield "late";
    },
    work: async (_params: unknown, ctx: CallContext) => {
      await ctx.progress({ percent: 50 });
      await ctx.progress({ percent: 100 });
      return "worked";
    },
    plain: () => "not a stream",
  };
  return { seen, handlers };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

Deno.test("stream: the items arrive in order and the iteration ends with the handler's return value", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const items = pair.client.stream<number>("count", { to: 40 }, { credit: 4 });
  const got: number[] = [];
  let step = await items.next();
  while (!step.done) {
    got.push(step.value);
    step = await items.next();
  }
  assertEquals(got, Array.from({ length: 40 }, (_, i) => i + 1));
  assertEquals(step.value, "counted to 40");
  assertEquals(await collect(pair.client.stream("count", { to: 0 })), []);
  await pair.close();
});

Deno.test("stream: reads made without awaiting each get their own item, in order", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const items = pair.client.stream<number>("count", { to: 2 }, { credit: 1 });
  const reads = await Promise.all([items.next(), items.next(), items.next(), items.next()]);
  assertEquals(reads, [
    { done: false, value: 1 },
    { done: false, value: 2 },
    { done: true, value: "counted to 2" },
    { done: true, value: undefined },
  ]);
  await pair.close();
});

Deno.test("stream: a stream call to a plain handler ends with its result and no items", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const items = pair.client.stream("plain");
  assertEquals(await items.next(), { done: true, value: "not a stream" });
  await pair.close();
});

Deno.test("stream: a plain call to a stream method gets a clear error", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const error = await assertRejects(() => pair.client.call("count", { to: 3 }), RemoteError);
  assertEquals(error.code, -32600);
  assert(error.message.includes("'count' streams: call it as a stream"), error.message);
  await pair.close();
});

Deno.test("progress: ctx.progress reaches onProgress of a call and of a stream", async () => {
  const pair = peerPair({
    handlers: {
      ...streamHandlers().handlers,
      async *steps(_params: unknown, ctx: CallContext) {
        await ctx.progress("starting");
        yield "a";
        await ctx.progress("halfway");
        yield "b";
      },
    },
  });
  const reports: unknown[] = [];
  const result = await pair.client.call("work", undefined, {
    onProgress: (value) => reports.push(value),
  });
  assertEquals([result, reports], ["worked", [{ percent: 50 }, { percent: 100 }]]);
  // Without onProgress the handler's reports go nowhere, and the call works.
  assertEquals(await pair.client.call("work"), "worked");
  // onProgress is called as progress arrives, ahead of items not read yet.
  const progress: unknown[] = [];
  const items = await collect(
    pair.client.stream("steps", undefined, { onProgress: (value) => progress.push(value) }),
  );
  assertEquals([items, progress], [["a", "b"], ["starting", "halfway"]]);
  await pair.close();
});

Deno.test("stream: break returns the handler's iterator (its finally runs) and aborts ctx.signal", async () => {
  const { seen, handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  for await (const i of pair.client.stream<number>("endless")) if (i === 5) break;
  assertEquals(await within(seen.finally.promise, 5000, "the finally block"), "finally ran");
  const reason = await within(seen.aborted.promise, 5000, "ctx.signal's abort");
  assertEquals((reason as DOMException).name, "AbortError");
  await waitFor(() => pair.server.stats().runningHandlers === 0, { message: "the slot freed" });
  assertEquals(pair.client.stats().pendingCalls, 0);
  await pair.close();
});

Deno.test("stream: the caller's signal cancels it: the iteration throws its reason, the handler's finally runs", async () => {
  const { seen, handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const controller = new AbortController();
  const items = pair.client.stream<number>("endless", undefined, { signal: controller.signal });
  assertEquals((await items.next()).value, 0);
  controller.abort(new Error("enough"));
  await assertRejects(() => collect(items), Error, "enough");
  await within(seen.finally.promise, 5000, "the finally block");
  await within(seen.aborted.promise, 5000, "ctx.signal's abort");
  await pair.close();
});

Deno.test("stream: a handler's throw ends the iteration with its code and data", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  const got: unknown[] = [];
  const error = await assertRejects(async () => {
    for await (const item of pair.client.stream("failing")) got.push(item);
  }, RemoteError);
  assertEquals([got, error.code, error.message, error.data], [
    [1],
    -32050,
    "Out of ticks",
    { left: 0 },
  ]);
  await pair.close();
});

Deno.test("stream: the timeout counts to the first item only", async () => {
  const { seen, handlers } = streamHandlers();
  const pair = peerPair({ handlers });
  // Nothing comes: it times out, and the handler is cancelled.
  await assertRejects(
    () => collect(pair.client.stream("quiet", undefined, { timeout: 50 })),
    CallTimeout,
  );
  // The first item comes in time; the reader then idles past the timeout.
  const items = pair.client.stream<number>("endless", undefined, { timeout: 100, credit: 2 });
  assertEquals((await items.next()).value, 0);
  const started = Date.now();
  await waitFor(() => Date.now() - started > 300, { message: "three timeouts passing" });
  assertEquals((await items.next()).value, 1);
  await items.return();
  await within(seen.finally.promise, 5000, "the finally block");
  // A late first item is a timeout too.
  await assertRejects(
    () => collect(pair.client.stream("slowFirst", { ms: 200 }, { timeout: 20 })),
    CallTimeout,
  );
  await pair.close();
});

Deno.test("stream: it counts as a call in flight on the caller's side (maxPendingCalls)", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({ handlers }, { maxPendingCalls: 1, whenFull: "reject" });
  const items = pair.client.stream<number>("endless");
  assertEquals((await items.next()).value, 0);
  await assertRejects(() => pair.client.call("plain"), TooManyCalls);
  await items.return();
  assertEquals(await pair.client.call("plain"), "not a stream");
  await pair.close();
});

Deno.test("stream: it holds a handler slot on the serving side until it ends", async () => {
  const { seen, handlers } = streamHandlers();
  const order: string[] = [];
  const pair = peerPair({
    handlers: { ...handlers, plain: () => order.push("plain ran") },
    maxConcurrentHandlers: 1,
  });
  const items = pair.client.stream<number>("endless", undefined, { credit: 2 });
  assertEquals((await items.next()).value, 0);
  assertEquals(pair.server.stats().runningHandlers, 1);
  const call = pair.client.call("plain");
  seen.finally.promise.then(() => order.push("stream ended"));
  await items.return();
  await call;
  assertEquals(order, ["stream ended", "plain ran"]);
  await pair.close();
});

Deno.test("stream: with every handler slot held by streams, their credit and cancels still get through", async () => {
  const { handlers } = streamHandlers();
  const pair = peerPair({
    handlers: { ...handlers, plain: () => "ran" },
    maxConcurrentHandlers: 2,
  });
  const first = pair.client.stream<number>("count", { to: 100 }, { credit: 2 });
  const second = pair.client.stream<number>("endless", undefined, { credit: 2 });
  assertEquals((await first.next()).value, 1);
  assertEquals((await second.next()).value, 0);
  // Calls pile up behind the streams; the first stream's credit comes after them.
  const calls = [pair.client.call("plain"), pair.client.call("plain"), pair.client.call("plain")];
  assertEquals((await collect(first)).length, 99);
  await second.return();
  assertEquals(await Promise.all(calls), ["ran", "ran", "ran"]);
  await pair.close();
});

Deno.test("stream: a call cancelled while it waits behind streams for a slot never runs", async () => {
  const { handlers } = streamHandlers();
  const ran: string[] = [];
  const pair = peerPair({
    handlers: { ...handlers, plain: ([p]: string[]) => ran.push(p!) },
    maxConcurrentHandlers: 1,
  });
  const items = pair.client.stream<number>("endless", undefined, { credit: 1 });
  assertEquals((await items.next()).value, 0);
  const controller = new AbortController();
  const first = pair.client.call("plain", ["first"]);
  const cancelled = pair.client.call("plain", ["cancelled"], { signal: controller.signal });
  const third = pair.client.call("plain", ["third"]);
  controller.abort(new Error("never mind"));
  await assertRejects(() => cancelled, Error, "never mind");
  // The stream's next credit comes after the three calls, and after the cancel.
  assertEquals((await items.next()).value, 1);
  await items.return();
  await Promise.all([first, third]);
  assertEquals(ran, ["first", "third"]);
  await pair.close();
});

Deno.test("stream: wires that cannot carry streams refuse at once with Unsupported", async () => {
  const [a, b] = memoryPair();
  const server = new Peer(a, { dialect: simpleRpc, role: "server", logger: recordingLogger() });
  const client = new Peer(b, { dialect: simpleRpc, logger: recordingLogger() });
  const error = assertThrows(() => client.stream("ticks"), Unsupported);
  assertEquals([error.feature, error.wire], ["streams", "simplerpc"]);
  assertEquals(error.message, "simplerpc cannot carry streams");
  const progress = await assertRejects(
    () => client.call("work", undefined, { onProgress: () => {} }),
    Unsupported,
  );
  assertEquals(progress.feature, "progress");
  assertEquals(client.stats().messagesSent, 0);
  await client.close();
  await server.closed;
});

Deno.test("stream: credit must be a whole number of at least 1", async () => {
  const pair = peerPair();
  assertThrows(() => pair.client.stream("x", undefined, { credit: 0 }), RangeError, "credit");
  assertThrows(() => pair.client.stream("x", undefined, { credit: 1.5 }), RangeError, "credit");
  await pair.close();
});

Deno.test("stream: server interceptors see a stream call like any call", async () => {
  const { handlers } = streamHandlers();
  const seenBy: string[] = [];
  const pair = peerPair({
    handlers,
    interceptors: [async (call, next) => {
      seenBy.push(call.method);
      return await next();
    }],
  });
  assertEquals(await collect(pair.client.stream("count", { to: 3 })), [1, 2, 3]);
  assertEquals(seenBy, ["count"]);
  await pair.close();
});

// ---- real sockets -------------------------------------------------------------

function tcpServer(options: ConstructorParameters<typeof Server>[0] = {}) {
  const { seen, handlers } = streamHandlers();
  const logger = recordingLogger();
  const server = new Server({ logger, handlers, ...options }).serve(
    listen("tcp://127.0.0.1:0", { logger }),
  );
  return { server, seen };
}

Deno.test("TCP: a slow reader pauses the producer: next() stays within the window, queued bytes and RSS stay flat", async () => {
  const logger = recordingLogger();
  let pulls = 0;
  let serverTransport: TcpTransport | undefined;
  const chunk = "x".repeat(1024);
  const server = new Server({
    logger,
    handlers: {
      async *firehose(_params: unknown, ctx: CallContext) {
        serverTransport = (ctx.peer.channel as FramedChannel<string>).transport as TcpTransport;
        // Could make a million items a second.
        for (;;) {
          pulls++;
          yield chunk;
        }
      },
    },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const window = 16;
  const items = client.stream<string>("firehose", undefined, { credit: window });
  let read = 0;
  let maxQueued = 0;
  let rssAtStart = 0;
  let maxRss = 0;
  const started = Date.now();
  // One item every 200 ms, for two seconds.
  while (Date.now() - started < 2000) {
    const step = await items.next();
    assertEquals(step.value, chunk);
    read++;
    maxQueued = Math.max(maxQueued, serverTransport!.bufferedAmount);
    const rss = Deno.memoryUsage().rss;
    if (rssAtStart === 0) rssAtStart = rss;
    maxRss = Math.max(maxRss, rss);
    // The producer was asked for at most what was granted (plus the one it is making).
    assertLessOrEqual(pulls, read + window + 1);
    const now = Date.now();
    await waitFor(() => Date.now() - now >= 200, { interval: 20, message: "the reader's pause" });
  }
  assertGreater(read, 7);
  // Never more than a window of items waits on the server's side.
  assertLessOrEqual(maxQueued, window * (chunk.length + 64));
  // An unpaused producer of 1 KiB items would have grown the process by gigabytes in two seconds.
  assertLessOrEqual(maxRss - rssAtStart, 64 * 1024 * 1024, `RSS grew ${maxRss - rssAtStart} bytes`);
  await items.return();
  await client.close();
  await server.shutdown();
});

Deno.test("TCP: break cancels the remote handler: its finally runs and ctx.signal aborts", async () => {
  const { server, seen } = tcpServer();
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  let last = -1;
  for await (const i of client.stream<number>("endless", undefined, { credit: 8 })) {
    last = i;
    if (i === 20) break;
  }
  assertEquals(last, 20);
  await within(seen.finally.promise, 5000, "the finally block");
  await within(seen.aborted.promise, 5000, "ctx.signal's abort");
  assertEquals(await collect(client.stream("count", { to: 3 })), [1, 2, 3]);
  await client.close();
  await server.shutdown();
});

Deno.test("TCP: losing the connection ends the iteration with ConnectionClosed and returns the handler's iterator", async () => {
  const { server, seen } = tcpServer();
  const transport = await connect(server.addr);
  const client = new Peer(transport, { logger: recordingLogger() });
  const items = client.stream<number>("endless", undefined, { credit: 2 });
  assertEquals((await items.next()).value, 0);
  // The socket goes away under the peer.
  await transport.close();
  await assertRejects(() => collect(items), ConnectionClosed);
  await within(seen.finally.promise, 5000, "the finally block");
  await within(seen.aborted.promise, 5000, "ctx.signal's abort");
  await client.closed;
  await server.shutdown();
});

Deno.test("TCP: the server's idle timeout does not cut a connection whose stream is open", async () => {
  const { server, seen } = tcpServer({ idleTimeout: 100 });
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const items = client.stream<number>("endless", undefined, { credit: 1 });
  assertEquals((await items.next()).value, 0);
  const started = Date.now();
  await waitFor(() => Date.now() - started > 600, { message: "six idle timeouts passing" });
  assertEquals(client.isClosed, false);
  assertEquals((await items.next()).value, 1);
  await items.return();
  await within(seen.finally.promise, 5000, "the finally block");
  await client.close();
  await server.shutdown();
});

Deno.test("TCP: a server's shutdown waits for an open stream up to its deadline, then ends it", async () => {
  const { server, seen } = tcpServer();
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const items = client.stream<number>("endless", undefined, { credit: 2 });
  assertEquals((await items.next()).value, 0);
  const shutdown = server.shutdown({ deadline: 200 });
  await assertRejects(() => collect(items), ConnectionClosed);
  await shutdown;
  await within(seen.finally.promise, 5000, "the finally block");
  await client.close();
});

Deno.test("TLS: a stream over tls://, and its cancellation", async () => {
  const { cert, key } = await selfSigned();
  const { seen, handlers } = streamHandlers();
  const logger = recordingLogger();
  const server = new Server({ logger, handlers }).serve(
    listen("tls://127.0.0.1:0", { cert, key, logger }),
  );
  const port = new URL(server.addr).port;
  const client = new Peer(await connect(`tls://localhost:${port}`, { caCerts: [cert] }), {
    logger: recordingLogger(),
  });
  assertEquals(await collect(client.stream("count", { to: 50 }, { credit: 3 })), [
    ...Array.from({ length: 50 }, (_, i) => i + 1),
  ]);
  for await (const i of client.stream<number>("endless")) if (i === 3) break;
  await within(seen.finally.promise, 5000, "the finally block");
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: a stream with progress, and its cancellation", async () => {
  const { seen, handlers } = streamHandlers();
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: {
      ...handlers,
      async *report(_params: unknown, ctx: CallContext) {
        await ctx.progress("half");
        yield "a";
        return "end";
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/rpc", { logger }));
  const client = new Peer(await wsConnect(server.addr), { logger: recordingLogger() });
  const seenItems: unknown[] = [];
  const items = client.stream("report", undefined, {
    onProgress: (value) => seenItems.push(`progress ${value}`),
  });
  let step = await items.next();
  while (!step.done) {
    seenItems.push(step.value);
    step = await items.next();
  }
  assertEquals([seenItems, step.value], [["progress half", "a"], "end"]);
  assertEquals(
    await collect(client.stream("count", { to: 40 }, { credit: 2 })).then((x) => x.length),
    40,
  );
  for await (const i of client.stream<number>("endless")) if (i === 3) break;
  await within(seen.finally.promise, 5000, "the finally block");
  await client.close();
  await server.shutdown();
});

/** A plain WebSocket client: the messages it got, and a way to send. */
async function rawWebSocket(url: string) {
  const socket = new WebSocket(url);
  const messages: string[] = [];
  socket.addEventListener("message", (event) => messages.push(event.data as string));
  const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  return {
    messages,
    send: (text: string) => socket.send(text),
    close: async () => {
      socket.close();
      await closed;
    },
  };
}

Deno.test("WebSocket: items yielded back to back leave several to a frame; a waiting handler's item leaves at once", async () => {
  const release = deferred();
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      async *count({ to }: { to: number }) {
        for (let i = 1; i <= to; i++) yield i;
        return "counted";
      },
      async *waits() {
        yield "first";
        // Held back, this item would never arrive and the test would time out.
        await release.promise;
        yield "second";
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/", { logger: recordingLogger() }));
  const raw = await rawWebSocket(server.addr);
  raw.send(
    '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"count","params":{"to":3},"credit":8},"id":1}',
  );
  await waitFor(() => raw.messages.length === 2, { message: "the items and the result" });
  assertEquals(raw.messages, [
    "[" + [1, 2, 3].map((i) =>
      `{"jsonrpc":"2.0","method":"rpc.item","params":{"id":1,"item":${i}}}`
    ).join(",") + "]",
    '{"jsonrpc":"2.0","result":"counted","id":1}',
  ]);
  raw.send('{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"waits","credit":8},"id":2}');
  await waitFor(() => raw.messages.length === 3, { message: "the first item" });
  assertEquals(
    raw.messages[2],
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":2,"item":"first"}}',
  );
  release.resolve();
  await waitFor(() => raw.messages.length === 5, { message: "the second item and the result" });
  await raw.close();
  await server.shutdown();
});

Deno.test("WebSocket: items too large to share a frame go one to a frame", async () => {
  const logger = recordingLogger();
  const item = "x".repeat(300);
  const server = new Server({
    logger,
    handlers: {
      async *big() {
        for (let i = 0; i < 5; i++) yield item;
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/", { logger, maxMessageBytes: 1000 }));
  const client = new Peer(await wsConnect(server.addr, { logger, maxMessageBytes: 1000 }), {
    logger,
  });
  assertEquals(await collect(client.stream("big", undefined, { credit: 8 })), Array(5).fill(item));
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: an item that cannot be serialised ends the stream after the items before it", async () => {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: {
      async *odd() {
        yield 1;
        yield 2;
        yield 10n;
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/", { logger }));
  const client = new Peer(await wsConnect(server.addr), { logger });
  const items = client.stream<number>("odd", undefined, { credit: 8 });
  assertEquals(await items.next(), { done: false, value: 1 });
  assertEquals(await items.next(), { done: false, value: 2 });
  await assertRejects(() => items.next(), RemoteError);
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: a slow reader pauses the producer: next() stays within the window", async () => {
  let pulls = 0;
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      async *firehose() {
        for (;;) {
          pulls++;
          yield "tick";
        }
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/", { logger: recordingLogger() }));
  const client = new Peer(await wsConnect(server.addr), { logger: recordingLogger() });
  const window = 16;
  const items = client.stream<string>("firehose", undefined, { credit: window });
  for (let read = 1; read <= 40; read++) {
    assertEquals((await items.next()).value, "tick");
    // The producer runs as far as its credit lets it, and no further.
    const granted = read + window + 1;
    await waitFor(() => pulls >= read + window / 2, { message: "the producer's burst" });
    assertLessOrEqual(pulls, granted);
  }
  await items.return();
  await client.close();
  await server.shutdown();
});

Deno.test("stream: the caller's interceptors see a stream call, may rewrite it or refuse it", async () => {
  const { handlers } = streamHandlers();
  const seenBy: unknown[] = [];
  const pair = peerPair({ handlers }, {
    interceptors: [async (call, next) => {
      if (call.method === "forbidden") throw new RpcError(-32099, "Not from here");
      if (call.method === "count") call.params = { to: 2 };
      const end = await next();
      seenBy.push([call.direction, call.method, end]);
      return end;
    }],
  });
  const items = pair.client.stream<number>("count", { to: 100 });
  assertEquals([await items.next(), await items.next(), await items.next()], [
    { done: false, value: 1 },
    { done: false, value: 2 },
    { done: true, value: "counted to 2" },
  ]);
  assertEquals(seenBy, [["outgoing", "count", "counted to 2"]]);
  await assertRejects(() => collect(pair.client.stream("forbidden")), RpcError, "Not from here");
  assertEquals(pair.client.stats().messagesSent, 1);
  await pair.close();
});

Deno.test("MessagePort: a stream with progress over structured clone, and its cancellation", async () => {
  const { seen, handlers } = streamHandlers();
  const { port1, port2 } = new MessageChannel();
  const server = new Peer(workerConnect(port1), { handlers, logger: recordingLogger() });
  const client = new Peer(workerConnect(port2), { logger: recordingLogger() });
  const counted = client.stream<number>("count", { to: 30 }, { credit: 4 });
  assertEquals((await collect(counted)).length, 30);
  const reports: unknown[] = [];
  assertEquals(
    await client.call("work", undefined, { onProgress: (value) => reports.push(value) }),
    "worked",
  );
  assertEquals(reports, [{ percent: 50 }, { percent: 100 }]);
  for await (const i of client.stream<number>("endless")) if (i === 3) break;
  await within(seen.finally.promise, 5000, "the finally block");
  await client.close();
  await server.close();
});

Deno.test("BroadcastChannel: no streams (notifications only)", async () => {
  const channel = workerConnect(new BroadcastChannel("stream-test"));
  const peer = new Peer(channel, { logger: recordingLogger() });
  assertThrows(() => peer.stream("x"), Unsupported, "cannot carry streams");
  await peer.close();
});

Deno.test("WebSocket, reconnecting: a dropped connection ends an open stream with ConnectionClosed; after the reconnect streams work again", async () => {
  const finished = deferred<string>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      async *endless(_params: unknown, ctx: CallContext) {
        try {
          for (let n = 1;; n++) yield n;
        } finally {
          finished.resolve(ctx.signal.aborted ? "aborted" : "returned");
        }
      },
      async *three() {
        yield* [1, 2, 3];
      },
    },
  }).serve(wsListen("ws://127.0.0.1:0/", { logger: recordingLogger() }));
  const channel = reconnecting(server.addr, {
    minDelay: 20,
    maxDelay: 100,
    logger: recordingLogger(),
  });
  const client = new Peer(channel, { logger: recordingLogger() });
  const items = client.stream<number>("endless", undefined, { credit: 4 });
  assertEquals((await items.next()).value, 1);
  assertEquals((await items.next()).value, 2);
  // The server drops the connection under the open stream.
  for (const connection of server.connections.values()) await connection.peer.close();
  await assertRejects(async () => {
    for (;;) if ((await items.next()).done) break;
  }, ConnectionClosed);
  assertEquals(await within(finished.promise, 5_000, "the handler's finally"), "aborted");
  await waitFor(() => channel.connected && channel.reconnects === 1, { message: "the reconnect" });
  const again: number[] = [];
  for await (const n of client.stream<number>("three")) again.push(n);
  assertEquals(again, [1, 2, 3]);
  await client.close();
  await server.shutdown();
});

Deno.test("stream: a remote side that sends more items than its credit ends the stream with an error, and the call is cancelled", async () => {
  const [raw, ours] = memoryPair<string>();
  const client = new Peer(ours, { logger: recordingLogger() });
  const items = client.stream<number>("flood", undefined, { credit: 2 });
  const frames = raw.frames[Symbol.asyncIterator]();
  const request = JSON.parse((await frames.next()).value as string);
  assertEquals(request.params, { method: "flood", credit: 2 });
  // Three items against a credit of two, before the reader took any.
  for (let n = 1; n <= 3; n++) {
    await raw.send(
      `{"jsonrpc":"2.0","method":"rpc.item","params":{"id":${request.id},"item":${n}}}`,
    );
  }
  // The third cancels the call (nothing was read, so no credit was granted meanwhile).
  const cancel = await within(frames.next(), 5_000, "the cancel");
  assertEquals(JSON.parse(cancel.value as string), {
    jsonrpc: "2.0",
    method: "rpc.cancel",
    params: { id: request.id },
  });
  await assertRejects(() => items.next(), RpcError, "more items than the credit it was granted");
  assertEquals(await items.next(), { done: true, value: undefined });
  await client.close();
});
