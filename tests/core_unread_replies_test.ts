// A client that sends and never reads its replies: what a server queues for
// it is bounded on every wire framed by the library (no new call starts while
// a reply waits for the wire, and the connection is cut by the first bound
// it reaches), and a "Method not found" does not echo a huge method name.

import {
  type FramedChannel,
  type Listener,
  type Logger,
  memoryPair,
  Peer,
  RemoteError,
  Server,
} from "../mod.ts";
import { listen as listenTcp } from "../transports/tcp.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { assert, assertEquals, assertLessOrEqual, assertRejects } from "./_assert.ts";
import { deferred, peerPair, recordingLogger, waitFor, within } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import { RawWebSocket } from "./_ws_raw.ts";

const MiB = 1024 * 1024;

/** What `neverRead` saw. */
interface Seen {
  /** The most the server's transport had unsent for the client. */
  queued: number;
  /** The most RSS grew meanwhile. */
  rss: number;
  /** Replies the server handed to its channel. */
  answered: number;
  /** Why the server cut the client off, if it did. */
  cut: string | undefined;
}

/**
 * A client (made by `open`) sends `calls` messages and never reads, until
 * the server has answered them all or cut the client off.
 */
async function neverRead(
  listener: (logger: ReturnType<typeof recordingLogger>) => Listener<string>,
  open: (addr: string) => Promise<{ send(): Promise<void>; close(): Promise<unknown> | void }>,
  calls: number,
): Promise<Seen> {
  const logger = recordingLogger();
  let cut: string | undefined;
  const server = new Server({
    logger,
    handlers: { echo: (params) => params },
    onDisconnect: (_connection, reason) => cut = reason.code,
  }).serve(listener(logger));
  const before = Deno.memoryUsage().rss;
  const client = await open(server.addr);
  const sending = (async () => {
    for (let i = 0; i < calls; i++) await client.send();
  })().catch(() => {}); // the server cuts us off
  const seen: Seen = { queued: 0, rss: 0, answered: 0, cut: undefined };
  await waitFor(() => {
    const connection = [...server.connections.values()][0];
    if (connection !== undefined) {
      // TcpTransport and WebSocketTransport both count what is unsent.
      const transport = (connection.peer.channel as FramedChannel<string>).transport as unknown as {
        bufferedAmount: number;
      };
      seen.queued = Math.max(seen.queued, transport.bufferedAmount);
      seen.answered = Math.max(seen.answered, connection.peer.stats().messagesSent);
    }
    seen.rss = Math.max(seen.rss, Deno.memoryUsage().rss - before);
    return cut !== undefined || seen.answered === calls;
  }, { timeout: 60_000, interval: 20, message: "the server to answer or cut off the client" });
  seen.cut = cut;
  const closed = client.close();
  await sending;
  await Promise.all([closed, server.shutdown()]);
  return seen;
}

const tcp = (logger: ReturnType<typeof recordingLogger>) =>
  listenTcp("tcp://127.0.0.1:0", { logger, writeTimeout: 4000 });

/** A raw TCP client sending `frame` each time. */
function rawTcp(
  frame: string,
): (addr: string) => Promise<{ send(): Promise<void>; close(): void }> {
  const bytes = new TextEncoder().encode(frame + "\n");
  return async (addr) => {
    const raw = await RawSocket.connect(addr);
    return { send: () => raw.send(bytes), close: () => raw.close() };
  };
}

Deno.test("tcp: replies a client never reads are bounded: 40 echo calls of 15 MiB", async () => {
  const params = "x".repeat(15 * MiB);
  const frame = `{"jsonrpc":"2.0","method":"echo","params":["${params}"],"id":1}`;
  const { queued, rss, answered, cut } = await neverRead(tcp, rawTcp(frame), 40);
  // One reply waits for the wire; no further call starts meanwhile. The
  // kernel's socket buffers take some of what the client does not read
  // (Linux grows a loopback receive buffer up to tcp_rmem's maximum, 32 MiB
  // on many hosts), so under load a reply or two more may leave the server
  // before one waits: seen once in 7 runs of the suite (3 answered).
  assertEquals(cut, "write-timeout");
  assertLessOrEqual(answered, 4);
  assertLessOrEqual(queued, 2 * 16 * MiB);
  // Generous: the client's frame, what the server read, one reply (before: +1486 MiB).
  assertLessOrEqual(rss, 400 * MiB);
});

Deno.test("tcp: 40 calls to a 15 MiB method name get small answers", async () => {
  const frame = `{"jsonrpc":"2.0","method":"${"m".repeat(15 * MiB)}","id":1}`;
  const { queued, rss, answered } = await neverRead(tcp, rawTcp(frame), 40);
  assertEquals(answered, 40);
  // The name is not echoed whole: each answer is a few hundred bytes.
  assertLessOrEqual(queued, 64 * 1024);
  assertLessOrEqual(rss, 400 * MiB); // before: +797 MiB
});

/** A wire for the "calls already running" cases: its listener, and a raw client's sends. */
interface RawWire {
  name: string;
  listen(logger: Logger, options: { maxUnsentBytes?: number }): Listener<string>;
  /** Connects, sends each frame as a frame of the wire, and never reads. */
  send(addr: string, frames: string[]): Promise<{ close(): Promise<unknown> | void }>;
}

