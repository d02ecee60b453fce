import {
  CallTimeout,
  ConnectionClosed,
  type Handler,
  memoryPair,
  Peer,
  RemoteError,
  RpcError,
  TooManyCalls,
} from "../mod.ts";
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { deferred, peerPair, rawHarness, recordingLogger, waitFor } from "./_helpers.ts";

Deno.test("Peer calls and notifies in both directions over one connection", async () => {
  const logs: unknown[] = [];
  const { server, client, close } = peerPair(
    {
      handlers: {
        greet: async ({ name }, ctx) => `hello ${name} from ${await ctx.peer.call("where")}`,
        log: (params) => void logs.push(params),
      },
    },
    { handlers: { where: () => "the client" } },
  );
  assertEquals(await client.call("greet", { name: "Ada" }), "hello Ada from the client");
  await client.notify("log", { line: 1 });
  assertEquals(await client.call("greet", { name: "Bob" }), "hello Bob from the client");
  assertEquals(logs, [{ line: 1 }]);
  server.handle("late", () => "registered after start");
  assertEquals(await client.call("late"), "registered after start");
  await close();
});

Deno.test("Peer answers a handler that returns nothing with a null result", async () => {
  const { client, close } = peerPair({ handlers: { nothing: () => {} } });
  assertEquals(await client.call("nothing"), null);
  await close();
});

Deno.test("Peer rethrows remote errors as RemoteError with code, message and data", async () => {
  const { client, close } = peerPair({
    handlers: {
      refuse: () => {
        throw new RpcError(-32000, "Out of stock", { sku: "A-1" });
      },
      crash: () => {
        throw new Error("disk on fire");
      },
      throwString: () => {
        throw "just a string";
      },
      rejects: () => Promise.reject(new RpcError(7, "async no")),
    },
  });
  const refused = await assertRejects(() => client.call("refuse"), RemoteError, "Out of stock");
  assertEquals([refused.code, refused.data, refused.method], [-32000, { sku: "A-1" }, "refuse"]);
  const crashed = await assertRejects(() => client.call("crash"), RemoteError);
  assertEquals([crashed.code, crashed.message, crashed.data], [-32603, "disk on fire", undefined]);
  const thrown = await assertRejects(() => client.call("throwString"), RemoteError);
  assertEquals([thrown.code, thrown.message], [-32603, "just a string"]);
  const rejected = await assertRejects(() => client.call("rejects"), RemoteError);
  assertEquals([rejected.code, rejected.message], [7, "async no"]);
  await close();
});

Deno.test("Peer dispatches only own registered names", async () => {
  class Service {
    hidden(): string {
      return "on the prototype";
    }
  }
  const handlers = Object.assign(new Service(), { visible: () => "own" });
  const { client, close } = peerPair({ handlers: handlers as unknown as Record<string, Handler> });
  assertEquals(await client.call("visible"), "own");
  for (
    const name of [
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
      "valueOf",
      "hidden",
      "__defineGetter__",
    ]
  ) {
    const error = await assertRejects(() => client.call(name), RemoteError);
    assertEquals([error.code, error.message], [-32601, "Method not found"], name);
  }
  await close();
});

Deno.test("Peer.handle() refuses reserved, empty and non-function registrations", async () => {
  const [a, b] = memoryPair();
  const peer = new Peer(a);
  assertThrows(() => peer.handle("rpc.anything", () => 1), TypeError, "reserved");
  assertThrows(() => peer.handle("", () => 1), TypeError, "non-empty");
  assertThrows(() => peer.handle("x", "nope" as never), TypeError, "must be a function");
  assertThrows(
    () => new Peer(b, { handlers: { "rpc.cancel": () => 1 } }),
    TypeError,
    "reserved",
  );
  await peer.close();
  await b.close();
});

