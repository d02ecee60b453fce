// One client must not take every handler slot of a server: a connection may
// start a handler only while it holds fewer slots than are free, so others
// always find room (and get the slots that free up first).

import { ConcurrencyLimit, type FramedChannel, Peer, Server } from "../mod.ts";
import { connect, listen, type TcpTransport } from "../transports/tcp.ts";
import { assert, assertEquals } from "./_assert.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

function transportOf(peer: Peer): TcpTransport {
  return (peer.channel as FramedChannel<string>).transport as TcpTransport;
}

Deno.test("fair share: 16 connections × 256 sleeping calls leave room for another client's add", async () => {
  const gate = deferred();
  let started = 0;
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: {
      sleep: async () => (started++, await gate.promise, "slept"),
      add: ({ a, b }) => a + b,
    },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  const frame = (id: number) => `{"jsonrpc":"2.0","method":"sleep","id":${id}}`;
  const hogs: RawSocket[] = [];
  for (let c = 0; c < 16; c++) {
    const raw = await RawSocket.connect(server.addr);
    hogs.push(raw);
    await raw.send(Array.from({ length: 256 }, (_, id) => frame(id) + "\n").join(""));
  }
  // Every hog call has reached the server (read by its peer or not).
  await waitFor(() => {
    const connections = [...server.connections.values()];
    return connections.length === 16 &&
      connections.every((c) => transportOf(c.peer).framesReceived === 256);
  }, { timeout: 20_000, message: "the hogs' calls to arrive" });
  assert(started < 4096, "the hog took every slot");

  const client = new Peer(await connect(server.addr), { logger });
  assertEquals(await client.call("add", { a: 1, b: 2 }, { timeout: 5000 }), 3);

  gate.resolve();
  for (const raw of hogs) {
    for (let i = 0; i < 256; i++) assert((await within(raw.readFrame(), 20_000)).includes("slept"));
    raw.close();
  }
  assertEquals(started, 4096);
  await client.close();
  await server.shutdown();
});

Deno.test("fair share: a connection holds at most as many slots as are left free", async () => {
  // Four slots. The hog takes two (then two are free: it stops), the second
  // connection one (then one is free), and a third still finds room.
  const gate = deferred();
  let started = 0;
  const logger = recordingLogger();
  const server = new Server({
    logger,
    maxRunningHandlers: 4,
    peer: { maxConcurrentHandlers: 100 },
    handlers: { sleep: async () => (started++, await gate.promise, "slept"), add: () => 3 },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  const frame = (id: number) => `{"jsonrpc":"2.0","method":"sleep","id":${id}}`;
  const running: number[] = [];
  const raws: RawSocket[] = [];
  for (const calls of [10, 3]) {
    const raw = await RawSocket.connect(server.addr);
    raws.push(raw);
    await raw.send(Array.from({ length: calls }, (_, id) => frame(id) + "\n").join(""));
    await waitFor(() => {
      const peer = [...server.connections.values()][raws.length - 1]?.peer;
      return peer !== undefined && transportOf(peer).framesReceived === calls;
    }, { message: "the calls to arrive" });
    running.push(started);
  }
  assertEquals(running, [2, 3]);
  const third = new Peer(await connect(server.addr), { logger });
  assertEquals(await third.call("add", undefined, { timeout: 5000 }), 3);
  gate.resolve();
  for (const [i, raw] of raws.entries()) {
    for (let n = 0; n < [10, 3][i]!; n++) {
      assert((await within(raw.readFrame(), 10_000)).includes("slept"));
    }
    raw.close();
  }
  assertEquals(started, 13);
  await third.close();
  await server.shutdown();
});

Deno.test("ConcurrencyLimit.canTake: a holder may take a slot only while it holds fewer than are free", () => {
  const limit = new ConcurrencyLimit(8);
  for (let i = 0; i < 4; i++) limit.acquire();
  // 4 used, 4 free.
  assertEquals([limit.canTake(0), limit.canTake(3), limit.canTake(4)], [true, true, false]);
  for (let i = 0; i < 4; i++) limit.acquire();
  assertEquals(limit.canTake(0), false);
});

/** A JSON-RPC batch of `adds` calls to `add`, ids from `first`. */
function addBatch(adds: number, first = 1): string {
  const calls = Array.from(
    { length: adds },
    (_, i) => `{"jsonrpc":"2.0","method":"add","params":[${i},${i + 1}],"id":${first + i}}`,
  );
  return `[${calls.join(",")}]\n`;
}

/** The results of one batch answer, by id. */
function results(answer: string): Record<string, unknown> {
  const replies = JSON.parse(answer) as { id: number; result: unknown }[];
  return Object.fromEntries(replies.map((reply) => [reply.id, reply.result]));
}

Deno.test("fair share: a batch of two calls is answered with maxRunningHandlers: 2", async () => {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    maxRunningHandlers: 2,
    handlers: { add: ([a, b]) => a + b },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  const raw = await RawSocket.connect(server.addr);
  await raw.send(addBatch(2));
  assertEquals(results(await within(raw.readFrame(), 5000, "the batch's answer")), { 1: 1, 2: 3 });
  raw.close();
  await server.shutdown();
});

Deno.test("fair share: several batches at once near the limit are all answered", async () => {
  // Three connections send batches of three slow calls into two shared
  // slots: an open batch holds no slot of its own, so each gets its turn.
  const logger = recordingLogger();
  let running = 0;
  let most = 0;
  const server = new Server({
    logger,
    maxRunningHandlers: 2,
    handlers: {
      add: async ([a, b]) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return a + b;
      },
    },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  const raws = await Promise.all([0, 1, 2].map(() => RawSocket.connect(server.addr)));
  await Promise.all(raws.map((raw, i) => raw.send(addBatch(3, 10 * i))));
  for (const [i, raw] of raws.entries()) {
    const answer = results(await within(raw.readFrame(), 10_000, `batch ${i}'s answer`));
    assertEquals(answer, { [10 * i]: 1, [10 * i + 1]: 3, [10 * i + 2]: 5 });
    raw.close();
  }
  assertEquals(most <= 2, true);
  await server.shutdown();
});
