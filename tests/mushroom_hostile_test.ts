// mushroom under hostile input: replaced sockets, handshake floods, peers that
// never acknowledge, bodies that never end, foreign origins, forged Host
// headers, and bodies that are not mushroom. Real sockets on loopback.

import { memoryPair, Peer, Server } from "../mod.ts";
import { connect, type MushroomSession } from "../transports/mushroom.ts";
import { listen, mushroomHandler } from "../transports/mushroom_server.ts";
import { connect as connectTcp, listen as listenTcp } from "../transports/tcp.ts";
import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertMatch,
  assertStringIncludes,
} from "./_assert.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { chunk, chunkedHead, RawHttp } from "./_http_raw.ts";
import { measureMushroomRss } from "./_mushroom_rss.ts";
import { fdsBackTo, openFds } from "./_ws_raw.ts";

/** A mushroom server on loopback, with its handshake URL. */
function serve(listenOptions: Parameters<typeof listen>[1] = {}) {
  const logger = recordingLogger();
  const server = new Server({ logger })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger, ...listenOptions }));
  return { server, url: server.addr, logger };
}

/** A handshake; the session URL the server answered. */
async function startSession(url: string, transports: string[]): Promise<string> {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ transports, auth: null }),
  });
  assertEquals(answer.status, 200);
  return (await answer.json()).url;
}

Deno.test("mushroom: a socket replaced while still connecting is closed; fds return to baseline", async () => {
  const baseline = await openFds();
  const { server, url } = serve();
  const sessionUrl = await startSession(url, ["ws"]);
  // Many sockets for one session at once: each attach replaces the one
  // before, most of them while the server's side is still connecting.
  const count = 30;
  const sockets = Array.from({ length: count }, () => new WebSocket(sessionUrl));
  const closed = sockets.map((socket) =>
    new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()))
  );
  let ended = 0;
  for (const promise of closed) promise.then(() => ended++);
  // Every socket but the newest is closed by the server; the newest is open.
  await waitFor(() => ended >= count - 1, {
    timeout: 10_000,
    message: `${count - 1} replaced sockets closed (closed: ${ended})`,
  });
  await waitFor(() => sockets.some((socket) => socket.readyState === WebSocket.OPEN), {
    timeout: 10_000,
    message: "the newest socket open",
  });
  assertEquals(ended, count - 1);
  assertEquals(sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length, 1);
  for (const socket of sockets) socket.close();
  await within(Promise.all(closed), 10_000, "every socket closed");
  await server.shutdown();
  await fdsBackTo(baseline);
});

Deno.test("mushroom: a handshake flood does not lock out a TCP client of the same server", async () => {
  const logger = recordingLogger();
  const mushroom = listen("http://127.0.0.1:0/mushroom/", {
    logger,
    maxPendingSessions: 100,
    // All from one address: its own rate is not what this test is about.
    maxHandshakesPerSecondPerSource: 1000,
    // Longer than the flood takes on a busy machine, so that none expire during it.
    attachTimeout: 5000,
  });
  const tcp = listenTcp("tcp://127.0.0.1:0", { logger });
  const server = new Server({ logger, maxConnections: 20, handlers: { add: ([a, b]) => a + b } })
    .serve(mushroom)
    .serve(tcp);
  // 400 handshakes, 50 at a time, none of them ever coming back.
  const statuses = new Map<number, number>();
  for (let round = 0; round < 8; round++) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const answer = await fetch(mushroom.addr, {
        method: "POST",
        body: '{"transports": ["poll"], "auth": null}',
      });
      await answer.body?.cancel();
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }));
  }
  // Sessions nobody came back to are not connections: a TCP client is served.
  const client = new Peer(await connectTcp(tcp.addr));
  assertEquals(await within(client.call("add", [1, 2]), 10_000, "the TCP call"), 3);
  assertEquals(server.connections.size, 1);
  // At most maxPendingSessions were started; the rest were told to come back later.
  assertLessOrEqual(statuses.get(200) ?? 0, 100);
  assertEquals((statuses.get(200) ?? 0) + (statuses.get(503) ?? 0), 400);
  // Once the unused ones are dropped (attachTimeout), handshakes are taken again.
  await waitFor(async () => {
    const answer = await fetch(mushroom.addr, { method: "POST", body: '{"transports": ["poll"]}' });
    await answer.body?.cancel();
    return answer.status === 200;
  }, { timeout: 20_000, interval: 100, message: "a handshake taken again" });
  await client.close();
  await server.shutdown();
});

