// Two peers that call each other at once with large results: each waits for
// the other to read its replies, so neither may stop reading the other's
// replies while its own wait on the wire (a server pauses new calls while a
// reply of its waits, so a client that never reads cannot pile them up; a
// peer with calls of its own in flight must keep reading, or both stall).

import {
  type FramedChannel,
  type Listener,
  type Logger,
  memoryPair,
  Peer,
  Server,
  type Transport,
} from "../mod.ts";
import { connect as connectTcp, listen as listenTcp } from "../transports/tcp.ts";
import { connect as connectWebSocket } from "../transports/websocket.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { assertEquals, assertLessOrEqual } from "./_assert.ts";
import { recordingLogger, test, waitFor } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

const MiB = 1024 * 1024;
const CALLS = 5;
const SIZE = 4 * MiB;

/**
 * Both peers call `method` `count` times at once (its result is `size`
 * characters); resolves with how many calls were answered.
 */
async function crossCalls(
  a: Peer,
  b: Peer,
  count = CALLS,
  method = "big",
  size = SIZE,
): Promise<{ answered: number; failure?: string }> {
  const call = (peer: Peer) => peer.call<string>(method, undefined, { timeout: 20_000 });
  const calls = [
    ...Array.from({ length: count }, () => call(a)),
    ...Array.from({ length: count }, () => call(b)),
  ];
  const results = await Promise.allSettled(calls);
  const answered = results.filter((r) => r.status === "fulfilled" && r.value.length === size);
  const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
  return { answered: answered.length, failure: failed && String(failed.reason) };
}

const big = "x".repeat(SIZE);
const medium = "m".repeat(64 * 1024);
const handlers = { big: () => big, medium: () => medium };

/** A socket wire: how to listen, and how to connect a transport (both with long write timeouts). */
interface Wire {
  name: string;
  listen(logger: Logger): Listener<string>;
  connect(addr: string, logger: Logger): Promise<Transport<string>>;
}

const WIRES: Wire[] = [
  {
    name: "tcp",
    listen: (logger) => listenTcp("tcp://127.0.0.1:0", { logger, writeTimeout: 20_000 }),
    connect: (addr, logger) => connectTcp(addr, { logger, writeTimeout: 20_000 }),
  },
  {
    name: "websocket",
    listen: (logger) => listenWebSocket("ws://127.0.0.1:0/", { logger, writeTimeout: 20_000 }),
    connect: (addr, logger) => connectWebSocket(addr, { logger, writeTimeout: 20_000 }),
  },
];

for (const wire of WIRES) {
  test(`${wire.name}: two peers calling each other with ${CALLS} × 4 MiB results each way, then 300 × 64 KiB, are all answered`, async () => {
    const logger = recordingLogger();
    let serverSide: Peer | undefined;
    const server = new Server({
      logger,
      handlers,
      onConnect: (connection) => {
        serverSide = connection.peer;
      },
    }).serve(wire.listen(logger));
    const client = new Peer(await wire.connect(server.addr, logger), {
      logger,
      handlers,
    });
    const peer = await waitFor(() => serverSide, { message: "the server to accept" });
    assertEquals(await crossCalls(client, peer), { answered: 2 * CALLS, failure: undefined });
    // More calls each way than either may handle at once (256), with replies
    // past the high water mark: a reply waiting on the wire must not hold
    // its handler slot while its peer awaits replies of its own.
    assertEquals(await crossCalls(client, peer, 300, "medium", medium.length), {
      answered: 600,
      failure: undefined,
    });
    await client.close();
    await server.shutdown();
  });
}

test(`memory: two peers calling each other with ${CALLS} × 4 MiB results each way, then 300 × 64 KiB, are all answered`, async () => {
  // Two frames each way fill the pair: every reply waits for the other to read.
  const [left, right] = memoryPair<string>({ highWaterMark: 2 });
  const a = new Peer(left, { logger: recordingLogger(), handlers });
  const b = new Peer(right, { logger: recordingLogger(), handlers });
  assertEquals(await crossCalls(a, b), { answered: 2 * CALLS, failure: undefined });
  assertEquals(await crossCalls(a, b, 300, "medium", medium.length), {
    answered: 600,
    failure: undefined,
  });
  await a.close();
  await b.closed;
});

test("tcp: a server awaiting a reply from a client that never reads still bounds what it queues", async () => {
  // The server's call back to the client keeps it reading while its replies
  // wait; what is unsent is then bounded by maxUnsentBytes, and the client cut.
  const logger = recordingLogger();
  const disconnected = Promise.withResolvers<string>();
  const server = new Server({
    logger,
    handlers: {
      ask: (_params, ctx) => ctx.peer.call("never", undefined, { timeout: 0 }).catch(() => null),
      echo: (params) => params,
    },
    onDisconnect: (_connection, reason) => disconnected.resolve(reason.code),
  }).serve(listenTcp("tcp://127.0.0.1:0", { logger, maxUnsentBytes: 16 * MiB }));
  const raw = await RawSocket.connect(server.addr);
  const echo = `{"jsonrpc":"2.0","method":"echo","params":["${"x".repeat(2 * MiB)}"],"id":2}\n`;
  const sending = (async () => {
    await raw.send(`{"jsonrpc":"2.0","method":"ask","id":1}\n`);
    for (let i = 0; i < 40; i++) await raw.send(echo);
  })().catch(() => {}); // cut off
  let queued = 0;
  let cut: string | undefined;
  disconnected.promise.then((code) => cut = code);
  await waitFor(() => {
    const connection = [...server.connections.values()][0];
    const transport = (connection?.peer.channel as FramedChannel<string> | undefined)
      ?.transport as { bufferedAmount?: number } | undefined;
    queued = Math.max(queued, transport?.bufferedAmount ?? 0);
    return cut;
  }, { timeout: 30_000, interval: 2, message: "the client to be cut off" });
  assertEquals(cut, "write-overflow");
  assertLessOrEqual(queued, 16 * MiB);
  raw.close();
  await sending;
  await server.shutdown();
});