Deno.test("Peer refuses bad option values with a RangeError", async () => {
  const [a, b] = memoryPair();
  assertThrows(() => new Peer(a, { timeout: -1 }), RangeError, "timeout");
  assertThrows(() => new Peer(a, { maxPendingCalls: 0 }), RangeError);
  assertThrows(() => new Peer(a, { maxConcurrentHandlers: 1.5 }), RangeError);
  const peer = new Peer(a);
  await assertRejects(() => peer.call("x", undefined, { timeout: Number.NaN }), RangeError);
  await peer.close();
  await b.closed;
});

Deno.test("Peer times out a call, tells the remote, and counts the late reply", async () => {
  const [a, raw] = memoryPair<string>();
  const logger = recordingLogger();
  const client = new Peer(a, {
    timeout: 20,
    logger,
    handlers: { marker: () => 1 },
  });
  const frames = raw.frames[Symbol.asyncIterator]();

  const call = client.call("slow", { n: 1 });
  assertEquals(
    JSON.parse((await frames.next()).value),
    { jsonrpc: "2.0", method: "slow", params: { n: 1 }, id: 1 },
  );
  const error = await assertRejects(() => call, CallTimeout, "Call 'slow' timed out after 20 ms");
  assertEquals([error.method, error.timeout], ["slow", 20]);
  // The remote side is told to stop.
  assertEquals(
    JSON.parse((await frames.next()).value),
    { jsonrpc: "2.0", method: "rpc.cancel", params: { id: 1 } },
  );
  // The reply arrives anyway: dropped and counted, not a crash.
  await raw.send('{"jsonrpc":"2.0","result":"late","id":1}');
  await raw.send('{"jsonrpc":"2.0","method":"marker","id":"m"}');
  assertEquals(JSON.parse((await frames.next()).value), { jsonrpc: "2.0", result: 1, id: "m" });
  assertEquals(client.stats().lateReplies, 1);
  assertEquals(client.stats().pendingCalls, 0);
  await raw.close();
  await client.closed;
});

Deno.test("Peer per-call timeout overrides the default; 0 waits forever", async () => {
  const release = deferred<string>();
  const { client, close } = peerPair(
    { handlers: { wait: () => release.promise, quick: () => "ok" } },
    { timeout: 10 },
  );
  const forever = client.call("wait", undefined, { timeout: 0 });
  await assertRejects(() => client.call("wait", undefined, { timeout: 5 }), CallTimeout);
  release.resolve("done");
  assertEquals(await forever, "done");
  assertEquals(await client.call("quick", undefined, { timeout: 1000 }), "ok");
  await close();
});

Deno.test("Peer cancels a call with an AbortSignal and the remote handler's signal fires", async () => {
  const started = deferred();
  const remoteReason = deferred<unknown>();
  const { server, client, close } = peerPair({
    handlers: {
      work: (_params, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            remoteReason.resolve(ctx.signal.reason);
            reject(ctx.signal.reason);
          });
          started.resolve();
        }),
    },
  });
  const controller = new AbortController();
  const call = client.call("work", undefined, { signal: controller.signal });
  await started.promise;
  controller.abort(new Error("user pressed stop"));
  await assertRejects(() => call, Error, "user pressed stop");
  const reason = await remoteReason.promise;
  assertInstanceOf(reason, DOMException);
  assertEquals(reason.name, "AbortError");
  assertEquals(reason.message, "Call 1 was cancelled by the caller");
  await waitFor(() => server.stats().runningHandlers === 0, { message: "the handler to end" });
  assertEquals(client.stats().pendingCalls, 0);
  // No reply was sent for the cancelled call, so none was counted as late.
  assertEquals(client.stats().lateReplies, 0);
  await close();
});

Deno.test("Peer rejects at once for an already aborted signal and sends nothing", async () => {
  const [a, raw] = memoryPair<string>();
  const client = new Peer(a);
  await assertRejects(
    () => client.call("x", undefined, { signal: AbortSignal.abort(new Error("no")) }),
    Error,
    "no",
  );
  await client.notify("marker");
  const first = await raw.frames[Symbol.asyncIterator]().next();
  assertEquals(JSON.parse(first.value), { jsonrpc: "2.0", method: "marker" });
  await client.close();
  await raw.closed;
});