Deno.test("mushroom: handshakes past maxHandshakesPerSecond get 429; the handler asks the server first", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, maxConnections: 1 });
  const handle = mushroomHandler(server, { logger, maxHandshakesPerSecond: 2 });
  const hello = () =>
    handle(new Request("http://127.0.0.1/", { method: "POST", body: '{"transports": ["poll"]}' }));
  // A burst of ten seconds' worth (20) passes, then 429.
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await hello())!.status);
  const refused = statuses.filter((status) => status === 429).length;
  assertGreater(refused, 0);
  assertLessOrEqual(30 - refused, 22);
  const late = (await hello())!;
  assertEquals([late.status, late.headers.get("retry-after")], [429, "1"]);
  // A server at maxConnections is asked before any session is started.
  const full = mushroomHandler(server, { logger });
  const [a, b] = memoryPair();
  server.add(a);
  const answer = (await full(
    new Request("http://127.0.0.1/", { method: "POST", body: '{"transports": ["poll"]}' }),
  ))!;
  assertEquals(answer.status, 503);
  // And so is listen(), through the server's admission check.
  server.serve(listen("http://127.0.0.1:0/", { logger }));
  const listened = await fetch(server.addr, { method: "POST", body: '{"transports": ["poll"]}' });
  assertEquals(listened.status, 503);
  await listened.body?.cancel();
  await b.close();
  await server.shutdown();
});

Deno.test("mushroom: one source's handshake flood does not lock out other sources (per-address rate and pending caps)", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger });
  const handle = mushroomHandler(server, { logger, maxHandshakesPerSecondPerSource: 50 });
  const hello = async (hostname: string) => {
    const answer = await handle(
      new Request("http://127.0.0.1/", { method: "POST", body: '{"transports": ["poll"]}' }),
      { remoteAddr: { hostname, port: 40000 } },
    );
    await answer!.body?.cancel();
    return answer!.status;
  };
  // One address, 1200 handshakes in a row (the endpoint takes 100/s, 1000 at once).
  const statuses = new Map<number, number>();
  for (let i = 0; i < 1200; i++) {
    const status = await hello("10.0.0.1");
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  // 250 sessions wait for it (maxPendingSessionsPerSource); then 503 while its
  // 500 tokens last (50/s, ten seconds' worth); then 429.
  const seen = JSON.stringify([...statuses]);
  assertEquals(statuses.get(200), 250, seen);
  assertGreater(statuses.get(503) ?? 0, 249, seen);
  assertGreater(statuses.get(429) ?? 0, 0, seen);
  assertEquals((statuses.get(503) ?? 0) + (statuses.get(429) ?? 0), 950, seen);
  // Other addresses are served.
  for (const other of ["10.0.0.2", "10.0.0.3", "::1"]) assertEquals(await hello(other), 200, other);
  // By default an address has 25 a second, 250 at once.
  const byDefault = mushroomHandler(server, { logger, maxPendingSessionsPerSource: 1000 });
  let taken = 0;
  const started = performance.now();
  for (let i = 0; i < 300; i++) {
    const answer = await byDefault(
      new Request("http://127.0.0.1/", { method: "POST", body: '{"transports": ["poll"]}' }),
      { remoteAddr: { hostname: "10.0.0.9", port: 40000 } },
    );
    await answer!.body?.cancel();
    if (answer!.status === 200) taken++;
    else assertEquals(answer!.status, 429);
  }
  // Plus the tokens that came back while the loop ran (25 a second).
  const refilled = Math.ceil((performance.now() - started) / 40);
  assert(taken >= 250 && taken <= 250 + refilled, `${taken} taken, ${refilled} refilled`);
  await server.shutdown();
});

