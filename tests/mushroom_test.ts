// mushroom: the codec, the session layer, the server (handshake, WebSocket,
// long polling) and our client, against real sockets on loopback; and the
// published JavaScript client's wire behaviour, replayed by a scripted client.

import {
  CloseCode,
  ConnectionClosed,
  Peer,
  RemoteError,
  RpcError,
  Server,
  type ServerOptions,
} from "../mod.ts";
import {
  connect,
  decodeMushroom,
  encodeMushroom,
  type MushroomMessage,
  MushroomSession,
  parseMushroomBody,
} from "../transports/mushroom.ts";
import { listOf } from "../protocol/dialects/mushroom_codec.ts";
import { pythonJson } from "../protocol/dialects/_python_json.ts";
import { listen, newSessionId } from "../transports/mushroom_server.ts";
import { memoryPair } from "../transports/memory.ts";
import {
  assert,
  assertEquals,
  assertLessOrEqual,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { deferred, recordingLogger, waitFor, within } from "./_helpers.ts";

/** A mushroom server on loopback, with its handshake URL. */
function serve(
  options: ServerOptions<Record<string, unknown>> = {},
  listenOptions: Parameters<typeof listen>[1] = {},
) {
  const logger = recordingLogger();
  const server = new Server({ logger, ...options })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger, ...listenOptions }));
  return { server, url: server.addr, logger };
}

async function handshake(url: string, body: unknown): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** POSTs `body` to a session URL; the answer's text. */
async function post(url: string, body: string): Promise<string> {
  const response = await fetch(url, { method: "POST", body });
  assertEquals(response.status, 200);
  return await response.text();
}

/** A raw WebSocket that collects frames and skips heartbeats on request. */
class RawSocket {
  frames: string[] = [];
  #waiters: (() => void)[] = [];
  socket: WebSocket;
  opened: Promise<void>;
  closed: Promise<void>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error("could not open"));
    });
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", () => resolve()));
    this.socket.onmessage = (event) => {
      this.frames.push(event.data);
      for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  send(frame: string): void {
    this.socket.send(frame);
  }

  /** The next frame that is not a heartbeat (or is one, when `heartbeats`), within 10 s. */
  async next(heartbeats = false): Promise<string> {
    const deadline = performance.now() + 10_000;
    for (;;) {
      const at = this.frames.findIndex((f) => heartbeats === f.startsWith("[0,"));
      if (at >= 0) return this.frames.splice(at, 1)[0]!;
      const left = deadline - performance.now();
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), left, "a frame");
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.closed;
  }
}

Deno.test("mushroom codec: every message, data left out, refusals one by one", () => {
  assertEquals(decodeMushroom([0, null]), { code: 0, lastId: null });
  assertEquals(decodeMushroom([1, 5, "player.ready", true]), {
    code: 1,
    id: 5,
    method: "player.ready",
    data: true,
  });
  assertEquals(decodeMushroom([4, 9, 6, "nope"]), { code: 4, id: 9, requestId: 6, data: "nope" });
  assertEquals(decodeMushroom([-1]), { code: -1 });
  for (
    const [bad, reason] of [
      ["x", "a message must be a list"],
      [[], "unsupported message code undefined"],
      [[5], "unsupported message code 5"],
      [["2", 1, "m"], 'unsupported message code "2"'],
      [[2, 1.5, "m"], "message id must be a whole number of at least 0"],
      [[2, 1, ""], "method must be a non-empty string"],
      [[3, 1, -2, null], "request id must be a whole number of at least 0"],
      [[2, 1, "m", null, "extra"], "message 2 is [2, id, method, data]"],
      [[0, "x"], "last_message_id must be null or a message id"],
      [[-1, 0], "a disconnect is [-1]"],
    ] as [unknown, string][]
  ) {
    assertEquals(decodeMushroom(bad), reason, JSON.stringify(bad));
  }
  const body = parseMushroomBody('[[2, 0, "a"], {"no": 1}, [2, 1, "b"], [9, 9]]');
  assertEquals(body.messages.map((m) => (m as { method: string }).method), ["a", "b"]);
  assertEquals(body.refused.length, 2);
});

