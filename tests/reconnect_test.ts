// ReconnectingChannel over in-memory connections: what happens to calls at a
// drop (reject or keep), what is queued while down, backoff and giving up,
// and that a peer on it keeps one set of handlers across reconnects.

import {
  CloseCode,
  ConnectionClosed,
  type Handler,
  memoryPair,
  type MemoryTransport,
  Peer,
  ReconnectingChannel,
  type ReconnectingDetail,
  type ReconnectOptions,
  Server,
} from "../mod.ts";
import { assert, assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";

/** A server whose connections the test can drop, and a channel to it. */
function setup(
  handlers: Record<string, Handler>,
  options: Partial<ReconnectOptions> = {},
) {
  const server = new Server({ handlers, logger: recordingLogger() });
  const ends: MemoryTransport<string>[] = [];
  let refuse = 0;
  const channel = new ReconnectingChannel({
    minDelay: 5,
    maxDelay: 20,
    logger: recordingLogger(),
    open: () => {
      if (refuse > 0) {
        refuse--;
        return Promise.reject(new Error("refused"));
      }
      const [serverEnd, clientEnd] = memoryPair();
      server.add(serverEnd);
      ends.push(serverEnd);
      return Promise.resolve(clientEnd);
    },
    ...options,
  });
  return {
    server,
    channel,
    /** Drops the current connection from the server's side. */
    drop: () => ends.at(-1)!.close("dropped by the test"),
    refuseNext: (n: number) => refuse = n,
    opened: () =>
      new Promise((resolve) => channel.addEventListener("open", resolve, { once: true })),
  };
}

Deno.test("ReconnectingChannel rejects the calls of a dropped connection and serves new ones", async () => {
  const started = deferred();
  const { server, channel, drop, opened } = setup({
    hang: () => (started.resolve(), new Promise(() => {})),
    ping: () => "pong",
  });
  const client = new Peer(channel, { logger: recordingLogger() });
  const hung = client.call("hang", {}, { timeout: 0 });
  await started.promise;
  const reopened = opened();
  await drop();
  const error = await assertRejects(() => hung, ConnectionClosed);
  assertEquals(error.code, CloseCode.Remote);
  await reopened;
  assertEquals(await client.call("ping"), "pong");
  assertEquals([client.isClosed, channel.reconnects, client.stats().pendingCalls], [false, 1, 0]);
  await client.close();
  await server.shutdown();
});

Deno.test("ReconnectingChannel aborts the handlers of calls that came on a dropped connection", async () => {
  const server = new Server({ logger: recordingLogger() });
  const serverPeers: Peer[] = [];
  const ends: MemoryTransport<string>[] = [];
  const channel = new ReconnectingChannel({
    minDelay: 5,
    logger: recordingLogger(),
    open: () => {
      const [serverEnd, clientEnd] = memoryPair();
      serverPeers.push(server.add(serverEnd)!.peer);
      ends.push(serverEnd);
      return Promise.resolve(clientEnd);
    },
  });
  const aborted = deferred<unknown>();
  const running = deferred();
  const client = new Peer(channel, {
    logger: recordingLogger(),
    handlers: {
      work: (_params, ctx) => {
        running.resolve();
        ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        return new Promise((resolve) => setTimeout(() => resolve("too late"), 30));
      },
    },
  });
  await waitFor(() => serverPeers.length > 0, { message: "the first connection" });
  const fromServer = serverPeers[0]!.call("work", {}).catch((error) => error);
  await running.promise;
  await ends[0]!.close("dropped");
  assert((await aborted.promise) instanceof DOMException);
  assert((await fromServer) instanceof ConnectionClosed);
  // The late reply is dropped by the channel, not sent on the next connection.
  await waitFor(() => client.stats().runningHandlers === 0, { message: "the handler to end" });
  await waitFor(() => serverPeers.length > 1, { message: "the next connection" });
  // What the client sent on it before answering this has arrived.
  await serverPeers[1]!.call("rpc.ping");
  assertEquals(serverPeers[1]!.stats().unknownReplies, 0);
  await client.close();
  await server.shutdown();
});

Deno.test("ReconnectingChannel with pending 'keep' leaves calls pending across a drop", async () => {
  const started = deferred();
  const { server, channel, drop, opened } = setup({
    hang: () => (started.resolve(), new Promise(() => {})),
  }, { pending: "keep" });
  const client = new Peer(channel, { logger: recordingLogger() });
  const hung = client.call("hang", {}, { timeout: 0 });
  await started.promise;
  const reopened = opened();
  await drop();
  await reopened;
  // A round trip on the new connection: the drop has been dealt with by now.
  await client.call("rpc.ping");
  assertEquals(client.stats().pendingCalls, 1);
  await client.close("done");
  await assertRejects(() => hung, ConnectionClosed, "done");
  await server.shutdown();
});

Deno.test("ReconnectingChannel queues what is sent while no connection is up, and sends it in order", async () => {
  const seen: number[] = [];
  const { server, channel, drop, refuseNext, opened } = setup({
    note: ({ n }: { n: number }) => void seen.push(n),
    ping: () => "pong",
  });
  const client = new Peer(channel, { logger: recordingLogger() });
  assertEquals(await client.call("ping"), "pong");
  refuseNext(2);
  const reconnecting: ReconnectingDetail[] = [];
  channel.addEventListener("reconnecting", (event) => {
    reconnecting.push((event as CustomEvent<ReconnectingDetail>).detail);
  });
  const dropped = new Promise((resolve) =>
    channel.addEventListener("reconnecting", resolve, { once: true })
  );
  await drop();
  await within(dropped, 10_000, "the drop to be seen");
  const reopened = opened();
  await Promise.all([client.notify("note", { n: 1 }), client.notify("note", { n: 2 }), reopened]);
  assertEquals(await client.call("ping"), "pong");
  assertEquals(seen, [1, 2]);
  // One wait after the drop, then one after each refused attempt, growing (a
  // connection that lasted less than a second counts as a failed attempt).
  assertEquals(reconnecting.map((r) => r.attempt), [1, 2, 3]);
  assertEquals(reconnecting[0]!.reason.code, CloseCode.Remote);
  assertEquals(reconnecting[1]!.reason.message, "could not connect: refused");
  for (const r of reconnecting) assert(r.delay >= 2 && r.delay <= 20, String(r.delay));
  await client.close();
  await server.shutdown();
});

Deno.test("ReconnectingChannel gives up after maxAttempts failures in a row and closes", async () => {
  const closed = deferred<unknown>();
  const channel = new ReconnectingChannel({
    minDelay: 1,
    maxAttempts: 3,
    logger: recordingLogger(),
    open: () => Promise.reject(new Error("nobody home")),
  });
  channel.addEventListener("close", (event) => closed.resolve((event as CustomEvent).detail));
  const client = new Peer(channel, { logger: recordingLogger() });
  const call = client.call("anything");
  await assertRejects(() => call, ConnectionClosed, "gave up after 3 attempts");
  assertEquals(await closed.promise, {
    code: CloseCode.Failed,
    message: "gave up after 3 attempts",
  });
  await client.closed;
});

Deno.test("ReconnectingChannel: one set of handlers and one timer after many reconnects", async () => {
  const { server, channel, drop, opened } = setup({ ping: () => "pong" });
  let heard = 0;
  let opens = 0;
  const client = new Peer(channel, {
    logger: recordingLogger(),
    handlers: { news: () => void heard++ },
  });
  channel.addEventListener("open", () => opens++);
  assertEquals(await client.call("ping"), "pong");
  for (let i = 0; i < 5; i++) {
    const reopened = opened();
    await drop();
    await reopened;
  }
  assertEquals(await client.call("ping"), "pong");
  assertEquals(await server.notify("news", {}), 1);
  // The server sent the push before this answer: it has been handled.
  assertEquals(await client.call("ping"), "pong");
  // The push was handled once; the first open and five reopens.
  assertEquals([heard, channel.reconnects, opens], [1, 5, 6]);
  assertGreater(server.connections.size, 0);
  await client.close();
  await server.shutdown();
  // The op sanitizer fails this test if a retry timer or a socket outlives it.
});

Deno.test("ReconnectingChannel calls onReconnect after each reconnect, before queued messages", async () => {
  const order: string[] = [];
  const { server, channel, drop, opened } = setup({
    subscribe: () => void order.push("subscribe"),
    note: () => void order.push("note"),
  }, {
    onReconnect: () => client.call("subscribe").then(() => order.push("resubscribed")),
  });
  const client: Peer = new Peer(channel, { logger: recordingLogger() });
  await client.call("subscribe");
  const reopened = opened();
  const dropped = new Promise((resolve) =>
    channel.addEventListener("reconnecting", resolve, { once: true })
  );
  await drop();
  await within(dropped, 10_000, "the drop to be seen");
  const note = client.notify("note");
  await reopened;
  await note;
  await waitFor(() => order.includes("note"), { message: "the note to be handled" });
  assertEquals(order, ["subscribe", "subscribe", "resubscribed", "note"]);
  await client.close();
  await server.shutdown();
});