/** The server's sessions (channels of its connections). */
function sessionsOf(server: Server): MushroomSession[] {
  return [...server.connections.values()].map((c) => c.peer.channel as MushroomSession);
}

/** `count` poll sessions that have joined the server (one empty send each) and never poll. */
async function idleSessions(url: string, count: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const sessionUrl = await startSession(url, ["poll"]);
    const answer = await fetch(sessionUrl, { method: "POST", body: "[]" });
    assertEquals(await answer.text(), "null");
    return sessionUrl;
  }));
}

Deno.test("mushroom: what sessions keep unacknowledged is bounded across all of them", async () => {
  const { server, url, logger } = serve({ maxUnacknowledgedBytesTotal: 1024 * 1024 });
  await idleSessions(url, 6);
  await waitFor(() => server.connections.size === 6, { message: "6 sessions joined" });
  // 20 pushes of 64 KiB to each: 7.5 MiB that nobody acknowledges.
  const big = "x".repeat(64 * 1024);
  for (let i = 0; i < 20; i++) assertEquals(await server.notify("big", [big]), 6);
  const sessions = sessionsOf(server);
  const kept = sessions.reduce((sum, session) => sum + session.unacknowledged, 0);
  // 16 × 64 KiB is the whole 1 MiB.
  assertLessOrEqual(kept, 16);
  const bytes = sessions.reduce((sum, session) => sum + session.unacknowledgedBytes, 0);
  assertLessOrEqual(bytes, 1024 * 1024);
  // Every session still has its newest message to give.
  for (const session of sessions) assertGreater(session.unacknowledged, 0);
  // Said once per session that gave way, not once per message.
  const warnings = logger.messages("warn").filter((l) => l.includes("no longer kept"));
  assertLessOrEqual(warnings.length, 6);
  await server.shutdown();
});

Deno.test("mushroom: a poll's answer carries at most maxPollBytes; the rest comes on the next polls", async () => {
  const { server, url } = serve({ maxPollBytes: 256 * 1024, pollTimeout: 100 });
  const [sessionUrl] = await idleSessions(url, 1);
  await waitFor(() => server.connections.size === 1, { message: "the session joined" });
  const big = "y".repeat(64 * 1024);
  for (let i = 0; i < 20; i++) await server.notify("big", [i, big]);
  const received: number[] = [];
  let lastId: number | null = null;
  for (let poll = 0; poll < 20 && received.length < 20; poll++) {
    const answer: Response = await fetch(sessionUrl!, {
      method: "POST",
      body: `[[0, ${lastId}]]`,
    });
    const text: string = await answer.text();
    assertLessOrEqual(text.length, 256 * 1024 + 64);
    const messages = JSON.parse(text) as [number, number, string, [number, string]][];
    for (const message of messages) {
      received.push(message[3][0]);
      lastId = message[1];
    }
  }
  assertEquals(received, Array.from({ length: 20 }, (_, i) => i));
  // The last poll acknowledges the last page (and, with nothing left, waits pollTimeout).
  const last = await fetch(sessionUrl!, { method: "POST", body: `[[0, ${lastId}]]` });
  assertEquals(await last.text(), "[]");
  assertEquals(sessionsOf(server)[0]!.unacknowledged, 0);
  await server.shutdown();
});

Deno.test("mushroom: 24 sessions that never acknowledge 16 MiB each, and their unread polls, stay within the total (RSS)", async () => {
  // In a process of its own, so that a full GC can run before each measure.
  const measured = await measureMushroomRss(24, 16, 1);
  assertEquals(measured.sessions, 24);
  // 384 MiB pushed, 64 MiB kept at most (the default total); without the
  // bound the RSS grew 389 MiB, and 392 MiB more for the unread polls.
  assertLessOrEqual(measured.grownMiB, 160, JSON.stringify(measured));
  assertLessOrEqual(measured.kept, 64, JSON.stringify(measured));
  // Each poll's answer is at most 1 MiB (maxPollBytes).
  assertLessOrEqual(measured.unreadPollsMiB, 100, JSON.stringify(measured));
});

