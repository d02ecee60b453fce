// Streams and progress over mushroom between our client and server: said in
// the handshake, carried as numbered `rpc.*` mushroom calls on the session's
// reliable stream (no item lost or duplicated across a dropped socket or a
// lost poll answer), with backpressure, cancellation both ways and the
// session's end; and refused at once where the other side did not say it
// streams (mushroom.js, the Python original).

import {
  type CallContext,
  ConnectionClosed,
  type Handler,
  Peer,
  RemoteError,
  RpcError,
  Server,
  Unsupported,
} from "../mod.ts";
import {
  connect,
  encodeMushroom,
  type MushroomConnectOptions,
  MushroomSession,
} from "../transports/mushroom.ts";
import { MushroomCallCodec } from "../protocol/dialects/mushroom_calls.ts";
import { connect as wsConnect } from "../transports/websocket.ts";
import { listen } from "../transports/mushroom_server.ts";
import { assert, assertEquals, assertLessOrEqual, assertRejects, assertThrows } from "./_assert.ts";
import { deferred, recordingLogger, test, waitFor, within } from "./_helpers.ts";

const TRANSPORTS = ["ws", "poll"] as const;

/** Handlers the tests share; `seen` records what they saw. */
function streamHandlers() {
  const seen = {
    finally: deferred<string>(),
    made: 0,
    session: undefined as MushroomSession | undefined,
  };
  const handlers = {
    async *count({ to }: { to: number }, ctx: CallContext) {
      seen.session = ctx.peer.channel as MushroomSession;
      for (let i = 1; i <= to; i++) {
        seen.made = i;
        yield i;
      }
      return `counted to ${to}`;
    },
    async *endless(_params: unknown, ctx: CallContext) {
      seen.session = ctx.peer.channel as MushroomSession;
      try {
        for (let i = 0;; i++) {
          seen.made++;
          yield i;
        }
      } finally {
        seen.finally.resolve(ctx.signal.aborted ? "cancelled" : "ended");
      }
    },
    async *failing() {
      yield "one";
      throw new RpcError(-32050, "Sensor lost", { sensor: 4 });
    },
    async *unsendable() {
      yield "one";
      throw new RpcError(-32050, "Odd data", { big: 1n });
    },
    async *steps(_params: unknown, ctx: CallContext) {
      await ctx.progress("half");
      yield "a";
      await ctx.progress("all");
      return "stepped";
    },
    build: async (_params: unknown, ctx: CallContext) => {
      await ctx.progress({ step: "compile" });
      return "built";
    },
    ping: () => "pong",
  };
  return { seen, handlers };
}

/** Our server and our client over `transport`. */
async function pair(
  transport: "ws" | "poll",
  options: MushroomConnectOptions = {},
  clientHandlers: Record<string, Handler> = {},
) {
  const { seen, handlers } = streamHandlers();
  const logger = recordingLogger();
  const server = new Server({ logger, handlers })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger, transports: [transport] }));
  const session = await connect(server.addr, {
    logger,
    transports: [transport],
    minDelay: 5,
    maxDelay: 20,
    streams: true,
    ...options,
  });
  const client = new Peer(session, { logger, handlers: clientHandlers });
  const close = async () => {
    await client.close();
    await server.shutdown();
  };
  return { seen, server, session, client, close };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