Deno.test("Peer rejects with TooManyCalls at the bound when told to", async () => {
  const release = deferred();
  const { client, close } = peerPair(
    { handlers: { wait: () => release.promise } },
    { maxPendingCalls: 2, whenFull: "reject" },
  );
  const first = client.call("wait");
  const second = client.call("wait");
  const error = await assertRejects(() => client.call("wait"), TooManyCalls);
  assertEquals(error.limit, 2);
  release.resolve();
  await Promise.all([first, second]);
  assertEquals(await client.call("wait"), null);
  await close();
});

Deno.test("Peer waits for room at the bound by default", async () => {
  const releases = [deferred(), deferred(), deferred()];
  const started: number[] = [];
  const { server, client, close } = peerPair(
    {
      handlers: {
        wait: ([n]: number[]) => {
          started.push(n!);
          return releases[n!]!.promise.then(() => n);
        },
      },
    },
    { maxPendingCalls: 2 },
  );
  const calls = [client.call("wait", [0]), client.call("wait", [1]), client.call("wait", [2])];
  await waitFor(() => started.length === 2, { message: "two calls to start" });
  // A round trip from the server: whatever the client sent before has arrived.
  await server.call("rpc.ping");
  assertEquals(started, [0, 1], "the third call waits for room");
  assertEquals(client.stats().pendingCalls, 2);
  releases[0]!.resolve();
  await waitFor(() => started.length === 3, { message: "the third call to start" });
  assertEquals(started, [0, 1, 2]);
  releases[1]!.resolve();
  releases[2]!.resolve();
  assertEquals(await Promise.all(calls), [0, 1, 2]);
  await close();
});

Deno.test("Peer lets a call waiting for room be aborted", async () => {
  const release = deferred();
  const { client, close } = peerPair(
    { handlers: { wait: () => release.promise } },
    { maxPendingCalls: 1 },
  );
  const first = client.call("wait");
  const controller = new AbortController();
  const waiting = client.call("wait", undefined, { signal: controller.signal });
  controller.abort(new Error("gave up waiting"));
  await assertRejects(() => waiting, Error, "gave up waiting");
  release.resolve();
  await first;
  await close();
});

Deno.test("Peer bounds handlers running at once and stops reading at the bound", async () => {
  let running = 0;
  let peak = 0;
  const gate = deferred();
  const twoStarted = deferred();
  const h = rawHarness({
    work: async () => {
      running++;
      peak = Math.max(peak, running);
      if (running === 2) twoStarted.resolve();
      await gate.promise;
      running--;
      return "done";
    },
  }, { maxConcurrentHandlers: 2 });
  for (let id = 1; id <= 5; id++) {
    await h.raw.send(`{"jsonrpc":"2.0","method":"work","id":${id}}`);
  }
  // All five frames are in the peer's queue; it started two and stopped there.
  await twoStarted.promise;
  assertEquals(h.peer.stats().runningHandlers, 2);
  gate.resolve();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(JSON.parse(await h.next()).id);
  assertEquals(ids.sort(), [1, 2, 3, 4, 5]);
  assertEquals(peak, 2);
  await h.close();
});

Deno.test("Peer answers a duplicate id in flight with Invalid Request", async () => {
  const gate = deferred();
  const h = rawHarness({ wait: () => gate.promise.then(() => "first") });
  await h.raw.send('{"jsonrpc":"2.0","method":"wait","id":5}');
  assertEquals(JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"wait","id":5}')), {
    jsonrpc: "2.0",
    error: { code: -32600, message: "Invalid Request", data: "duplicate id in flight" },
    id: 5,
  });
  gate.resolve();
  assertEquals(JSON.parse(await h.next()), { jsonrpc: "2.0", result: "first", id: 5 });
  // Once answered, the id may be used again.
  assertEquals(JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"wait","id":5}')), {
    jsonrpc: "2.0",
    result: "first",
    id: 5,
  });
  await h.close();
});