Deno.test("mushroom: the protocol document's worked example, over a WebSocket", async () => {
  const readyFrom = deferred<unknown>();
  const { server, url } = serve({
    handlers: {
      "player.join": () => {},
      "player.ready": (data) => readyFrom.resolve(data),
      get_time: () => 1342106240,
    },
  });
  const hello = await handshake(url, { transports: ["ws", "poll"], auth: null });
  const { transport, url: sessionUrl } = await hello.json();
  assertEquals(transport, "ws");
  assertMatch(sessionUrl, /^ws:\/\/127\.0\.0\.1:\d+\/mushroom\/[A-Za-z0-9]{22}\/$/);
  const socket = new RawSocket(sessionUrl);
  await socket.opened;
  // Bring both sides to the example's state: the server has sent 118
  // messages (ids 0 to 117), the client 5 (ids 0 to 4).
  await waitFor(() => server.connections.size > 0, { message: "the session joined" });
  for (let i = 0; i < 118; i++) await server.notify("tick", [i]);
  for (let i = 0; i < 5; i++) socket.send(JSON.stringify([1, i, "player.join", i]));
  for (let i = 0; i < 118; i++) assertEquals(JSON.parse(await socket.next())[1], i);

  socket.send("[0, 117]"); // C→S
  assertEquals(await socket.next(true), "[0, 4]"); // S→C
  socket.send('[1, 5, "player.ready", true]'); // C→S
  socket.send('[2, 6, "get_time"]'); // C→S
  assertEquals(await socket.next(), "[3, 118, 6, 1342106240]"); // S→C
  assertEquals(await readyFrom.promise, true);
  const session = [...server.connections.values()][0]!.peer.channel as MushroomSession;
  // Only the response is unacknowledged now.
  assertEquals(session.unacknowledged, 1);
  await socket.close();
  await server.shutdown();
});

Deno.test("mushroom codec: the server's messages are written field by field exactly as Python's json.dumps of the list", () => {
  const values = [
    undefined,
    0,
    -0,
    1.5,
    1e-7,
    1e21,
    NaN,
    -Infinity,
    'Zoë "x"\n\u{1F600}',
    [1, [2, { a: undefined, b: "é" }]],
    { toJSON: () => ({ x: 1 }) },
    new Date(0),
  ];
  for (const data of values) {
    for (const id of [0, 118, 1e-7]) {
      const messages: MushroomMessage[] = [
        { code: 0, lastId: id },
        { code: 0, lastId: null },
        { code: 1, id, method: "player.ready", data },
        { code: 2, id, method: "gét", data, meta: { user: "u1", n: id } },
        { code: 3, id, requestId: 6, data },
        { code: 4, id, requestId: id, data },
        { code: -1 },
      ];
      for (const message of messages) {
        assertEquals(encodeMushroom(message, "python"), pythonJson(listOf(message)));
      }
    }
  }
  assertEquals(
    encodeMushroom({ code: 3, id: 118, requestId: 6, data: { "é": [1.5, null] } }, "python"),
    '[3, 118, 6, {"\\u00e9": [1.5, null]}]',
  );
});

Deno.test("mushroom: a server answers a client's heartbeat at once, and adds none to calls it answers", async () => {
  const { server, url } = serve({ handlers: { add: ([a, b]) => a + b, note: () => {} } });
  const { url: sessionUrl } = await (await handshake(url, { transports: ["ws"], auth: null }))
    .json();
  const socket = new RawSocket(sessionUrl);
  await socket.opened;
  // A client that sends heartbeats (as ours does) is answered one at once.
  socket.send("[0, null]");
  assertEquals(await socket.next(true), "[0, null]");
  // Calls one at a time: each reply carries the TCP ACK; no heartbeat per
  // call (at most the 50 ms acknowledgement's, on a slow machine).
  for (let i = 0; i < 20; i++) {
    socket.send(`[2, ${i}, "add", [${i}, 1]]`);
    assertEquals(await socket.next(), `[3, ${i}, ${i}, ${i + 1}]`);
  }
  socket.send("[0, 19]");
  await waitFor(() => socket.frames.includes("[0, 19]"), { message: "the heartbeat answered" });
  assertLessOrEqual(socket.frames.length, 4);
  assert(socket.frames.every((frame) => frame.startsWith("[0, ")), socket.frames.join(" "));
  // A message the server answers nothing to still gets a heartbeat soon: a
  // Deno client keeps Nagle's algorithm on, and its next write would wait
  // for the server's delayed ACK.
  socket.send('[1, 20, "note", null]');
  await waitFor(() => socket.frames.includes("[0, 20]"), { message: "a heartbeat after the note" });
  await socket.close();
  await server.shutdown();
});