for (const transport of TRANSPORTS) {
  test(`mushroom (${transport}): a stream's items arrive in order, then its return value`, async () => {
    const { client, session, close } = await pair(transport);
    assertEquals(session.features?.streams, true);
    const items = client.stream<number>("count", { to: 50 }, { credit: 4 });
    const got: number[] = [];
    let next = await items.next();
    for (; !next.done; next = await items.next()) got.push(next.value);
    assertEquals(got, range(1, 50));
    assertEquals(next.value, "counted to 50");
    // Plain calls still work on the same session.
    assertEquals(await client.call("ping"), "pong");
    await close();
  });

  test(`mushroom (${transport}): progress reaches onProgress of a call and of a stream`, async () => {
    const { client, close } = await pair(transport);
    const steps: unknown[] = [];
    assertEquals(
      await client.call("build", undefined, { onProgress: (v) => steps.push(v) }),
      "built",
    );
    assertEquals(steps, [{ step: "compile" }]);
    const progress: unknown[] = [];
    assertEquals(
      await collect(client.stream("steps", undefined, { onProgress: (v) => progress.push(v) })),
      ["a"],
    );
    assertEquals(progress, ["half", "all"]);
    await close();
  });

  test(`mushroom (${transport}): a slow reader pauses the producer at its window`, async () => {
    const { client, seen, close } = await pair(transport);
    const items = client.stream<number>("endless", undefined, { credit: 4 });
    for (let i = 0; i < 10; i++) assertEquals((await items.next()).value, i);
    // Two round trips on the same ordered session: whatever credit was
    // granted has reached the producer, and it has run as far as it may.
    assertEquals(await client.call("ping"), "pong");
    assertEquals(await client.call("ping"), "pong");
    // What was read, the credit, and the one item the producer makes ahead.
    assertLessOrEqual(seen.made, 10 + 4 + 1);
    await items.return(undefined);
    assertEquals(await within(seen.finally.promise, 5_000), "cancelled");
    await close();
  });

  test(`mushroom (${transport}): break cancels the stream: the handler's finally runs`, async () => {
    const { client, seen, close } = await pair(transport);
    for await (const n of client.stream<number>("endless", undefined, { credit: 8 })) {
      if (n === 20) break;
    }
    assertEquals(await within(seen.finally.promise, 5_000), "cancelled");
    // The session goes on.
    assertEquals(await client.call("ping"), "pong");
    await close();
  });

  test(`mushroom (${transport}): the caller's signal cancels the stream`, async () => {
    const { client, seen, close } = await pair(transport);
    const controller = new AbortController();
    const items = client.stream<number>("endless", undefined, { signal: controller.signal });
    assertEquals((await items.next()).value, 0);
    controller.abort(new Error("enough"));
    await assertRejects(() => collect(items), Error, "enough");
    assertEquals(await within(seen.finally.promise, 5_000), "cancelled");
    await close();
  });

  test(`mushroom (${transport}): a handler's throw ends the iteration with its code and data`, async () => {
    const { client, close } = await pair(transport);
    const got: unknown[] = [];
    const error = await assertRejects(async () => {
      for await (const item of client.stream("failing")) got.push(item);
    }, RemoteError);
    assertEquals(got, ["one"]);
    assertEquals([error.code, error.message, error.data], [-32050, "Sensor lost", { sensor: 4 }]);
    // An error whose data cannot be sent still ends the stream.
    const odd = await assertRejects(() => collect(client.stream("unsendable")), RemoteError);
    assertEquals(odd.message, "Internal server error");
    // A plain call's error stays mushroom's bare data.
    const plain = await assertRejects(() => client.call("nosuch"), RemoteError);
    assertEquals([plain.code, plain.data], [-32000, "nosuch"]);
    await close();
  });

  test(`mushroom (${transport}): the session's end ends the iteration with ConnectionClosed`, async () => {
    const { client, seen, close } = await pair(transport);
    const items = client.stream<number>("endless", undefined, { credit: 2 });
    assertEquals((await items.next()).value, 0);
    await waitFor(() => seen.session);
    // The server ends the session ([-1]): the client's reader fails.
    await seen.session!.close("server gone");
    await assertRejects(() => collect(items), ConnectionClosed);
    assertEquals(await within(seen.finally.promise, 5_000), "cancelled");
    await close();
  });
}