Deno.test("mushroom: bodies that never finish are answered 408; a large handshake 413 and closed; fds return", async () => {
  const baseline = await openFds();
  const { server, url } = serve({ bodyTimeout: 300 });
  // 24 handshakes whose chunked bodies never finish.
  const hanging = await Promise.all(Array.from({ length: 24 }, async () => {
    const raw = await RawHttp.open(url);
    await raw.send(chunkedHead(url) + chunk('{"transports": ['));
    return raw;
  }));
  // Answered once bodyTimeout has passed, and the connection closed.
  for (const raw of hanging) assertMatch(await raw.ended(10_000), /^HTTP\/1\.1 408 /);
  // A handshake is small: past maxHandshakeBytes (64 KiB) it is refused at once.
  const large = await RawHttp.open(url);
  await large.send(chunkedHead(url) + chunk(`{"auth": "${"a".repeat(70 * 1024)}`));
  assertMatch(await large.ended(10_000), /^HTTP\/1\.1 413 /);
  // A poll's body is read under the same deadline.
  const sessionUrl = await startSession(url, ["poll"]);
  const poll = await RawHttp.open(sessionUrl);
  await poll.send(chunkedHead(sessionUrl) + chunk("[[0, "));
  assertMatch(await poll.ended(10_000), /^HTTP\/1\.1 408 /);
  // A poll or send over maxBodyBytes (16 MiB) is refused before it is read.
  const huge = await RawHttp.open(sessionUrl);
  await huge.send(
    `POST ${new URL(sessionUrl).pathname} HTTP/1.1\r\nHost: ${new URL(sessionUrl).host}\r\n` +
      `Content-Length: ${16 * 1024 * 1024 + 1}\r\n\r\n[[0, null]`,
  );
  assertMatch(await huge.ended(10_000), /^HTTP\/1\.1 413 /);
  for (const raw of [...hanging, large, poll, huge]) {
    raw.close();
    await raw.done();
  }
  await server.shutdown();
  await fdsBackTo(baseline);
});

