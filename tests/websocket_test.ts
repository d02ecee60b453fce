// The WebSocket wire on real loopback sockets: calls both ways, every dialect,
// an endpoint mounted in your own Deno.serve (paths, origins, auth,
// subprotocols), bad input, slow and dead clients, many clients, reconnects,
// and wss://.

import {
  CloseCode,
  type CloseReason,
  ConnectionClosed,
  type Dialect,
  FrameTooLarge,
  jsonRpc,
  Peer,
  RemoteError,
  Server,
} from "../mod.ts";
import { quickRpc } from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, reconnecting, WebSocketTransport } from "../transports/websocket.ts";
import { listen, websocketHandler } from "../transports/websocket_server.ts";
import {
  assert,
  assertEquals,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";
import { selfSigned } from "./_tls.ts";
import { RawWebSocket } from "./_ws_raw.ts";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

function echoServer(options: Parameters<typeof listen>[1] = {}, logger = recordingLogger()) {
  const server = new Server({
    logger,
    handlers: {
      echo: (params) => params,
      add: ({ a, b }) => a + b,
      big: ({ size }) => "x".repeat(size),
    },
  }).serve(listen("ws://127.0.0.1:0/rpc", { logger, ...options }));
  return { server, logger };
}

Deno.test("WebSocket: calls both ways, a push, and a call from the server", async () => {
  const heard = deferred<unknown>();
  const server: Server = new Server({
    logger: recordingLogger(),
    handlers: {
      whoami: async (_params, ctx) => {
        const connection = server.connectionOf(ctx.peer)!;
        return `${connection.id} is ${await ctx.peer.call("name")}`;
      },
    },
  }).serve(listen("ws://127.0.0.1:0/rpc"));
  const client = new Peer(await connect(server.addr), {
    handlers: { name: () => "a browser", news: (params) => heard.resolve(params) },
  });
  assertEquals(await client.call("whoami"), "1 is a browser");
  assertEquals(await server.notify("news", { text: "hi" }), 1);
  assertEquals(await heard.promise, { text: "hi" });
  const [connection] = server.connections.values();
  assertEquals(connection!.name.startsWith("127.0.0.1:"), true);
  await client.close();
  await server.shutdown();
});

for (const dialect of [jsonRpc, simpleRpc, quickRpc]) {
  Deno.test(`WebSocket: ${dialect.name}, one message per frame, 300 calls in flight`, async () => {
    const server = new Server({
      logger: recordingLogger(),
      handlers: {
        echo: async (params: { n: number }) => {
          await tick((params.n * 7) % 3);
          return { echo: params };
        },
      },
    }).serve(listen("ws://127.0.0.1:0/", { dialect }));
    const client = new Peer(await connect(server.addr, { dialect }), {
      logger: recordingLogger(),
    });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, n) => client.call("echo", { n })),
    );
    assertEquals(results, Array.from({ length: 300 }, (_, n) => ({ echo: { n } })));
    await client.close();
    await server.shutdown();
  });
}