const RAW_WIRES: RawWire[] = [
  {
    name: "tcp",
    listen: (logger, options) => listenTcp("tcp://127.0.0.1:0", { logger, ...options }),
    send: async (addr, frames) => {
      const raw = await RawSocket.connect(addr);
      await raw.send(frames.map((frame) => frame + "\n").join(""));
      return raw;
    },
  },
  {
    name: "websocket",
    listen: (logger, options) => listenWebSocket("ws://127.0.0.1:0/", { logger, ...options }),
    send: async (addr, frames) => {
      const raw = await RawWebSocket.connect(addr);
      for (const frame of frames) await raw.send(frame);
      // Reads what the server queued, so its close is not left pending.
      return { close: () => raw.finish() };
    },
  },
];

for (const wire of RAW_WIRES) {
  for (
    const [what, options, bound] of [
      ["maxUnsentBytes: 16 MiB", { maxUnsentBytes: 16 * MiB }, 16 * MiB],
      ["64 MiB by default", {}, 64 * MiB],
    ] as const
  ) {
    Deno.test(`${wire.name}: the replies of calls already running are bounded too (${what})`, async () => {
      // Small calls to slow handlers with large results: all forty run before
      // any reply exists, so pausing new calls cannot help; the bound on what
      // is unsent does.
      const gate = deferred();
      let started = 0;
      const logger = recordingLogger();
      const disconnected = deferred<string>();
      const server = new Server({
        logger,
        handlers: { big: async ({ size }) => (started++, await gate.promise, "x".repeat(size)) },
        onDisconnect: (_connection, reason) => disconnected.resolve(reason.code),
      }).serve(wire.listen(logger, options));
      const raw = await wire.send(
        server.addr,
        Array.from(
          { length: 40 },
          (_, id) => `{"jsonrpc":"2.0","method":"big","params":{"size":${2 * MiB}},"id":${id}}`,
        ),
      );
      await waitFor(() => started === 40, { message: "the forty calls to start" });
      const [connection] = server.connections.values();
      const transport = (connection!.peer.channel as FramedChannel<string>)
        .transport as unknown as {
          bufferedAmount: number;
        };
      gate.resolve();
      let queued = 0;
      let cut: string | undefined;
      disconnected.promise.then((code) => cut = code);
      await waitFor(() => {
        queued = Math.max(queued, transport.bufferedAmount);
        return cut;
      }, { message: "the client to be cut off" });
      assertEquals(cut, "write-overflow");
      assertLessOrEqual(queued, bound);
      await Promise.all([raw.close(), server.shutdown()]);
    });
  }
}

Deno.test("websocket: replies a client never reads are bounded: 40 echo calls of 2 MiB", async () => {
  const message = `{"jsonrpc":"2.0","method":"echo","params":["${"x".repeat(2 * MiB)}"],"id":1}`;
  const { queued, answered, cut } = await neverRead(
    (logger) => listenWebSocket("ws://127.0.0.1:0/", { logger, writeTimeout: 4000 }),
    async (addr) => {
      const raw = await RawWebSocket.connect(addr);
      let sending = Promise.resolve();
      let closing = false;
      return {
        send: () => closing ? Promise.reject(new Error("closed")) : (sending = raw.send(message)),
        // After the last send, reads what the server queued, so its close is not left pending.
        close: async () => {
          closing = true;
          try {
            // A send the server no longer reads never ends: then only cut it off.
            await within(sending.catch(() => {}), 3_000, "the last send");
          } catch {
            raw.close();
            return;
          }
          await raw.finish();
        },
      };
    },
    40,
  );
  // Cut off by the first bound it reaches: unread messages, or the write timeout.
  assert(cut === "refused" || cut === "write-timeout", cut);
  // A reply or two wait for the wire; no further call starts meanwhile.
  assertLessOrEqual(answered, 3);
  assertLessOrEqual(queued, 8 * MiB);
});

Deno.test("dispatch: over a memory pair, a peer whose replies are not read stops taking calls", async () => {
  const [serverEnd, raw] = memoryPair<string>({ highWaterMark: 4 });
  const server = new Peer(serverEnd, {
    logger: recordingLogger(),
    handlers: { echo: (params) => params },
  });
  const sends: Promise<void>[] = [];
  for (let id = 1; id <= 100; id++) {
    const sent = raw.send(`{"jsonrpc":"2.0","method":"echo","params":[${id}],"id":${id}}`);
    sent.catch(() => {});
    sends.push(sent);
  }
  // Wait until a reply waits for the raw end to read.
  const channel = server.channel as FramedChannel<string>;
  await waitFor(() => channel.congested, { message: "a reply to wait" });
  // The raw end holds 4 replies and one more waits: no further call was taken.
  assertLessOrEqual(server.stats().messagesReceived, 6);
  assertLessOrEqual(server.stats().messagesSent, 6);
  // Reading lets it go on to the end.
  const ids: number[] = [];
  for await (const frame of raw.frames) {
    ids.push(JSON.parse(frame as string).id);
    if (ids.length === 100) break;
  }
  assertEquals(ids, Array.from({ length: 100 }, (_, i) => i + 1));
  await Promise.all(sends);
  await raw.close();
  await server.closed;
});

Deno.test("dispatch: the method name echoed by Method not found is cut at 256 characters", async () => {
  const logger = recordingLogger();
  const { client, close } = peerPair({ logger });
  const name = "é".repeat(1000);
  const error = await assertRejects(() => client.call(name), RemoteError);
  assertEquals([error.code, error.data], [-32601, { method: `${"é".repeat(256)}…` }]);
  // A short name is echoed as it is.
  const short = await assertRejects(() => client.call("nosuch"), RemoteError);
  assertEquals(short.data, { method: "nosuch" });
  // And so in log lines: a notification to a long unknown name.
  await client.notify(name);
  await client.call("rpc.ping");
  const line = logger.messages("warn").find((line) => line.includes("unknown method"));
  assert(line !== undefined && line.length < 400, line);
  await close();
});
