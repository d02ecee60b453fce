// The TCP/TLS transport and the Server, on real loopback sockets.

import {
  CloseCode,
  type CloseReason,
  type Connection,
  ConnectionClosed,
  type FramedChannel,
  Peer,
  RemoteError,
  Server,
  type ServerOptions,
} from "../mod.ts";
import {
  connect,
  listen,
  parseTcpUrl,
  type TcpOptions,
  type TcpTransport,
} from "../transports/tcp.ts";
import {
  assert,
  assertEquals,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { deferred, type RecordingLogger, recordingLogger, waitFor } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import { selfSigned } from "./_tls.ts";

function jsonServer<S = Record<string, unknown>>(
  options: Partial<ServerOptions<S>> = {},
  tcp: TcpOptions = {},
): { server: Server<S>; logger: RecordingLogger } {
  const logger = recordingLogger();
  const server = new Server<S>({
    logger,
    handlers: {
      echo: (params) => params,
      add: ({ a, b }) => a + b,
      big: ({ size }) => "x".repeat(size),
    },
    ...options,
  }).serve(listen("tcp://127.0.0.1:0", { logger, ...tcp }));
  return { server, logger };
}

function transportOf(peer: Peer): TcpTransport {
  return (peer.channel as FramedChannel<string>).transport as TcpTransport;
}

async function client(addr: string, handlers = {}): Promise<Peer> {
  return new Peer(await connect(addr), { logger: recordingLogger(), handlers });
}

Deno.test("parseTcpUrl() reads tcp:// and tls:// URLs and refuses others", () => {
  assertEquals(parseTcpUrl("tcp://127.0.0.1:4000"), {
    secure: false,
    hostname: "127.0.0.1",
    port: 4000,
  });
  assertEquals(parseTcpUrl("tls://localhost:0"), { secure: true, hostname: "localhost", port: 0 });
  assertThrows(() => parseTcpUrl("http://x:1"), TypeError, "tcp:// or tls://");
  assertThrows(() => parseTcpUrl("tcp://x"), TypeError, "A port is required");
  assertThrows(() => parseTcpUrl("not a url"), TypeError);
  assertThrows(() => listen("tls://127.0.0.1:0"), TypeError, "cert and key");
});

Deno.test("connect() to a closed port rejects with ConnectionRefused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assertRejects(() => connect(`tcp://127.0.0.1:${port}`), Deno.errors.ConnectionRefused);
});

Deno.test("TCP reassembles frames and UTF-8 characters split across reads, and accepts \\r\\n", async () => {
  const { server } = jsonServer();
  const raw = await RawSocket.connect(server.addr);
  const frame = new TextEncoder().encode(
    '{"jsonrpc":"2.0","method":"echo","params":["héllo ☃ 😀"],"id":1}\r\n',
  );
  // Cut inside the 4-byte emoji, then inside the 3-byte snowman.
  const emoji = frame.indexOf(0xf0);
  const snowman = frame.indexOf(0xe2);
  for (const [from, to] of [[0, snowman + 1], [snowman + 1, emoji + 2]]) {
    await raw.send(frame.subarray(from, to));
    // Each piece is its own read: the server holds it before the next is sent.
    await waitFor(() => {
      const [connection] = server.connections.values();
      return connection !== undefined && transportOf(connection.peer).bufferedInput === to;
    }, { message: `the server to read ${to} bytes` });
  }
  await raw.send(frame.subarray(emoji + 2));
  assertEquals(
    JSON.parse(await raw.readFrame()),
    { jsonrpc: "2.0", result: ["héllo ☃ 😀"], id: 1 },
  );
  raw.close();
  await server.shutdown();
});

Deno.test("TCP skips empty lines and answers garbage, keeping the connection", async () => {
  const { server } = jsonServer();
  const raw = await RawSocket.connect(server.addr);
  await raw.send("\n\r\n  \n");
  await raw.send("this is not json\n");
  assertEquals(JSON.parse(await raw.readFrame()).error.code, -32700);
  await raw.send('{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":2}\n');
  assertEquals(JSON.parse(await raw.readFrame()), { jsonrpc: "2.0", result: 3, id: 2 });
  raw.close();
  await server.shutdown();
});