Deno.test("websocketHandler: other paths fall through; 426, origins, auth, subprotocols, 503", async () => {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    maxConnections: 2,
    handlers: { ping: () => "pong" },
  });
  const rpc = websocketHandler(server, {
    path: "/rpc",
    logger,
    origins: ["https://app.example.net"],
    protocols: { jsonrpc: jsonRpc, simplerpc: simpleRpc },
    authorize: (request) => {
      const token = request.headers.get("authorization");
      if (token === "Bearer banned") return new Response("banned", { status: 403 });
      return token === "Bearer ok";
    },
  });
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => (await rpc(request)) ?? new Response("home page"),
  );
  const base = `127.0.0.1:${http.addr.port}`;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`http://${base}${path}`, { headers });
    await response.body?.cancel();
    return response.status;
  };
  const ok = { authorization: "Bearer ok" };

  assertEquals(await (await fetch(`http://${base}/`)).text(), "home page");
  assertEquals(await get("/rpc"), 426);
  await assertRejects(
    () => RawWebSocket.connect(`ws://${base}/rpc`, { ...ok, origin: "https://evil.example" }),
    Error,
    "403",
  );
  await assertRejects(() => RawWebSocket.connect(`ws://${base}/rpc`), Error, "401");
  await assertRejects(
    () => RawWebSocket.connect(`ws://${base}/rpc`, { authorization: "Bearer banned" }),
    Error,
    "403",
  );
  await assertRejects(
    () =>
      RawWebSocket.connect(`ws://${base}/rpc`, { ...ok, "sec-websocket-protocol": "mqtt, stomp" }),
    Error,
    "400",
  );

  // The subprotocol picks the dialect; no subprotocol gets the default.
  const simple = new Peer(
    await connect(`ws://${base}/rpc`, {
      protocols: ["simplerpc"],
      headers: ok,
      dialect: simpleRpc,
    }),
  );
  assertEquals(
    (simple.channel as { transport?: WebSocketTransport }).transport?.protocol,
    "simplerpc",
  );
  assertEquals(await simple.call("ping", {}), { result: "pong" });
  const json = new Peer(
    await connect(`ws://${base}/rpc`, { headers: { ...ok, origin: "https://app.example.net" } }),
  );
  assertEquals(await json.call("ping"), "pong");
  // At maxConnections the upgrade is refused before it happens.
  await assertRejects(() => RawWebSocket.connect(`ws://${base}/rpc`, ok), Error, "503");

  await simple.close();
  await json.close();
  await server.shutdown();
  await http.shutdown();
});

Deno.test("WebSocket: sends made while connecting are queued and sent once open", async () => {
  const { server } = echoServer();
  const transport = new WebSocketTransport(new WebSocket(server.addr));
  const client = new Peer(transport);
  const calls = [
    client.call("add", { a: 1, b: 2 }),
    client.notify("echo", {}),
    client.call("echo", [7]),
  ];
  assertEquals(await Promise.all(calls), [3, undefined, [7]]);
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: garbage and binary frames are answered or refused; others are served", async () => {
  const { server, logger } = echoServer();
  const polite = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const raw = await RawWebSocket.connect(server.addr);
  await raw.send("this is not json");
  assertEquals(JSON.parse(await raw.receiveText()).error.code, -32700);
  // A binary frame holding UTF-8 text is read as text.
  await raw.send(
    new TextEncoder().encode('{"jsonrpc":"2.0","method":"add","params":{"a":2,"b":2},"id":1}'),
  );
  assertEquals(JSON.parse(await raw.receiveText()), { jsonrpc: "2.0", result: 4, id: 1 });
  // One that is not UTF-8 closes that connection with 1007.
  await raw.send(new Uint8Array([0xff, 0xfe, 0x00]));
  assertEquals(await raw.closed(), 1007);
  raw.close();
  assertEquals(await polite.call("add", { a: 1, b: 1 }), 2);
  assert(logger.messages("warn").some((m) => m.includes("not UTF-8 text")));
  await polite.close();
  await server.shutdown();
});

Deno.test("WebSocket: an oversize message is refused both ways, with a clear error", async () => {
  const { server } = echoServer({ maxMessageBytes: 1024 });
  // Incoming: answered with -32001, then the connection is closed (1009).
  const raw = await RawWebSocket.connect(server.addr);
  await raw.send(`{"jsonrpc":"2.0","method":"echo","params":["${"x".repeat(2000)}"],"id":1}`);
  const reply = JSON.parse(await raw.receiveText());
  assertEquals([reply.error.code, reply.error.data], [-32001, "limit 1024 bytes"]);
  assertEquals(await raw.closed(), 1009);
  raw.close();
  // Outgoing: the send is refused before anything leaves; the connection stays.
  const client = new Peer(await connect(server.addr, { maxMessageBytes: 1024 }));
  await assertRejects(() => client.call("echo", ["y".repeat(2000)]), FrameTooLarge);
  assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
  // A reply too large for the server to send is answered with an error instead.
  const tooBig = await assertRejects(() => client.call("big", { size: 5000 }), RemoteError);
  assertEquals([tooBig.code, tooBig.message], [-32001, "Reply too large"]);
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: a message over the client's limit closes the client's connection (1009)", async () => {
  const { server } = echoServer();
  const client = new Peer(await connect(server.addr, { maxMessageBytes: 1024 }), {
    logger: recordingLogger(),
  });
  await assertRejects(() => client.call("big", { size: 5000 }), ConnectionClosed);
  await within(client.closed, 10_000, "the client closed");
  assertEquals(client.closeReason?.code, CloseCode.FrameTooLarge);
  await waitFor(() => server.connections.size === 0, { message: "the server side closed" });
  await server.shutdown();
});

