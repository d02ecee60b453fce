// mushroom's listen() behind our own accept loop (HeadGate): request heads
// and bodies that never end are cut off, bodies are framed by Content-Length
// or chunked, and a connection carries one request after another. Raw HTTP
// on loopback.

import { Peer, Server } from "../mod.ts";
import { connect } from "../transports/mushroom.ts";
import { listen, mushroomHandler } from "../transports/mushroom_server.ts";
import { RestartingServe } from "../transports/_http_listener.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./_assert.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import { chunk, chunkedHead, headsThatNeverEnd, post, RawHttp } from "./_http_raw.ts";
import { fdsBackTo, openFds } from "./_ws_raw.ts";

/** A mushroom server on loopback serving `add`, with its handshake URL. */
function serve(listenOptions: Parameters<typeof listen>[1] = {}) {
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { add: ([a, b]) => a + b } })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger, ...listenOptions }));
  return { server, url: server.addr, logger };
}

Deno.test("mushroom listen(): heads that never end are closed after headTimeout; fds return to baseline", async () => {
  const { server, url } = serve({ headTimeout: 500 });
  const client = new Peer(await connect(url, { logger: recordingLogger() }));
  assertEquals(await client.call("add", [1, 2]), 3);
  const { host } = new URL(url);
  // Meanwhile the client is served.
  await headsThatNeverEnd(url, `POST /mushroom/ HTTP/1.1\r\nHost: ${host}\r\nCo`, 500, async () => {
    assertEquals(await client.call("add", [2, 3]), 5);
  });
  assertEquals(await client.call("add", [3, 4]), 7);
  await client.close();
  await server.shutdown();
});

Deno.test("mushroom listen(): a head over maxHeadBytes is answered 431", async () => {
  const { server, url } = serve({ maxHeadBytes: 1024 });
  const raw = await RawHttp.open(url);
  await raw.send(post(url, "{}", `Cookie: ${"c".repeat(2000)}\r\n`));
  assertMatch(await raw.ended(10_000), /^HTTP\/1\.1 431 /);
  raw.close();
  await server.shutdown();
});

Deno.test("mushroom listen(): a body that stalls is answered 408 and its connection closed; fds return", async () => {
  const { server, url } = serve({ bodyTimeout: 300 });
  const sessionUrl = await startSession(url);
  const baseline = await openFds();
  // 12 handshakes and 12 polls whose chunked bodies never finish.
  const hanging = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
    const target = i % 2 === 0 ? url : sessionUrl;
    const raw = await RawHttp.open(target);
    await raw.send(chunkedHead(target) + chunk(i % 2 === 0 ? '{"transports": [' : "[[0, "));
    return raw;
  }));
  // Answered once bodyTimeout has passed, and the server hangs up.
  for (const raw of hanging) assertMatch(await raw.ended(10_000), /^HTTP\/1\.1 408 /);
  for (const raw of hanging) {
    raw.close();
    await raw.done();
  }
  await fdsBackTo(baseline);
  await server.shutdown();
});

Deno.test("mushroom listen(): Content-Length and chunked bodies, one request after another on one connection", async () => {
  const { server, url } = serve();
  const raw = await RawHttp.open(url);
  // The handshake, with a Content-Length.
  await raw.send(post(url, '{"transports": ["poll"], "auth": null}'));
  const hello = await raw.response(10_000);
  assertEquals(hello.status, 200);
  const sessionUrl = JSON.parse(hello.body).url as string;
  // A call, chunked in two chunks, on the same connection.
  await raw.send(
    chunkedHead(sessionUrl) + chunk('[[2, 0, "add", ') + chunk("[1, 2]]]") + "0\r\n\r\n",
  );
  assertEquals(pick(await raw.response(10_000)), [200, "null"]);
  // Its answer, by a poll with a Content-Length, still on the same connection.
  await raw.send(post(sessionUrl, "[[0, null]]"));
  assertEquals(pick(await raw.response(10_000)), [200, "[[3, 0, 0, 3]]"]);
  assert(!raw.isEnded, "the connection was kept");
  // `Connection: close` is honoured: answered, then closed.
  await raw.send(post(sessionUrl, '[[2, 1, "add", [2, 2]]]', "Connection: close\r\n"));
  const last = await raw.ended(10_000);
  assertMatch(last.slice(last.lastIndexOf("HTTP/1.1")), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nnull$/);
  raw.close();
  await raw.done();
  await server.shutdown();
});