Deno.test("mushroom handshake: 405, 401, 501, 400, 404, CORS, and 22-character session ids", async () => {
  const { server, url } = serve({}, {
    authenticate: (auth) => auth === "open sesame",
    transports: ["poll"],
  });
  const get = await fetch(url);
  assertEquals([get.status, get.headers.get("allow")], [405, "POST"]);
  // Not from a browser (no Origin): no CORS header is needed.
  assertEquals(get.headers.get("access-control-allow-origin"), null);
  await get.body?.cancel();
  const refused = await handshake(url, { transports: ["poll"], auth: "guess" });
  assertEquals([refused.status, refused.headers.get("www-authenticate")], [401, "Mushroom"]);
  await refused.body?.cancel();
  const nothing = await handshake(url, {
    transports: ["ws", "carrier-pigeon"],
    auth: "open sesame",
  });
  assertEquals(nothing.status, 501);
  await nothing.body?.cancel();
  for (const garbage of ["{", "[]", '{"transports": "poll"}', "\u0000\u0001"]) {
    const answer = await handshake(url, garbage);
    assertEquals(answer.status, 400, garbage);
    await answer.body?.cancel();
  }
  const ok = await handshake(url, { transports: ["ws", "poll"], auth: "open sesame" });
  // As Python writes it.
  const text = await ok.text();
  assertMatch(
    text,
    /^\{"transport": "poll", "url": "http:\/\/127\.0\.0\.1:\d+\/mushroom\/[A-Za-z0-9]{22}\/"\}$/,
  );
  const unknown = await fetch(`${url}${newSessionId()}/`, { method: "POST", body: "[[0, null]]" });
  assertEquals(unknown.status, 404);
  await unknown.body?.cancel();
  const ids = new Set(Array.from({ length: 1000 }, newSessionId));
  assertEquals(ids.size, 1000);
  for (const id of ids) assertMatch(id, /^[A-Za-z0-9]{22}$/);
  // The session has not been used: it is not one of the server's connections.
  assertEquals(server.connections.size, 0);
  await server.shutdown();
});

Deno.test("mushroom: the published client's polling, replayed: resends, [[0, null]], falsy data, no duplicates", async () => {
  const calls: string[] = [];
  const { server, url } = serve({
    handlers: {
      add: ([a, b]) => (calls.push("add"), a + b),
      log: (data) => void calls.push(`log ${JSON.stringify(data)}`),
      echo: (data) => (calls.push(`echo ${JSON.stringify(data)}`), data ?? "nothing"),
    },
  }, { pollTimeout: 200 });
  const hello = await handshake(url, { transports: ["poll"], auth: null });
  const { url: sessionUrl } = await hello.json();
  // What mushroom.js does: one queue, numbered from 0, never emptied.
  const queue = [
    [2, 0, "add", [1, 2]],
    [1, 1, "log", { line: "hi" }],
    [2, 2, "echo", null], // the client sent `0`; `data || null` made it null
  ];
  let lastMessageId: number | null = null;
  const received: unknown[][] = [];
  for (let round = 0; round < 3; round++) {
    // Before every poll, each queued message is its own POST.
    for (const message of queue) {
      assertEquals(await post(sessionUrl, JSON.stringify([message])), "null");
    }
    const answer = JSON.parse(await post(sessionUrl, JSON.stringify([[0, lastMessageId]])));
    for (const message of answer as unknown[][]) {
      // The client has no heartbeat handler: the server must send none.
      assert(message[0] !== 0, `a heartbeat reached the published client: ${message}`);
      if (lastMessageId !== null && (message[1] as number) <= lastMessageId) continue;
      lastMessageId = message[1] as number;
      received.push(message);
    }
  }
  assertEquals(calls, ["add", 'log {"line":"hi"}', "echo undefined"]);
  assertEquals(received, [[3, 0, 0, 3], [3, 1, 2, "nothing"]]);
  const session = [...server.connections.values()][0]!.peer.channel as MushroomSession;
  assertEquals(session.duplicates, 6);
  // The last poll acknowledged everything.
  assertEquals(await post(sessionUrl, "[[0, 1]]").then(() => session.unacknowledged), 0);
  await session.close();
  await server.shutdown();
});