Deno.test("WebSocket: a client that never reads is cut off; memory stays bounded; others are served", async () => {
  const gone = deferred<CloseReason>();
  const logger = recordingLogger();
  const server = new Server({
    logger,
    peer: { maxConcurrentHandlers: 4 },
    handlers: { big: ({ size }) => "x".repeat(size) },
    onDisconnect: (_connection, reason) => {
      if (reason.code === CloseCode.WriteTimeout) gone.resolve(reason);
    },
  }).serve(
    listen("ws://127.0.0.1:0/", { writeHighWaterMark: 64 * 1024, writeTimeout: 300, logger }),
  );
  const greedy = await RawWebSocket.connect(server.addr);
  const sending = (async () => {
    for (let id = 1; id <= 400; id++) {
      await greedy.send(`{"jsonrpc":"2.0","method":"big","params":{"size":65536},"id":${id}}`);
    }
  })().catch(() => {});
  const polite = new Peer(await connect(server.addr), { logger: recordingLogger() });
  assertEquals(await polite.call("big", { size: 3 }), "xxx");
  // Sample what the server holds for the greedy client until it is cut off.
  let peak = 0;
  let cut = false;
  gone.promise.then(() => cut = true);
  await waitFor(() => {
    for (const connection of server.connections.values()) {
      const transport = (connection.peer.channel as { transport?: WebSocketTransport }).transport!;
      peak = Math.max(peak, transport.bufferedAmount);
    }
    return cut;
  }, { interval: 10, message: "the greedy client cut off" });
  const reason = await gone.promise;
  assertStringIncludes(reason.message, "read nothing for 300 ms");
  // At most the high water mark plus one reply per running handler.
  assertLessOrEqual(peak, 64 * 1024 + 4 * (65536 + 64));
  assertEquals(await polite.call("big", { size: 2 }), "xx");
  await sending;
  greedy.close();
  await polite.close();
  await server.shutdown();
});

Deno.test("WebSocket: the server closes a client that does not answer its pings", async () => {
  const gone = deferred<CloseReason>();
  const server = new Server({
    logger: recordingLogger(),
    onDisconnect: (_connection, reason) => gone.resolve(reason),
  }).serve(listen("ws://127.0.0.1:0/", { idleTimeout: 1000 }));
  const mute = await RawWebSocket.connect(server.addr); // reads nothing, so never pongs
  const started = Date.now();
  const reason = await within(gone.promise, 10_000, "the mute client closed");
  assertLessOrEqual(Date.now() - started, 5000);
  assertEquals(reason.code === CloseCode.Failed || reason.code === CloseCode.Remote, true);
  mute.close();
  await server.shutdown();
});

Deno.test("WebSocket: a client with keepAlive closes a server that stopped answering", async () => {
  // A server that accepts and then never answers anything.
  const stop = new AbortController();
  const sockets: WebSocket[] = [];
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
      sockets.push(socket);
      return response;
    },
  );
  const logger = recordingLogger();
  const client = new Peer(await connect(`ws://127.0.0.1:${http.addr.port}/`), {
    keepAlive: 100,
    logger,
  });
  await within(client.closed, 10_000, "the client closed");
  assertEquals(client.closeReason, {
    code: CloseCode.Unresponsive,
    message: "no answer to a ping in 100 ms",
  });
  for (const socket of sockets) socket.close();
  stop.abort();
  await http.finished;
});

