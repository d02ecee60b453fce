// A healthy peer's own burst must not trip the bound meant for a peer that
// never reads (`maxUnsentBytes`): calls and notifications wait for room on
// the wire before they are queued, so what is unsent stays near
// `writeHighWaterMark` plus one frame, however many are sent at once.

import {
  CallTimeout,
  ConnectionClosed,
  type Listener,
  memoryPair,
  type MemoryTransport,
  Peer,
  Server,
} from "../mod.ts";
import { connect as connectTcp, listen as listenTcp } from "../transports/tcp.ts";
import { connect as connectWebSocket, reconnecting } from "../transports/websocket.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { assertEquals, assertLessOrEqual, assertRejects } from "./_assert.ts";
import { recordingLogger, test, waitFor, within } from "./_helpers.ts";

const MiB = 1024 * 1024;

interface Wire {
  name: string;
  listen(logger: ReturnType<typeof recordingLogger>): Listener<string>;
  connect(addr: string, logger: ReturnType<typeof recordingLogger>): Promise<
    { bufferedAmount: number } & ConstructorParameters<typeof Peer>[0]
  >;
}

const WIRES: Wire[] = [
  {
    name: "tcp",
    listen: (logger) => listenTcp("tcp://127.0.0.1:0", { logger }),
    connect: (addr, logger) => connectTcp(addr, { logger }),
  },
  {
    name: "websocket",
    listen: (logger) => listenWebSocket("ws://127.0.0.1:0/", { logger }),
    connect: (addr, logger) => connectWebSocket(addr, { logger }),
  },
];

/** Samples `read()` until `done()` holds; resolves with the most it read. */
async function most(read: () => number, done: () => boolean, message: string): Promise<number> {
  let highest = 0;
  await waitFor(() => {
    highest = Math.max(highest, read());
    return done();
  }, { timeout: 60_000, interval: 2, message });
  return highest;
}

for (const wire of WIRES) {
  test(`${wire.name}: 40 concurrent calls with 2 MiB params from one client are all answered`, async () => {
    const logger = recordingLogger();
    const server = new Server({ logger, handlers: { echo: ([text]) => text } })
      .serve(wire.listen(logger));
    const transport = await wire.connect(server.addr, logger);
    const client = new Peer(transport, { logger });
    const text = "x".repeat(2 * MiB);
    let settled = 0;
    const calls = Promise.allSettled(Array.from(
      { length: 40 },
      () => client.call<string>("echo", [text], { timeout: 60_000 }).finally(() => settled++),
    ));
    const queued = await most(() => transport.bufferedAmount, () => settled === 40, "the calls");
    const results = await calls;
    assertEquals(results.filter((r) => r.status === "fulfilled" && r.value === text).length, 40);
    // One call at a time waits on the wire: the high water mark and one frame.
    assertLessOrEqual(queued, MiB + 2 * MiB + 1024);
    await client.close();
    await server.shutdown();
  });

  test(`${wire.name}: a burst of 100 notifications of 1 MiB from a client all arrive`, async () => {
    const logger = recordingLogger();
    let arrived = 0;
    const server = new Server({ logger, handlers: { log: () => void arrived++ } })
      .serve(wire.listen(logger));
    const transport = await wire.connect(server.addr, logger);
    const client = new Peer(transport, { logger });
    const line = "y".repeat(MiB);
    let failed = 0;
    const sends = Promise.allSettled(
      Array.from({ length: 100 }, () => client.notify("log", [line]).catch(() => void failed++)),
    );
    const queued = await most(
      () => transport.bufferedAmount,
      () => arrived === 100 || failed > 0,
      "the lines",
    );
    await sends;
    assertEquals([arrived, failed], [100, 0]);
    assertLessOrEqual(queued, MiB + MiB + 1024);
    await client.close();
    await server.shutdown();
  });

  test(`${wire.name}: a burst of 100 notifications of 1 MiB from the server all arrive`, async () => {
    const logger = recordingLogger();
    let arrived = 0;
    const server = new Server({ logger }).serve(wire.listen(logger));
    const client = new Peer(await wire.connect(server.addr, logger), {
      logger,
      handlers: { log: () => void arrived++ },
    });
    await client.call("rpc.ping");
    await waitFor(() => server.connections.size === 1, { message: "the server to accept" });
    const line = "z".repeat(MiB);
    const reached = await Promise.all(
      Array.from({ length: 100 }, () => server.notify("log", [line])),
    );
    assertEquals(reached.every((n) => n === 1), true);
    await waitFor(() => arrived === 100, { timeout: 60_000, message: "the lines" });
    await client.close();
    await server.shutdown();
  });
}

test("websocket: 40 concurrent calls with 2 MiB params over a reconnecting channel are all answered", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { echo: ([text]) => text } })
    .serve(listenWebSocket("ws://127.0.0.1:0/", { logger }));
  const client = new Peer(reconnecting(server.addr, { logger }), { logger });
  const text = "x".repeat(2 * MiB);
  const results = await Promise.allSettled(
    Array.from({ length: 40 }, () => client.call<string>("echo", [text], { timeout: 60_000 })),
  );
  // The failures' reasons, so a failure says why (not only how many).
  assertEquals(
    results.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []),
    [],
    `logged: ${logger.messages().join(" | ").slice(0, 4000)}`,
  );
  assertEquals(results.filter((r) => r.status === "fulfilled" && r.value === text).length, 40);
  await client.close();
  await server.shutdown();
});

test("memory: calls and notifications wait in line while the wire is full, and leave in order", async () => {
  const [end, raw] = memoryPair<string>({ highWaterMark: 1 });
  const client = new Peer(end, { logger: recordingLogger() });
  const first = client.notify("n1");
  const call = client.call("c1", undefined, { timeout: 0 });
  call.catch(() => {});
  // The wire is full now: these wait in line, not on the wire.
  const late = client.call("c2", undefined, { timeout: 20 });
  const second = client.notify("n2");
  second.catch(() => {});
  // One that times out in line is never sent, and no cancel follows it.
  await assertRejects(() => late, CallTimeout);
  await first;
  const frames: string[] = [];
  for (let i = 0; i < 3; i++) frames.push(String(await within(nextFrame(raw), 5000, "a frame")));
  await second;
  assertEquals(frames.map((frame) => JSON.parse(frame).method), ["n1", "c1", "n2"]);
  assertEquals(client.stats().messagesSent, 3);
  await client.close();
  await assertRejects(() => call, ConnectionClosed);
});

test("memory: closing the peer rejects the notifications waiting in line", async () => {
  const [end, raw] = memoryPair<string>({ highWaterMark: 1 });
  const client = new Peer(end, { logger: recordingLogger() });
  await client.notify("n1");
  const blocking = client.notify("n2");
  blocking.catch(() => {});
  const waiting = client.notify("n3");
  waiting.catch(() => {});
  await client.close();
  await assertRejects(() => waiting, ConnectionClosed);
  assertEquals(client.stats().messagesSent, 2);
  await raw.closed;
});

/** The next frame `transport` received. */
async function nextFrame(transport: MemoryTransport<string>): Promise<string> {
  const next = await transport.frames[Symbol.asyncIterator]().next();
  if (next.done) throw new Error("the connection ended");
  return next.value;
}