Deno.test("mushroom: a peer that never acknowledges (mushroom.js over WebSocket) keeps memory bounded", async () => {
  const { server, url, logger } = serve({}, { maxUnacknowledged: 10 });
  const { url: sessionUrl } = await (await handshake(url, { transports: ["ws"], auth: null }))
    .json();
  const socket = new RawSocket(sessionUrl);
  await socket.opened;
  // mushroom.js sends its queue on open and nothing else: no heartbeats.
  socket.send('[2, 0, "rpc.ping", null]');
  assertEquals(await socket.next(), "[3, 0, 0, null]");
  for (let i = 0; i < 50; i++) await server.notify("tick", [i]);
  const session = [...server.connections.values()][0]!.peer.channel as MushroomSession;
  assertLessOrEqual(session.unacknowledged, 10);
  const warnings = logger.messages("warn").filter((l) => l.includes("acknowledges nothing"));
  assertEquals(warnings.length, 1);
  // Every push still went out on the live socket.
  for (let i = 0; i < 50; i++) assertEquals(JSON.parse(await socket.next())[3], [i]);
  await socket.close();
  await server.shutdown();
});

Deno.test("mushroom: garbage in poll bodies and frames is refused per message; the rest is served", async () => {
  const seen: string[] = [];
  const { server, url, logger } = serve({ handlers: { note: (data) => void seen.push(data) } });
  const { url: sessionUrl } = await (await handshake(url, { transports: ["poll"], auth: null }))
    .json();
  // A body with no mushroom message in it is answered 400.
  for (const body of ["not json at all", '{"a": 1}', '[[7, 7], "junk"]']) {
    const answer = await fetch(sessionUrl, { method: "POST", body });
    assertEquals(answer.status, 400, body);
    await answer.body?.cancel();
  }
  assertEquals(
    await post(sessionUrl, '[[1, 0, "note", "first"], [7, 7], "junk", [1, 1, "note", "second"]]'),
    "null",
  );
  assertEquals(seen, ["first", "second"]);
  // The two bad messages of the mixed body are logged.
  assertEquals(logger.messages("warn").filter((l) => l.includes("refused")).length, 2);
  const session = [...server.connections.values()][0]!.peer.channel as MushroomSession;
  await session.close();
  await server.shutdown();
});

Deno.test("mushroom: a WebSocket drop in the middle of calls both ways loses nothing and does nothing twice", async () => {
  const served = new Map<number, number>();
  const { server, url } = serve({
    handlers: {
      slow: async ([n]) => {
        served.set(n, (served.get(n) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 30));
        return n * 2;
      },
    },
  });
  const answered = new Map<number, number>();
  const session = await connect(url, { minDelay: 10, logger: recordingLogger() });
  assertEquals(session.transport, "ws");
  const client = new Peer(session, {
    handlers: {
      square: async ([n]) => {
        answered.set(n, (answered.get(n) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 30));
        return n * n;
      },
    },
  });
  await client.call("rpc.ping");
  const connection = [...server.connections.values()][0]!;
  const serverSession = connection.peer.channel as MushroomSession;
  const up = Array.from({ length: 20 }, (_, n) => client.call("slow", [n]));
  const down = Array.from({ length: 20 }, (_, n) => connection.peer.call("square", [n]));
  // Drop the socket once calls both ways are being served.
  await waitFor(() => served.size > 0 && answered.size > 0, { message: "calls under way" });
  await serverSession.detach("a network blip");
  assertEquals(await Promise.all(up), Array.from({ length: 20 }, (_, n) => n * 2));
  assertEquals(await Promise.all(down), Array.from({ length: 20 }, (_, n) => n * n));
  assertEquals([...served.values()].every((count) => count === 1), true);
  assertEquals([...answered.values()].every((count) => count === 1), true);
  assertEquals([served.size, answered.size], [20, 20]);
  assert(session.connected, "the client reconnected");
  await client.close();
  await server.shutdown();
});