Deno.test("WebSocket: keepAlive pings go unnoticed by a live server, of any dialect", async () => {
  for (const dialect of [jsonRpc, simpleRpc, quickRpc] as Dialect[]) {
    const server = new Server({ logger: recordingLogger(), handlers: { ping: () => ({ ok: 1 }) } })
      .serve(listen("ws://127.0.0.1:0/", { dialect }));
    const transport = await connect(server.addr, { dialect });
    // Count the pings the keep-alive sends.
    let pings = 0;
    const send = transport.send.bind(transport);
    transport.send = (frame) => (frame.includes("rpc.ping") && pings++, send(frame));
    const client = new Peer(transport, { keepAlive: 30, logger: recordingLogger() });
    await waitFor(() => pings >= 3, { timeout: 10_000, message: "3 keep-alive pings" });
    assertEquals([client.isClosed, await client.call("ping", {})], [false, { ok: 1 }]);
    await client.close();
    await server.shutdown();
  }
});

Deno.test("WebSocket: 1000 clients at once, and a broadcast to all of them", async () => {
  const { server } = echoServer();
  let heard = 0;
  const clients = await Promise.all(
    Array.from(
      { length: 1000 },
      async () => new Peer(await connect(server.addr), { handlers: { news: () => void heard++ } }),
    ),
  );
  assertEquals(server.connections.size, 1000);
  assertEquals(await server.notify("news", { text: "to everyone" }), 1000);
  const results = await Promise.all(clients.map((c, i) => c.call("add", { a: i, b: 1 })));
  assertEquals(results, Array.from({ length: 1000 }, (_, i) => i + 1));
  await waitFor(() => heard === 1000, { message: "1000 notifications heard" });
  assertEquals(heard, 1000);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("WebSocket: a server restart mid-call, with reconnect on", async () => {
  const started = deferred();
  const makeServer = (url: string, who: string) =>
    new Server({
      logger: recordingLogger(),
      handlers: {
        who: () => who,
        hang: () => (started.resolve(), new Promise(() => {})),
      },
    }).serve(listen(url));
  let server = makeServer("ws://127.0.0.1:0/rpc", "first");
  const url = server.addr;
  let resubscribed = 0;
  const channel = reconnecting(url, {
    minDelay: 20,
    maxDelay: 100,
    logger: recordingLogger(),
    onReconnect: () => void resubscribed++,
  });
  const events: string[] = [];
  channel.addEventListener("open", () => events.push("open"));
  channel.addEventListener("reconnecting", () => events.push("reconnecting"));
  const client = new Peer(channel, { logger: recordingLogger() });
  assertEquals(await client.call("who"), "first");
  const pending = client.call("hang", {}, { timeout: 0 });
  await within(started.promise, 10_000, "the call started");
  // The call pending at the drop is rejected; the channel stays open.
  const rejected = assertRejects(() => pending, ConnectionClosed);
  await server.shutdown({ deadline: 0 });
  const error = await rejected;
  assertEquals(client.isClosed, false);
  assert(error.code === CloseCode.Shutdown || error.code === CloseCode.Remote, error.code);
  server = makeServer(url, "second");
  await waitFor(() => channel.connected, { message: "the channel reconnected" });
  assertEquals(await client.call("who"), "second");
  assertEquals(resubscribed, 1);
  assertEquals(events[0], "open");
  assertEquals(events.at(-1), "open");
  assert(events.includes("reconnecting"));
  await client.close();
  await server.shutdown();
});

Deno.test("WebSocket: wss:// with a certificate the test made", async () => {
  const { cert, key } = await selfSigned();
  const server = new Server({ logger: recordingLogger(), handlers: { add: ({ a, b }) => a + b } })
    .serve(listen("wss://127.0.0.1:0/secure", { cert, key }));
  const port = new URL(server.addr).port;
  const client = new Peer(await connect(`wss://localhost:${port}/secure`, { caCerts: [cert] }));
  assertEquals(await client.call("add", { a: 20, b: 22 }), 42);
  await client.close();
  // Without trusting the certificate, the connection is refused.
  await assertRejects(
    () => connect(`wss://localhost:${port}/secure`, { connectTimeout: 2000 }),
    Error,
    "could not connect",
  );
  await server.shutdown();
});