Deno.test("mushroom listen(): Content-Length with chunked 400, a POST without a length 411, a broken chunk 400, a path in Host 400; each closed", async () => {
  const { server, url } = serve();
  const { host, pathname } = new URL(url);
  for (
    const [request, status] of [
      [
        `POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        400,
      ],
      [`POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\n\r\n{}`, 411],
      [`POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1x\r\n\r\n{}`, 400],
      [chunkedHead(url) + "zz\r\n{}\r\n0\r\n\r\n", 400],
      [chunkedHead(url) + "2\r\n{}XX0\r\n\r\n", 400],
      [`POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: gzip\r\n\r\n`, 501],
      [`POST / HTTP/1.1\r\nHost: ${host}/mushroom\r\nContent-Length: 2\r\n\r\n{}`, 400],
    ] as const
  ) {
    const raw = await RawHttp.open(url);
    await raw.send(request);
    assertMatch(await raw.ended(10_000), new RegExp(`^HTTP/1\\.1 ${status} `), request);
    raw.close();
    await raw.done();
  }
  await server.shutdown();
});

Deno.test("mushroom listen(): Expect: 100-continue is answered 100 before the body is read", async () => {
  const { server, url } = serve();
  const raw = await RawHttp.open(url);
  const body = '{"transports": ["poll"], "auth": null}';
  const { host, pathname } = new URL(url);
  await raw.send(
    `POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n` +
      `Expect: 100-continue\r\n\r\n`,
  );
  await raw.received(/^HTTP\/1\.1 100 Continue\r\n\r\n/, 10_000);
  await raw.send(body);
  assertEquals((await raw.response(10_000)).status, 100);
  assertEquals((await raw.response(10_000)).status, 200);
  raw.close();
  await raw.done();
  await server.shutdown();
});

Deno.test("mushroom listen(): a long poll is held on a kept-alive connection and answered when a message comes", async () => {
  const listener = listen("http://127.0.0.1:0/mushroom/", {
    logger: recordingLogger(),
    pollTimeout: 20_000,
  });
  const server = new Server({ logger: recordingLogger() }).serve(listener);
  const raw = await RawHttp.open(listener.addr);
  await raw.send(post(listener.addr, '{"transports": ["poll"], "auth": null}'));
  const sessionUrl = JSON.parse((await raw.response(10_000)).body).url as string;
  await raw.send(post(sessionUrl, "[]"));
  assertEquals(pick(await raw.response(10_000)), [200, "null"]);
  await waitFor(() => server.connections.size === 1, { message: "the session joined" });
  // The poll is read and held (pollTimeout is 20 s): nothing is answered...
  const before = (await raw.received(/null$/, 10_000)).length;
  await raw.send(post(sessionUrl, "[[0, null]]"));
  await waitFor(() => listener.polls === 1, { message: "the poll held by the server" });
  assertEquals((await raw.received(/null$/, 10_000)).length, before, "answered before a push");
  // ...until the server pushes.
  await server.notify("news", ["hello"]);
  assertEquals(pick(await raw.response(10_000)), [200, '[[1, 0, "news", ["hello"]]]']);
  assertEquals(listener.polls, 0);
  raw.close();
  await raw.done();
  await server.shutdown();
});

Deno.test("mushroom on Deno.serve (RestartingServe): a 413's cut answer is logged at debug, not printed", async () => {
  const logger = recordingLogger();
  const app = new Server({ logger });
  const handle = mushroomHandler(app, { logger, maxHandshakeBytes: 16 });
  const http = new RestartingServe(
    { hostname: "127.0.0.1", port: 0, logger },
    async (request) => (await handle(request)) ?? new Response("no", { status: 404 }),
  );
  const printed: unknown[] = [];
  const print = console.error;
  console.error = (...data: unknown[]) => void printed.push(data);
  try {
    const raw = await RawHttp.open(`http://127.0.0.1:${http.port}/`);
    await raw.send(post(`http://127.0.0.1:${http.port}/`, `{"auth": "${"a".repeat(64)}"}`));
    assertMatch(await raw.ended(10_000), /^HTTP\/1\.1 413 /);
    raw.close();
    await raw.done();
    await waitFor(() => logger.messages("debug").some((line) => line.includes("too large")), {
      message: "the cut logged at debug",
    });
  } finally {
    console.error = print;
    await http.close();
    await app.shutdown();
  }
  assertEquals(printed, []);
});

/** Status and body of an answer. */
function pick(response: { status: number; body: string }): [number, string] {
  return [response.status, response.body];
}

/** A poll session's URL. */
async function startSession(url: string): Promise<string> {
  const answer = await fetch(url, {
    method: "POST",
    body: JSON.stringify({ transports: ["poll"], auth: null }),
  });
  assertEquals(answer.status, 200);
  const { url: sessionUrl } = await answer.json();
  assertStringIncludes(sessionUrl, "http://");
  return sessionUrl;
}

/** A poll session that has joined the server (one empty send), and its URL. */
async function joinedSession(server: Server, url: string): Promise<string> {
  const sessionUrl = await startSession(url);
  const sent = await fetch(sessionUrl, { method: "POST", body: "[]" });
  assertEquals(await sent.text(), "null");
  await waitFor(() => server.connections.size === 1, { message: "the session joined" });
  return sessionUrl;
}

Deno.test("mushroom listen(): a body of more than 1024 chunks is refused (400) and closed; a million one-byte chunks are answered at once", async () => {
  const { server, url } = serve();
  const sessionUrl = await joinedSession(server, url);
  // A call split into exactly 1024 chunks (JSON whitespace pads it) is taken.
  const text = `[${" ".repeat(2048)}[2, 0, "add", [1, 2]]]`;
  const chunked = (count: number) => {
    const size = Math.ceil(text.length / count);
    let body = "";
    for (let i = 0; i < count; i++) body += chunk(text.slice(i * size, (i + 1) * size) || " ");
    return chunkedHead(sessionUrl) + body + "0\r\n\r\n";
  };
  const raw = await RawHttp.open(sessionUrl);
  await raw.send(chunked(1024));
  assertEquals(pick(await raw.response(10_000)), [200, "null"]);
  assert(!raw.isEnded, "the connection was kept");
  // One more chunk is refused, and the connection closed.
  await raw.send(chunked(1025));
  assertMatch(await raw.ended(10_000), /HTTP\/1\.1 400 [^]*$/);
  raw.close();
  await raw.done();
  // A million one-byte chunks (6.7 MB): refused after the first 1024, not read through
  // (that took 4-7 s of the event loop).
  const flood = await RawHttp.open(sessionUrl);
  const started = performance.now();
  const sending = flood.send(chunkedHead(sessionUrl) + "1\r\nx\r\n".repeat(1_000_000) + "0\r\n\r\n")
    .catch(() => {}); // the server hangs up before it is all sent
  assertMatch(await flood.ended(10_000), /^HTTP\/1\.1 400 /);
  const took = performance.now() - started;
  assert(took < 2000, `answered after ${Math.round(took)} ms`);
  flood.close();
  await sending;
  await flood.done();
  await server.shutdown();
});

Deno.test("mushroom listen(): Latin-1 header bytes are taken as Deno.serve takes them; empty lines before a request line are skipped", async () => {
  let seen: string | null = null;
  const { server, url } = serve({
    authenticate: (_auth, request) => (seen = request.headers.get("x-name"), true),
  });
  const raw = await RawHttp.open(url);
  const body = '{"transports": ["poll"], "auth": null}';
  const { host, pathname } = new URL(url);
  // "café" in Latin-1: the byte 0xE9 is not UTF-8.
  const head = new TextEncoder().encode(
    `POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nX-Name: caf?\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
  head[head.indexOf("?".charCodeAt(0))] = 0xe9;
  await raw.send(head);
  assertEquals((await raw.response(10_000)).status, 200);
  assertEquals(seen, "caf\u00e9");
  // A stray CRLF before the next request line (RFC 9112 §2.2), on the kept connection.
  await raw.send(`\r\n\r\n${post(url, body)}`);
  assertEquals((await raw.response(10_000)).status, 200);
  // And on a new connection.
  const fresh = await RawHttp.open(url);
  await fresh.send(`\r\n${post(url, body, "Connection: close\r\n")}`);
  assertMatch(await fresh.ended(10_000), /^HTTP\/1\.1 200 /);
  for (const connection of [raw, fresh]) {
    connection.close();
    await connection.done();
  }
  await server.shutdown();
});