Deno.test("mushroom: a poll-only session: calls both ways, notifications, many in flight", async () => {
  const { server, url } = serve({ handlers: { add: ([a, b]) => a + b } }, { transports: ["poll"] });
  const heard: unknown[] = [];
  const session = await connect(url, { logger: recordingLogger() });
  assertEquals(session.transport, "poll");
  const client = new Peer(session, {
    handlers: { whoami: () => "a polling client", news: (data) => void heard.push(data) },
  });
  const sums = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call("add", [i, 1])));
  assertEquals(sums, Array.from({ length: 100 }, (_, i) => i + 1));
  const connection = [...server.connections.values()][0]!;
  assertEquals(await connection.peer.call("whoami"), "a polling client");
  assertEquals(await server.notify("news", { text: "hello" }), 1);
  await client.call("rpc.ping");
  await waitFor(() => heard.length > 0, { message: "the notification heard" });
  assertEquals(heard, [{ text: "hello" }]);
  await client.close();
  await connection.peer.closed;
  assertEquals(connection.peer.closeReason?.code, CloseCode.Remote);
  await server.shutdown();
});

Deno.test("mushroom: our client falls back to polling when the WebSocket cannot open", async () => {
  const { server, url } = serve({ handlers: { ping: () => "pong" } }, { pollTimeout: 200 });
  // A server that offers ws but whose WebSocket endpoint is unreachable: a
  // fetch-level proxy that answers every upgrade 403, as some proxies do.
  const proxy: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (request): Promise<Response> => {
    if (request.headers.get("upgrade") !== null) return new Response("no", { status: 403 });
    const target = new URL(request.url);
    target.port = new URL(url).port;
    const answer = await fetch(target, { method: request.method, body: await request.text() });
    const text: string = (await answer.text()).replace(
      `:${new URL(url).port}/`,
      `:${proxy.addr.port}/`,
    );
    return new Response(text, { status: answer.status });
  });
  const session = await connect(`http://127.0.0.1:${proxy.addr.port}/mushroom/`, {
    logger: recordingLogger(),
  });
  const client = new Peer(session);
  assertEquals(await client.call("ping"), "pong");
  assertEquals(session.transport, "poll");
  await client.close();
  await server.shutdown();
  await proxy.shutdown();
});

Deno.test("mushroom: a session expires after its last transport went away; then its calls fail", async () => {
  const { server, url } = serve({}, { sessionTimeout: 100 });
  const { url: sessionUrl } = await (await handshake(url, { transports: ["ws"], auth: null }))
    .json();
  const socket = new RawSocket(sessionUrl);
  await socket.opened;
  await waitFor(() => server.connections.size > 0, { message: "the session joined" });
  const connection = [...server.connections.values()][0]!;
  const pending = connection.peer.call("never-answered");
  await socket.close();
  const error = await assertRejects(() => pending, ConnectionClosed);
  assertEquals(error.code, CloseCode.Expired);
  assertStringIncludes(error.message, "the session expired");
  await connection.peer.closed;
  await Promise.resolve();
  assertEquals(server.connections.size, 0);
  await server.shutdown();
});

Deno.test("mushroom: errors on the wire as the Python engine sends them", async () => {
  const { server, url } = serve({
    handlers: {
      refuse: () => {
        throw new RpcError(-32000, "Out of stock");
      },
      crash: () => {
        throw new Error("secret detail");
      },
    },
  });
  const { url: sessionUrl } = await (await handshake(url, { transports: ["ws"], auth: null }))
    .json();
  const socket = new RawSocket(sessionUrl);
  await socket.opened;
  socket.send('[2, 0, "nosuch"]');
  assertEquals(await socket.next(), '[4, 0, 0, "nosuch"]');
  socket.send('[2, 1, "refuse"]');
  assertEquals(await socket.next(), '[4, 1, 1, "Out of stock"]');
  socket.send('[2, 2, "crash"]');
  assertEquals(await socket.next(), '[4, 2, 2, "Internal server error"]');
  socket.send('[1, 3, "nosuch.either"]'); // only logged
  socket.send('[2, 4, "rpc.ping"]');
  assertEquals(await socket.next(), "[3, 3, 4, null]");
  await socket.close();
  // Our client sees an Error's bare data as a RemoteError.
  const client = new Peer(await connect(url, { logger: recordingLogger() }));
  const error = await assertRejects(() => client.call("refuse"), RemoteError);
  assertEquals([error.code, error.message, error.data], [-32000, "Out of stock", "Out of stock"]);
  await client.close();
  await server.shutdown();
});