Deno.test("Peer drops replies to unknown ids, counts and logs them", async () => {
  const h = rawHarness({ marker: () => "m" });
  await h.raw.send('{"jsonrpc":"2.0","result":1,"id":"never-sent"}');
  await h.raw.send('{"jsonrpc":"2.0","result":1,"id":99}');
  await h.raw.send('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}');
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"marker","id":1}')).result,
    "m",
  );
  assertEquals(h.peer.stats().unknownReplies, 3);
  assertEquals(h.peer.stats().lateReplies, 0);
  assertEquals(h.logger.messages("warn"), [
    'memory: dropped a reply to unknown id "never-sent"',
    "memory: dropped a reply to unknown id 99",
    "memory: the remote side reported an error for id null",
  ]);
  await h.close();
});

Deno.test("Peer answers invalid input, counts it, and keeps serving", async () => {
  const h = rawHarness({ echo: (p) => p });
  assertEquals(JSON.parse(await h.exchange("not json")).error.code, -32700);
  assertEquals(JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":1,"id":2}')).id, 2);
  // A broken reply is logged, never answered.
  await h.raw.send('{"jsonrpc":"2.0","result":1}');
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"echo","params":[1],"id":3}')),
    {
      jsonrpc: "2.0",
      result: [1],
      id: 3,
    },
  );
  assertEquals(h.peer.stats().invalidMessages, 3);
  assertEquals(h.logger.messages("warn"), ["memory: dropped invalid input"]);
  await h.close();
});

Deno.test("Peer answers an unserialisable result with -32603 and logs it", async () => {
  const h = rawHarness({ big: () => 10n, fine: () => 1 });
  // The data names the value and where it is (see json_values_test.ts).
  const why =
    'result: a BigInt cannot be sent as plain JSON (JSON has no BigInt); convert it, or use values: "tagged" (the jsonRpcTagged dialect) on both sides';
  assertEquals(JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"big","id":1}')), {
    jsonrpc: "2.0",
    error: { code: -32603, message: "Internal error", data: why },
    id: 1,
  });
  // Inside a batch, only the broken entry becomes an error.
  assertEquals(
    JSON.parse(
      await h.exchange(
        '[{"jsonrpc":"2.0","method":"fine","id":1},{"jsonrpc":"2.0","method":"big","id":2}]',
      ),
    ),
    [
      { jsonrpc: "2.0", result: 1, id: 1 },
      {
        jsonrpc: "2.0",
        error: {
          code: -32603,
          message: "Internal error",
          data: why,
        },
        id: 2,
      },
    ],
  );
  assertEquals(h.logger.messages("error").length, 2);
  assertStringIncludes(h.logger.messages("error")[0]!, "could not be serialised");
  await h.close();
});

Deno.test("Peer rejects a call whose params cannot be serialised, sending nothing", async () => {
  const { client, close } = peerPair({ handlers: { x: () => 1 } });
  await assertRejects(() => client.call("x", { n: 1n }), TypeError);
  await assertRejects(() => client.notify("x", { n: 1n }), TypeError);
  assertEquals(client.stats().pendingCalls, 0);
  assertEquals(await client.call("x"), 1);
  await close();
});

Deno.test("Peer logs a failing notification handler and sends nothing back", async () => {
  const h = rawHarness({
    boom: () => {
      throw new Error("bad notification");
    },
    marker: () => "m",
  });
  await h.raw.send('{"jsonrpc":"2.0","method":"boom"}');
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"marker","id":1}')).result,
    "m",
  );
  assertEquals(h.logger.messages("warn"), ["memory: notification 'boom' failed"]);
  // The exception itself, with its stack, as for a call's handler.
  const logged = h.logger.lines[0]!.data[0] as Error;
  assertEquals(logged.message, "bad notification");
  assertStringIncludes(logged.stack ?? "", "peer_test.ts");
  await h.close();
});