Deno.test("TCP answers an oversize frame with -32001, closes only that connection", async () => {
  const { server, logger } = jsonServer({}, { maxFrameBytes: 1024 });
  const big = await RawSocket.connect(server.addr);
  const small = await client(server.addr);
  // Over the limit without a newline yet: refused before the line ends.
  await big.send(`{"jsonrpc":"2.0","method":"echo","params":["${"x".repeat(2000)}`);
  const reply = await big.readToEnd();
  assertEquals(JSON.parse(reply), {
    jsonrpc: "2.0",
    error: { code: -32001, message: "Frame too large", data: "limit 1024 bytes" },
    id: null,
  });
  assertEquals(await small.call("add", { a: 2, b: 2 }), 4);
  // A frame of many multi-byte characters is measured in bytes.
  const raw = await RawSocket.connect(server.addr);
  await raw.send(`{"jsonrpc":"2.0","method":"echo","params":["${"é".repeat(600)}"],"id":1}\n`);
  assertEquals(JSON.parse(await raw.readToEnd()).error.code, -32001);
  assert(logger.messages("warn").some((m) => m.includes("Frame larger than 1024 bytes")));
  big.close();
  raw.close();
  await small.close();
  await server.shutdown();
});

Deno.test("TCP: a client that never reads is cut off; memory stays bounded; others are served", async () => {
  const disconnected = deferred<CloseReason>();
  const { server } = jsonServer(
    {
      peer: { maxConcurrentHandlers: 4 },
      onDisconnect: (_c, reason) => disconnected.resolve(reason),
    },
    { writeHighWaterMark: 64 * 1024, writeTimeout: 300 },
  );
  const greedy = await RawSocket.connect(server.addr);
  // 2000 requests for 16 KiB each: 32 MiB of replies, never read.
  const requests = Array.from(
    { length: 2000 },
    (_, i) => `{"jsonrpc":"2.0","method":"big","params":{"size":16384},"id":${i}}\n`,
  ).join("");
  const sending = greedy.send(requests).catch(() => {});
  const polite = await client(server.addr);
  assertEquals(await polite.call("add", { a: 1, b: 1 }), 2);
  // While the greedy client is connected, its unsent replies stay bounded.
  let peak = 0;
  let cut: CloseReason | undefined;
  disconnected.promise.then((reason) => cut = reason);
  await waitFor(() => {
    for (const connection of server.connections.values()) {
      peak = Math.max(peak, transportOf(connection.peer).bufferedAmount);
    }
    return cut;
  }, { message: "the greedy client to be cut off" });
  assertLessOrEqual(peak, 64 * 1024 + 4 * (16 * 1024 + 64));
  const reason = await disconnected.promise;
  assertEquals(reason.code, CloseCode.WriteTimeout);
  assertStringIncludes(reason.message, "read nothing for 300 ms");
  assertEquals(await polite.call("add", { a: 2, b: 2 }), 4);
  await sending;
  greedy.close();
  await polite.close();
  await server.shutdown();
});