Deno.test("mushroom: 200 sessions at once, and a push to all of them", async () => {
  const { server, url } = serve({ handlers: { add: ([a, b]) => a + b } });
  const heard = deferred<void>();
  let count = 0;
  const clients = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const session = await connect(url, {
      transports: i % 2 === 0 ? ["ws"] : ["poll"],
      logger: recordingLogger(),
    });
    const peer = new Peer(session, {
      handlers: { news: () => void (++count === 200 && heard.resolve()) },
    });
    assertEquals(await peer.call("add", [i, 1]), i + 1);
    return peer;
  }));
  assertEquals(server.connections.size, 200);
  assertEquals(await server.notify("news", ["for everyone"]), 200);
  await heard.promise;
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("mushroom session: duplicates are dropped; the outbox is resent on a new transport", async () => {
  const session = new MushroomSession({ role: "server", sessionTimeout: 0 });
  const peer = new Peer(session, { handlers: { inc: ([n]) => n + 1 }, logger: recordingLogger() });
  assertEquals(await session.poll('[[2, 0, "inc", [1]]]'), "null");
  assertEquals(await session.poll('[[2, 0, "inc", [1]], [0, null]]'), "[[3, 0, 0, 2]]");
  assertEquals(session.duplicates, 1);
  // Not acknowledged yet: a poll gets it again.
  assertEquals(await session.poll("[[0, null]]"), "[[3, 0, 0, 2]]");
  await peer.close();
  assertEquals(session.closeReason?.code, CloseCode.Local);
});

Deno.test("mushroom session: a client acknowledges after ackEvery messages, after the reply written in that turn, or after ackBytes characters", async () => {
  const client = new MushroomSession({
    role: "client",
    sessionTimeout: 0,
    ackEvery: 4,
    ackBytes: 500,
  });
  const peer = new Peer(client, { handlers: { echo: ([x]) => x }, logger: recordingLogger() });
  const [raw, end] = memoryPair();
  const attached = client.attach(end);
  const frames: string[] = [];
  const reading = (async () => {
    for await (const frame of raw.frames) frames.push(frame as string);
  })();
  // The fourth message is a call: the heartbeat goes after its reply (a
  // heartbeat before it would hold it back behind Nagle's algorithm).
  for (let id = 0; id < 3; id++) raw.send(`[1, ${id}, "tick", null]`);
  raw.send('[2, 3, "echo", ["x"]]');
  await waitFor(() => frames.includes("[0,3]"), { message: "the heartbeat after four messages" });
  assertEquals(frames.slice(0, 2), ['[3,0,3,"x"]', "[0,3]"]);
  // Large messages are acknowledged by size: each 3 of 200 characters
  // (600 ≥ ackBytes) get their heartbeat at once, far more often than the
  // 50 ms timer alone could send one.
  const started = performance.now();
  const big = JSON.stringify("y".repeat(200));
  for (let round = 0, id = 4; round < 40; round++) {
    const before = frames.length;
    for (let i = 0; i < 3; i++, id++) raw.send(`[1, ${id}, "tick", ${big}]`);
    await waitFor(() => frames.length > before, { message: `the heartbeat of round ${round}` });
  }
  const beats = frames.filter((frame) => frame.startsWith("[0,")).length - 1;
  const byTimer = (performance.now() - started) / 50 + 2;
  assert(beats > byTimer, `${beats} heartbeats, the timer alone could send ${byTimer}`);
  await peer.close();
  await attached;
  await reading;
});