test("mushroom (ws): a socket dropped mid-stream loses and duplicates no item", async () => {
  const { client, seen, session, close } = await pair("ws");
  const items = client.stream<number>("count", { to: 400 }, { credit: 32 });
  const got: number[] = [];
  let dropped = false;
  for await (const n of items) {
    got.push(n);
    if (n === 100 && !dropped) {
      dropped = true;
      // The server drops the socket while items are in flight; the client
      // opens a new one in the same session and unacknowledged items are resent.
      await seen.session!.detach("dropped mid-stream");
    }
    if (n === 250) await session.detach("the client drops it too");
  }
  assertEquals(got, range(1, 400));
  assert(dropped);
  await close();
});

test("mushroom (poll): lost poll answers mid-stream lose and duplicate no item", async () => {
  let polls = 0;
  const lossy: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    // Every fifth poll (a body with a heartbeat) reaches the server, is answered, and the
    // answer is lost on the way back: the server resends it on the next poll.
    if (typeof init?.body === "string" && init.body.startsWith("[[0,") && ++polls % 5 === 0) {
      await response.body?.cancel();
      throw new TypeError("the answer was lost");
    }
    return response;
  };
  const { client, close } = await pair("poll", { fetch: lossy });
  assertEquals(
    await collect(client.stream<number>("count", { to: 300 }, { credit: 16 })),
    range(1, 300),
  );
  assert(polls >= 5, `only ${polls} polls`);
  await close();
});

test("mushroom: a stream that moves from a WebSocket to long polling mid-way loses and duplicates no item", async () => {
  const { handlers } = streamHandlers();
  const logger = recordingLogger();
  const server = new Server({ logger, handlers })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger, pollTimeout: 50 }));
  // Our client's handshake, then the session driven by hand: first a socket, then polls.
  const hello = await fetch(server.addr, {
    method: "POST",
    body: JSON.stringify({ transports: ["ws", "poll"], auth: null, streams: true }),
  });
  const answer = await hello.json();
  assertEquals([answer.transport, answer.streams], ["ws", true]);
  const session = new MushroomSession({ role: "client", streams: true, logger });
  const client = new Peer(session, { logger });
  const socket = await wsConnect(answer.url, { logger });
  const attached = session.attach(socket);
  const items = client.stream<number>("count", { to: 300 }, { credit: 16 });
  const got: number[] = [];
  for (let n = await items.next(); !n.done; n = await items.next()) {
    got.push(n.value);
    if (n.value === 100) break;
  }
  // The socket goes; the rest comes over long polling, in the same session.
  await socket.close();
  await attached;
  let done = false;
  const polling = (async () => {
    const url = answer.url.replace(/^ws/, "http");
    while (!done) {
      const { body, sentUpTo } = session.pollBody({ heartbeat: true, messages: true });
      session.hold();
      try {
        const response = await fetch(url, { method: "POST", body });
        const text = await response.text();
        if (sentUpTo !== undefined) session.acknowledge(sentUpTo);
        await session.receive(text);
      } finally {
        session.release();
      }
    }
  })();
  for (let n = await items.next(); !n.done; n = await items.next()) got.push(n.value);
  done = true;
  await polling;
  assertEquals(got, range(1, 300));
  await client.close();
  await server.shutdown();
});

/** A fetch that passes everything, except the server's `"streams": true` in the handshake's answer. */
function withoutStreams(): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const text = await response.text();
    return new Response(text.replace(/, "streams": true/, ""), {
      status: response.status,
      headers: response.headers,
    });
  };
}

for (const transport of TRANSPORTS) {
  test(`mushroom (${transport}): a server that did not say it streams: a stream call fails at once`, async () => {
    const { client, close } = await pair(transport, { fetch: withoutStreams() });
    assertEquals(client.channel.features?.streams, false);
    const error = assertThrows(() => client.stream("count", { to: 3 }), Unsupported);
    assertEquals([error.feature, error.wire], ["streams", "mushroom"]);
    const progress = await assertRejects(
      () => client.call("build", undefined, { onProgress: () => {} }),
      Unsupported,
    );
    assertEquals(progress.wire, "mushroom");
    assertEquals(await client.call("ping"), "pong");
    await close();
  });
}