Deno.test("mushroom: a page from another origin is refused (403); the same origin and listed ones are let in", async () => {
  const { server, url } = serve({ transports: ["poll", "ws"] });
  const own = new URL(url).origin;
  const hello = (origin: string | undefined) =>
    fetch(url, {
      method: "POST",
      headers: origin === undefined ? {} : { origin },
      body: '{"transports": ["poll"], "auth": null}',
    });
  const evil = await hello("https://evil.example");
  assertEquals([evil.status, evil.headers.get("access-control-allow-origin")], [403, null]);
  await evil.body?.cancel();
  const same = await hello(own);
  assertEquals(same.status, 200);
  assertEquals(same.headers.get("access-control-allow-origin"), own);
  const { url: sessionUrl } = await same.json();
  // A poll and a WebSocket from another origin are refused as well.
  const poll = await fetch(sessionUrl, {
    method: "POST",
    headers: { origin: "https://evil.example" },
    body: "[]",
  });
  assertEquals(poll.status, 403);
  await poll.body?.cancel();
  const socketUrl = sessionUrl.replace(/^http/, "ws");
  const upgrade = await fetch(sessionUrl, {
    headers: {
      origin: "https://evil.example",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assertEquals(upgrade.status, 403);
  await upgrade.body?.cancel();
  assertStringIncludes(socketUrl, "ws://");
  await server.shutdown();

  // An allow-list, and "*" for any origin.
  for (
    const [origins, origin, status, allowed] of [
      [["https://app.example"], "https://app.example", 200, "https://app.example"],
      [["https://app.example"], own, 403, null],
      ["*", "https://evil.example", 200, "*"],
    ] as const
  ) {
    const listed = serve({ origins });
    const answer = await fetch(listed.url, {
      method: "POST",
      headers: { origin },
      body: '{"transports": ["poll"], "auth": null}',
    });
    assertEquals(
      [answer.status, answer.headers.get("access-control-allow-origin")],
      [status, allowed],
      `${origins} ${origin}`,
    );
    await answer.body?.cancel();
    await listed.server.shutdown();
  }
});

Deno.test("mushroom: malformed bodies are answered 400; ids past 2^53-1 are refused; gaps are counted and logged once", async () => {
  const seen: number[] = [];
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { note: ([n]) => void seen.push(n) } })
    .serve(listen("http://127.0.0.1:0/", { logger }));
  const sessionUrl = await startSession(server.addr, ["poll"]);
  for (
    const body of ["not json", '{"a": 1}', '"text"', "[[9]]", '[[1, 9007199254740992, "note"]]']
  ) {
    const answer = await fetch(sessionUrl, { method: "POST", body });
    assertEquals(answer.status, 400, body);
    assertStringIncludes(await answer.text(), "Not a list of mushroom messages");
  }
  const send = async (body: string) => {
    const answer = await fetch(sessionUrl, { method: "POST", body });
    assertEquals([answer.status, await answer.text()], [200, "null"], body);
  };
  // 0, then 3 and 7: two gaps (1-2 and 4-6); 2 comes too late and is a duplicate.
  await send('[[1, 0, "note", [0]]]');
  await send('[[1, 3, "note", [3]], [1, 7, "note", [7]]]');
  await send('[[1, 2, "note", [2]]]');
  await waitFor(() => seen.length === 3, { message: "three notes" });
  assertEquals(seen, [0, 3, 7]);
  const session = sessionsOf(server)[0]!;
  assertEquals([session.gaps, session.duplicates], [2, 1]);
  const said = logger.messages("warn").filter((line) => line.includes("skipped"));
  assertEquals(said.length, 1);
  assertStringIncludes(said[0]!, "from 0 to 3");
  await server.shutdown();
});

Deno.test("mushroom: the session URL never comes from the Host header", async () => {
  // A name this loopback listener is told to take, or it would be refused (403).
  const { server, url } = serve({ hosts: ["attacker.example"] });
  const raw = await RawHttp.open(url);
  const body = '{"transports": ["ws"], "auth": null}';
  await raw.send(
    `POST /mushroom/ HTTP/1.1\r\nHost: attacker.example\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  const answer = await raw.ended(10_000);
  raw.close();
  await raw.done();
  assertMatch(answer, /^HTTP\/1\.1 200 /);
  const sessionUrl = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).url as string;
  // The listener's own address.
  assertEquals(sessionUrl.startsWith(url.replace(/^http/, "ws")), true, sessionUrl);
  await server.shutdown();

  // Mounted in an app: publicUrl, or else a URL relative to the handshake.
  const app = new Server();
  for (
    const [options, expected] of [
      [
        { path: "/live/", publicUrl: "https://app.example.net/live/" },
        /^wss:\/\/app\.example\.net\/live\/\w{22}\/$/,
      ],
      [{ path: "/live/" }, /^\/live\/\w{22}\/$/],
    ] as const
  ) {
    const handle = mushroomHandler(app, options);
    const hello = await handle(
      new Request("http://attacker.example/live/", {
        method: "POST",
        body: '{"transports": ["ws"], "auth": null}',
      }),
    );
    assertMatch((await hello!.json()).url, expected);
  }
  await app.shutdown();
});

Deno.test("mushroom: our client follows a relative session URL, over WebSocket and polling", async () => {
  const server = new Server({ handlers: { add: ([a, b]) => a + b } });
  const live = mushroomHandler(server, { path: "/live/" });
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => (await live(request, info)) ?? new Response("no", { status: 404 }),
  );
  for (const transports of [["ws"], ["poll"]] as const) {
    const session = await connect(`http://127.0.0.1:${http.addr.port}/live/`, {
      transports,
      logger: recordingLogger(),
    });
    assertEquals(session.transport, transports[0]);
    const client = new Peer(session);
    assertEquals(await client.call("add", [1, 2]), 3);
    await client.close();
  }
  await server.shutdown();
  await http.shutdown();
});