Deno.test("Server serves many clients at once, each with its own state", async () => {
  const { server } = jsonServer<{ calls: number }>({
    state: () => ({ calls: 0 }),
    handlers: (connection: Connection<{ calls: number }>) => ({
      count: () => ++connection.state.calls,
    }),
  });
  const clients = await Promise.all(Array.from({ length: 40 }, () => client(server.addr)));
  const counts = await Promise.all(
    clients.map(async (c) => {
      const seen = await Promise.all(Array.from({ length: 25 }, () => c.call<number>("count")));
      return Math.max(...seen);
    }),
  );
  assertEquals(counts, clients.map(() => 25));
  assertEquals(server.connections.size, 40);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("Server pushes to one, some or all clients, and calls them", async () => {
  const heard: string[] = [];
  const { server } = jsonServer();
  const clients = await Promise.all(
    ["a", "b", "c"].map((name) =>
      client(server.addr, {
        news: ({ text }: { text: string }) => heard.push(`${name}:${text}`),
        who: () => name,
      })
    ),
  );
  await waitFor(() => server.connections.size === 3, { message: "three connections" });
  const [first, second] = [...server.connections.values()];
  assertEquals(await server.notify("news", { text: "all" }), 3);
  assertEquals(await server.notify("news", { text: "one" }, { to: [first!.id] }), 1);
  assertEquals(await server.notify("news", { text: "by name" }, { to: [second!.name] }), 1);
  const answers = await server.call("who", undefined, { to: [first!.id, second!.id] });
  assertEquals([...answers.values()].map((a) => a.status === "fulfilled" ? a.value : a.reason), [
    "a",
    "b",
  ]);
  // Calls settle, so every notification before them has been handled.
  await Promise.all(clients.map((c) => c.call("echo", [])));
  assertEquals(heard.sort(), ["a:all", "a:one", "b:all", "b:by name", "c:all"]);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("Server.shutdown() lets calls in flight finish, refuses new ones, then closes", async () => {
  const started = deferred();
  const release = deferred();
  const { server } = jsonServer({
    handlers: {
      slow: async () => {
        started.resolve();
        await release.promise;
        return "finished";
      },
      quick: () => "quick",
    },
  });
  const c = await client(server.addr);
  const inFlight = c.call("slow");
  await started.promise;
  const stopping = server.shutdown({ deadline: 5000 });
  // New calls on the open connection are refused while it drains.
  const refused = await assertRejects(() => c.call("quick"), RemoteError);
  assertEquals([refused.code, refused.message], [-32002, "Shutting down"]);
  // The listener is closed: a new connection is refused.
  await assertRejects(() => connect(server.addr), Deno.errors.ConnectionRefused);
  release.resolve();
  assertEquals(await inFlight, "finished");
  await stopping;
  await c.closed;
  assertEquals(server.connections.size, 0);
});

Deno.test("Server.shutdown() cuts calls that outlive the deadline", async () => {
  const started = deferred();
  const { server, logger } = jsonServer({
    handlers: {
      forever: (_p, ctx) => {
        started.resolve();
        return new Promise((_resolve, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
        );
      },
    },
  });
  const c = await client(server.addr);
  const stuck = c.call("forever");
  await started.promise;
  await server.shutdown({ deadline: 50 });
  await assertRejects(() => stuck, ConnectionClosed);
  assert(logger.messages("warn").some((m) => m.includes("still busy after 50 ms")));
});

Deno.test("Server refuses connections past maxConnections and closes idle ones", async () => {
  const reasons: CloseReason[] = [];
  const { server } = jsonServer({
    maxConnections: 1,
    idleTimeout: 100,
    onDisconnect: (_c, reason) => reasons.push(reason),
  });
  const first = await client(server.addr);
  assertEquals(await first.call("add", { a: 1, b: 1 }), 2);
  const second = await RawSocket.connect(server.addr);
  assertEquals(await second.readToEnd(), "");
  second.close();
  // Left alone, the first connection is closed as idle.
  await first.closed;
  assertEquals(reasons, [{ code: CloseCode.Idle, message: "idle for 100 ms" }]);
  await server.shutdown();
});

Deno.test("Server runs onConnect and onDisconnect, and logs when they throw", async () => {
  const events: string[] = [];
  const { server, logger } = jsonServer({
    onConnect: (connection) => {
      events.push(`connect ${connection.id}`);
      throw new Error("onConnect broke");
    },
    onDisconnect: (connection) => events.push(`disconnect ${connection.id}`),
  });
  const c = await client(server.addr);
  assertEquals(await c.call("echo", ["hi"]), ["hi"]);
  await c.close();
  await waitFor(() => server.connections.size === 0, { message: "the connection to close" });
  assertEquals(events, ["connect 1", "disconnect 1"]);
  assert(logger.messages("error").some((m) => m.includes("onConnect for 127.0.0.1:")));
  await server.shutdown();
});

Deno.test("TLS: a call over tls:// with a certificate the test made", async () => {
  const { cert, key } = await selfSigned();
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: { add: ({ a, b }) => a + b },
  }).serve(listen("tls://127.0.0.1:0", { cert, key, logger }));
  const port = new URL(server.addr).port;
  const c = new Peer(await connect(`tls://localhost:${port}`, { caCerts: [cert] }));
  assertEquals(await c.call("add", { a: 20, b: 22 }), 42);
  await c.close();
  // Without trusting the certificate, the handshake fails.
  await assertRejects(() => connect(`tls://localhost:${port}`), Error);
  await server.shutdown();
});