test("mushroom: a client that did not say it streams (mushroom.js) gets the original handshake answer", async () => {
  const session = deferred<MushroomSession>();
  const server = new Server({
    handlers: {
      hello: (_params: unknown, ctx: CallContext) => {
        session.resolve(ctx.peer.channel as MushroomSession);
        return "hi";
      },
    },
  }).serve(listen("http://127.0.0.1:0/mushroom/", { transports: ["poll"] }));
  // mushroom.js's handshake, byte for byte: the answer has no `streams`.
  const hello = await fetch(server.addr, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: '{"transports": ["poll"], "auth": null}',
  });
  const answer = await hello.json();
  assertEquals(Object.keys(answer), ["transport", "url"]);
  const send = await fetch(answer.url, { method: "POST", body: '[[2, 0, "hello", null]]' });
  assertEquals(await send.text(), "null");
  const poll = await fetch(answer.url, { method: "POST", body: "[[0, null]]" });
  assertEquals(await poll.text(), '[[3, 0, 0, "hi"]]');
  // The server cannot stream to it, nor ask it for progress.
  const serverSide = await within(session.promise, 5_000);
  assertEquals(serverSide.features?.streams, false);
  const peer = [...server.connections.values()][0]!.peer as Peer;
  assertThrows(() => peer.stream("ticks"), Unsupported, "mushroom cannot carry streams");
  await server.shutdown();
});

test("mushroom: our client asks for streams only when told to: otherwise its handshake is the original's", async () => {
  const server = new Server({ handlers: { hello: () => "hi" } }).serve(
    listen("http://127.0.0.1:0/mushroom/", { transports: ["poll"] }),
  );
  const bodies: string[] = [];
  const recording: typeof fetch = (input, init) => {
    if (typeof init?.body === "string") bodies.push(init.body);
    return fetch(input, init);
  };
  const session = await connect(server.addr, { transports: ["poll"], fetch: recording });
  assertEquals(bodies[0], '{"transports":["poll"],"auth":null}');
  assertEquals(session.features?.streams, false);
  const client = new Peer(session);
  assertEquals(await client.call("hello"), "hi");
  assertThrows(() => client.stream("ticks"), Unsupported, "connect with { streams: true }");
  await client.close();
  await server.shutdown();
});

test("mushroom: our client's handshake says it streams, and our server answers so", async () => {
  const server = new Server().serve(
    listen("http://127.0.0.1:0/mushroom/", { transports: ["poll"] }),
  );
  const hello = await fetch(server.addr, {
    method: "POST",
    body: '{"transports": ["poll"], "auth": null, "streams": true}',
  });
  const answer = await hello.json();
  assertEquals(Object.keys(answer), ["transport", "url", "streams"]);
  assertEquals(answer.streams, true);
  await server.shutdown();
});

