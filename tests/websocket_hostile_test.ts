// The WebSocket wire against hostile clients: sockets refused past
// maxConnections are closed, unread messages are bounded in bytes, and a page
// from another site cannot call a local server.

import { CloseCode, type CloseReason, Peer, Server } from "../mod.ts";
import type { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { connect, WebSocketTransport } from "../transports/websocket.ts";
import { listen } from "../transports/websocket_server.ts";
import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertRejects,
} from "./_assert.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";
import { fdsBackTo, openFds, RawWebSocket, readToEnd } from "./_ws_raw.ts";

Deno.test("websocket: past maxConnections the upgrade is refused (503) and the socket closed; fds return to baseline", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, maxConnections: 1, handlers: { ping: () => "pong" } })
    .serve(listen("ws://127.0.0.1:0/rpc", { logger }));
  const first = new Peer(await connect(server.addr), { logger: recordingLogger() });
  assertEquals(await first.call("ping"), "pong");
  const { hostname, port } = new URL(server.addr);
  const baseline = await openFds();
  // 200 browser-like clients, and 100 that read the answer but never close.
  const browsers = Array.from({ length: 200 }, () => {
    const socket = new WebSocket(server.addr);
    return new Promise<number>((resolve) => {
      socket.onclose = (event) => resolve(event.code);
    });
  });
  const stubborn = Array.from({ length: 100 }, async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(new TextEncoder().encode(
      `GET /rpc HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const answer = await readToEnd(conn);
    conn.close();
    return answer.split("\r\n")[0];
  });
  await within(Promise.all(browsers), 20_000, "200 refused browsers closed");
  const answers = await within(Promise.all(stubborn), 20_000, "100 refused sockets closed");
  assertEquals(new Set(answers), new Set(["HTTP/1.1 503 Service Unavailable"]));
  await fdsBackTo(baseline);
  assertEquals(server.connections.size, 1);
  assertEquals(await first.call("ping"), "pong");
  await first.close();
  await server.shutdown();
});

Deno.test("websocket: unread messages are bounded in bytes (8 MiB), not only in count", async () => {
  const release = deferred();
  const started = deferred();
  const gone = deferred<CloseReason>();
  const logger = recordingLogger();
  let transport: WebSocketTransport | undefined;
  const server = new Server({
    logger,
    peer: { maxConcurrentHandlers: 1 },
    handlers: { hold: () => (started.resolve(), release.promise) },
    onConnect: (connection) => {
      transport = (connection.peer.channel as { transport?: WebSocketTransport }).transport;
    },
    onDisconnect: (_connection, reason) => gone.resolve(reason),
  }).serve(listen("ws://127.0.0.1:0/", { logger }));
  const raw = await RawWebSocket.connect(server.addr);
  await raw.send('{"jsonrpc":"2.0","method":"hold","id":1}');
  await within(started.promise, 5000, "the handler started");
  // The handler is busy, so nothing more is read: 1 MiB messages pile up.
  const big = `{"jsonrpc":"2.0","method":"hold","params":["${"x".repeat(1024 * 1024)}"]}`;
  // What waits is sampled as each message is queued, so the peak is not missed
  // (the message that goes over is queued and dropped in one turn).
  const inbox = transport!.frames as FrameQueue<string>;
  const push = inbox.push.bind(inbox);
  let peak = 0;
  let queued = 0;
  inbox.push = (frame) => {
    const room = push(frame);
    queued++;
    peak = Math.max(peak, inbox.bytes);
    return room;
  };
  const closing = raw.closed();
  let closed = false;
  closing.then(() => closed = true);
  for (let sent = 0; sent < 40 && !closed; sent++) {
    await raw.send(big);
    await waitFor(() => closed || queued > sent, {
      timeout: 5000,
      message: `message ${sent} queued or the connection closed`,
    });
  }
  assertEquals(await within(closing, 10_000, "a close frame"), 1008);
  // At most 8 MiB waited, plus the message that went over; then it was dropped.
  assertGreater(peak, 8 * 1024 * 1024, "the sampling saw the message that went over");
  assertLessOrEqual(peak, 8 * 1024 * 1024 + big.length);
  assertEquals(transport!.bufferedInput, 0);
  assert(logger.messages("warn").some((m) => m.includes("too many unread messages")));
  // The running handler ends the connection once it returns.
  release.resolve();
  const reason = await within(gone.promise, 10_000, "the connection closed");
  assertEquals(reason.code, CloseCode.Refused);
  raw.close();
  await server.shutdown();
});

Deno.test("websocket: a page from another site is refused (403) unless allowed; same-origin and no Origin pass", async () => {
  const logger = recordingLogger();
  const evil = { origin: "https://evil.example" };
  const byDefault = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listen("ws://127.0.0.1:0/rpc", { logger }));
  const url = byDefault.addr;
  const host = new URL(url).host;
  await assertRejects(() => RawWebSocket.connect(url, evil), Error, "403");
  await assertRejects(() => RawWebSocket.connect(url, { origin: "null" }), Error, "403");
  // Same host and port, any scheme (the page was served from this server).
  for (const origin of [`http://${host}`, `https://${host}`, undefined]) {
    const client = new Peer(
      await connect(url, { headers: origin === undefined ? {} : { origin } }),
      { logger: recordingLogger() },
    );
    assertEquals(await client.call("ping"), "pong");
    await client.close();
  }
  await byDefault.shutdown();

  const listed = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listen("ws://127.0.0.1:0/rpc", { logger, origins: ["https://app.example.net"] }));
  await assertRejects(() => RawWebSocket.connect(listed.addr, evil), Error, "403");
  const app = await RawWebSocket.connect(listed.addr, { origin: "https://app.example.net" });
  app.close();
  await listed.shutdown();

  const anyOrigin = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listen("ws://127.0.0.1:0/rpc", { logger, origins: "*" }));
  const client = new Peer(await connect(anyOrigin.addr, { headers: evil }), {
    logger: recordingLogger(),
  });
  assertEquals(await client.call("ping"), "pong");
  await client.close();
  await anyOrigin.shutdown();
});

Deno.test("websocket: a transport closed while its socket connects closes the socket once open", async () => {
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    // Still connecting: Deno would reopen a socket closed now.
    void new WebSocketTransport(socket, { logger: recordingLogger() }).close(
      { code: CloseCode.Refused, message: "not now" },
    );
    return response;
  });
  const socket = new WebSocket(`ws://127.0.0.1:${http.addr.port}/`);
  const closed = await within(
    new Promise<CloseEvent>((resolve) => socket.onclose = resolve),
    10_000,
    "the close",
  );
  assert(closed.code === 1008 || closed.code === 4008, `closed with ${closed.code}`);
  assertEquals(closed.reason, "not now");
  await http.shutdown();
});

Deno.test("websocket: a transport closed twice while its socket connects still closes it once open", async () => {
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const transport = new WebSocketTransport(socket, { logger: recordingLogger() });
    // The second close stops waiting for the closing handshake; the socket
    // (CLOSING in Deno's eyes, though not open yet) must still be closed.
    void transport.close({ code: CloseCode.Refused, message: "not now" });
    void transport.close();
    return response;
  });
  const socket = new WebSocket(`ws://127.0.0.1:${http.addr.port}/`);
  const closed = await within(
    new Promise<CloseEvent>((resolve) => socket.onclose = resolve),
    10_000,
    "the close",
  );
  assert(closed.code === 1008 || closed.code === 4008, `closed with ${closed.code}`);
  await http.shutdown();
});