Deno.test("Peer ignores a cancel for an id it is not serving", async () => {
  const h = rawHarness({ marker: () => "m" });
  await h.raw.send('{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":42}}');
  await h.raw.send('{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":[1]}}');
  await h.raw.send('{"jsonrpc":"2.0","method":"rpc.cancel"}');
  // null params are not a valid request at all, cancel or not.
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"rpc.cancel","params":null}')).error
      .code,
    -32600,
  );
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc":"2.0","method":"marker","id":1}')).result,
    "m",
  );
  await h.close();
});

Deno.test("Peer.close() rejects pending calls with ConnectionClosed and aborts handlers", async () => {
  const started = deferred();
  const serverSaw = deferred<unknown>();
  const { server, client } = peerPair({
    handlers: {
      hang: (_p, ctx) => {
        ctx.signal.addEventListener("abort", () => serverSaw.resolve(ctx.signal.reason));
        started.resolve();
        return new Promise(() => {});
      },
    },
  });
  const pending = client.call("hang");
  await started.promise;
  await client.close("going home");
  const error = await assertRejects(() => pending, ConnectionClosed, "going home");
  assertEquals(error.reason, "going home");
  assertInstanceOf(await serverSaw.promise, ConnectionClosed);
  await server.closed;
  assert(client.isClosed && server.isClosed);
  await assertRejects(() => client.call("hang"), ConnectionClosed);
  await assertRejects(() => client.notify("hang"), ConnectionClosed);
  await assertRejects(() => server.call("anything"), ConnectionClosed);
  // Closing again is harmless.
  await client.close();
});

Deno.test("Peer rejects pending calls when the remote side goes away", async () => {
  const [a, raw] = memoryPair<string>();
  const client = new Peer(a);
  const pending = client.call("anything");
  await raw.close("remote crashed");
  const error = await assertRejects(() => pending, ConnectionClosed, "closed by the other end");
  assertEquals(error.code, "remote");
  await client.closed;
});

Deno.test("Peer.idle() waits for running handlers", async () => {
  const gate = deferred();
  const { server, client, close } = peerPair({ handlers: { wait: () => gate.promise } });
  const call = client.call("wait");
  await waitFor(() => server.stats().runningHandlers === 1, { message: "the handler to start" });
  let idle = false;
  const waiting = server.idle().then(() => idle = true);
  await client.call("rpc.ping");
  assertEquals(idle, false);
  gate.resolve();
  await waiting;
  await call;
  assertEquals(idle, true);
  await close();
});

Deno.test("Peer handles many concurrent calls with distinct ids", async () => {
  const { client, close } = peerPair({ handlers: { double: ([n]: number[]) => n! * 2 } });
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) => client.call("double", [i])),
  );
  assertEquals(results, Array.from({ length: 500 }, (_, i) => i * 2));
  await close();
});

Deno.test("a fallback handler serves every method without its own, behind the interceptors", async () => {
  const seen: string[] = [];
  const notified = Promise.withResolvers<unknown>();
  const { client, close } = peerPair({
    handlers: { own: () => "own" },
    fallback: (params, ctx) => {
      if (ctx.id === undefined) notified.resolve([ctx.method, params]);
      return `fallback for ${ctx.method}`;
    },
    interceptors: [(call, next) => (seen.push(call.method), next())],
  });
  assertEquals(await client.call("own"), "own");
  assertEquals(await client.call("anything.else", [1]), "fallback for anything.else");
  await client.notify("tick", [2]);
  assertEquals(await notified.promise, ["tick", [2]]);
  // Built-in methods stay built in.
  assertEquals(await client.call("rpc.ping"), null);
  assertEquals(seen, ["own", "anything.else", "tick"]);
  await close();
});