test("mushroom: the stream messages, byte for byte (the README's table)", () => {
  const caller = new MushroomCallCodec(undefined, "c", true);
  const handler = new MushroomCallCodec(undefined, "s", true);
  const wire = (codec: MushroomCallCodec, message: Parameters<MushroomCallCodec["encode"]>[0]) =>
    codec.encode(message).map((m) => encodeMushroom(m, "python"));
  assertEquals(
    wire(caller, { kind: "request", id: "a", method: "ticks", params: { n: 2 }, stream: 16 }),
    ['[2, 0, "rpc.stream", {"method": "ticks", "params": {"n": 2}, "credit": 16}]'],
  );
  assertEquals(
    wire(caller, { kind: "request", id: "b", method: "build", params: [], progress: true }),
    ['[2, 1, "rpc.call", {"method": "build", "params": [], "progress": true}]'],
  );
  assertEquals(
    handler.decode({ code: 2, id: 0, method: "rpc.stream", data: { method: "ticks", credit: 16 } }),
    {
      kind: "request",
      id: 0,
      method: "ticks",
      stream: 16,
    },
  );
  assertEquals(wire(handler, { kind: "item", id: 0, value: { t: 1 } }), [
    '[1, 0, "rpc.item", {"id": 0, "item": {"t": 1}}]',
  ]);
  assertEquals(wire(handler, { kind: "progress", id: 1, value: 0.5 }), [
    '[1, 1, "rpc.progress", {"id": 1, "value": 0.5}]',
  ]);
  // The caller reads them back as its own calls' ids.
  assertEquals(
    caller.decode({ code: 1, id: 0, method: "rpc.item", data: { id: 0, item: { t: 1 } } }),
    {
      kind: "item",
      id: "a",
      value: { t: 1 },
    },
  );
  assertEquals(wire(caller, { kind: "credit", id: "a", credit: 8 }), [
    '[1, 2, "rpc.credit", {"id": 0, "credit": 8}]',
  ]);
  assertEquals(
    handler.decode({ code: 1, id: 2, method: "rpc.credit", data: { id: 0, credit: 8 } }),
    {
      kind: "credit",
      id: 0,
      credit: 8,
    },
  );
  assertEquals(wire(caller, { kind: "cancel", id: "a" }), ['[1, 3, "rpc.cancel", {"id": 0}]']);
  // A wrapped call's error keeps its code and data.
  assertEquals(
    wire(handler, { kind: "error", id: 0, error: { code: -32050, message: "Lost", data: 4 } }),
    ['[4, 2, 0, {"code": -32050, "message": "Lost", "data": 4}]'],
  );
});

test("mushroom: without streams, the codec sends and reads none of it", () => {
  const plain = new MushroomCallCodec();
  assertEquals(plain.encode({ kind: "item", id: 0, value: 1 }), []);
  assertEquals(plain.encode({ kind: "request", id: "a", method: "m", stream: 4 }), [
    { code: 2, id: 0, method: "m", data: null },
  ]);
  // A mushroom.js notification that happens to use the name reaches its handler as it is.
  assertEquals(plain.decode({ code: 1, id: 0, method: "rpc.item", data: { id: 0, item: 1 } }), {
    kind: "notification",
    method: "rpc.item",
    params: { id: 0, item: 1 },
  });
});

test("mushroom: malformed stream messages are refused, each with its reason", () => {
  const handler = new MushroomCallCodec(undefined, "s", true);
  const noMethod = handler.decode({ code: 2, id: 0, method: "rpc.stream", data: { credit: 4 } });
  assertEquals((noMethod as { kind: string }).kind, "invalid");
  assertEquals((noMethod as { answer: boolean }).answer, true);
  const noCredit = handler.decode({ code: 2, id: 1, method: "rpc.stream", data: { method: "m" } });
  assertEquals((noCredit as { kind: string }).kind, "invalid");
  const zero = handler.decode({ code: 1, id: 2, method: "rpc.credit", data: { id: 0, credit: 0 } });
  assertEquals((zero as { kind: string; answer: boolean }).kind, "invalid");
  assertEquals((zero as { answer: boolean }).answer, false);
  // An item for no call of ours, or a cancel without an id: nothing.
  assertEquals(
    handler.decode({ code: 1, id: 3, method: "rpc.item", data: { id: 9, item: 1 } }),
    [],
  );
  assertEquals(handler.decode({ code: 1, id: 4, method: "rpc.cancel", data: null }), []);
});

for (const transport of TRANSPORTS) {
  test(`mushroom (${transport}): the server streams from a handler of our client`, async () => {
    const finished = deferred<string>();
    const { server, client, close } = await pair(transport, {}, {
      async *readings() {
        try {
          for (let i = 0;; i++) yield { i };
        } finally {
          finished.resolve("returned");
        }
      },
    });
    await client.call("ping");
    await waitFor(() => server.connections.size === 1);
    const [connection] = [...server.connections.values()];
    const got: unknown[] = [];
    for await (const reading of connection!.peer.stream("readings", undefined, { credit: 2 })) {
      got.push(reading);
      if (got.length === 5) break;
    }
    assertEquals(got, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    assertEquals(await within(finished.promise, 5_000), "returned");
    await close();
  }, 30_000);
}
