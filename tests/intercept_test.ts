// Interceptors around served and made calls, and latency in peer.stats().

import {
  type Interceptor,
  type Invocation,
  LatencyHistogram,
  RemoteError,
  RpcError,
  Server,
} from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { Peer } from "../mod.ts";
import { assert, assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { peerPair, waitFor } from "./_helpers.ts";

function recorder(name: string, log: string[]): Interceptor {
  return async (call, next) => {
    log.push(`${name}>${call.direction}:${call.method}`);
    const result = await next();
    log.push(`${name}<${JSON.stringify(result)}`);
    return result;
  };
}

Deno.test("interceptors run outermost first, around handlers and around calls", async () => {
  const log: string[] = [];
  const { client, close } = peerPair(
    {
      handlers: { add: ([a, b]) => a + b },
      interceptors: [recorder("s1", log), recorder("s2", log)],
    },
    { interceptors: [recorder("c", log)] },
  );
  assertEquals(await client.call("add", [2, 3]), 5);
  assertEquals(log, [
    "c>outgoing:add",
    "s1>incoming:add",
    "s2>incoming:add",
    "s2<5",
    "s1<5",
    "c<5",
  ]);
  await close();
});

Deno.test("an interceptor can rewrite params and results", async () => {
  const double: Interceptor = async (call, next) => {
    call.params = (call.params as number[]).map((n) => n * 2);
    return `result: ${await next()}`;
  };
  const { client, close } = peerPair({
    handlers: { add: ([a, b]) => a + b },
    interceptors: [double],
  });
  assertEquals(await client.call("add", [1, 2]), "result: 6");
  await close();
});

Deno.test("an incoming interceptor that throws answers the call with its error", async () => {
  const deny: Interceptor = (call, next) => {
    if (call.direction === "incoming" && call.method === "secret") {
      throw new RpcError(-32001, "Unauthorized", { method: call.method });
    }
    return next();
  };
  let ran = false;
  const { client, close } = peerPair({
    handlers: { secret: () => (ran = true), open: () => "ok" },
    interceptors: [deny],
  });
  const error = await assertRejects(() => client.call("secret"), RemoteError);
  assertEquals([error.code, error.message, error.data], [-32001, "Unauthorized", {
    method: "secret",
  }]);
  assertEquals(ran, false);
  assertEquals(await client.call("open"), "ok");
  await close();
});

Deno.test("an outgoing interceptor can refuse a call before it is sent", async () => {
  const offline: Interceptor = () => {
    throw new Error("offline mode");
  };
  const { client, server, close } = peerPair({ handlers: { ping: () => "pong" } }, {
    interceptors: [offline],
  });
  await assertRejects(() => client.call("ping"), Error, "offline mode");
  await assertRejects(() => client.notify("ping"), Error, "offline mode");
  assertEquals(server.stats().messagesReceived, 0);
  await close();
});

Deno.test("interceptors see notifications, their meta and the handler's context", async () => {
  const seen: Invocation[] = [];
  const got = Promise.withResolvers<unknown>();
  const { client, close } = peerPair({
    handlers: { log: (line) => got.resolve(line) },
    interceptors: [(call, next) => (seen.push(call), next())],
  });
  await client.notify("log", ["hello"]);
  assertEquals(await got.promise, ["hello"]);
  assertEquals(seen.length, 1);
  const call = seen[0]!;
  assertEquals([call.direction, call.method, call.notification], ["incoming", "log", true]);
  assertEquals(call.context?.id, undefined);
  assertEquals(call.context?.method, "log");
  await close();
});

Deno.test("calling next() twice is refused", async () => {
  const twice: Interceptor = async (_call, next) => {
    await next();
    return await next();
  };
  let runs = 0;
  const { client, close } = peerPair({
    handlers: { count: () => ++runs },
    interceptors: [twice],
  });
  const error = await assertRejects(() => client.call("count"), RemoteError);
  assertEquals(error.code, -32603);
  assert(error.message.includes("next() twice"), error.message);
  assertEquals(runs, 1);
  await close();
});

Deno.test("interceptors must be functions", () => {
  let thrown: unknown;
  try {
    peerPair({ interceptors: ["nope" as unknown as Interceptor] });
  } catch (error) {
    thrown = error;
  }
  assert(thrown instanceof TypeError);
});

Deno.test("keep-alive pings do not pass through interceptors", async () => {
  const methods: string[] = [];
  const { client, close } = peerPair({ handlers: {} }, {
    keepAlive: 10,
    interceptors: [(call, next) => (methods.push(call.method), next())],
  });
  // Two silent intervals make the client ping at least once.
  await waitFor(() => client.stats().messagesSent > 0, { message: "a ping" });
  assertEquals(methods, []);
  await close();
});

Deno.test("a server's connections share its interceptors, which can read the connection", async () => {
  // Annotated: the interceptor refers to `server` inside its own initializer.
  const server: Server<{ user?: string }> = new Server<{ user?: string }>({
    handlers: (connection) => ({
      login: ({ user }) => (connection.state.user = user, "ok"),
      whoami: () => connection.state.user,
    }),
    peer: {
      interceptors: [(call, next) => {
        const user = server.connectionOf(call.peer)?.state.user;
        if (call.method !== "login" && user === undefined) {
          throw new RpcError(-32001, "Log in first");
        }
        return next();
      }],
    },
  }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr));
  const error = await assertRejects(() => client.call("whoami"), RemoteError);
  assertEquals(error.message, "Log in first");
  assertEquals(await client.call("login", { user: "ada" }), "ok");
  assertEquals(await client.call("whoami"), "ada");
  await client.close();
  await server.shutdown();
});

Deno.test("with latency on, stats() reports call and handler latency", async () => {
  const { client, server, close } = peerPair(
    { handlers: { wait: ([ms]) => new Promise((r) => setTimeout(r, ms)) }, latency: true },
    { latency: true },
  );
  for (let i = 0; i < 5; i++) await client.call("wait", [20]);
  const calls = client.stats().callLatency!;
  const handlers = server.stats().handlerLatency!;
  assertEquals([calls.count, handlers.count], [5, 5]);
  for (const summary of [calls, handlers]) {
    // Timers may fire a little early; nothing else makes it shorter.
    assertGreater(summary.p50, 15);
    assertGreater(summary.max, 15);
    assert(summary.p50 <= summary.p99 && summary.p99 <= summary.max, JSON.stringify(summary));
  }
  assertEquals(client.stats().handlerLatency?.count, 0);
  await close();
});

Deno.test("without the latency option, stats() has no latency", async () => {
  const { client, close } = peerPair({ handlers: { ping: () => "pong" } });
  await client.call("ping");
  assertEquals("callLatency" in client.stats(), false);
  await close();
});

Deno.test("LatencyHistogram keeps percentiles within a bucket and bounded", () => {
  const histogram = new LatencyHistogram();
  assertEquals(histogram.summary(), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  for (let i = 0; i < 900; i++) histogram.record(0.1);
  for (let i = 0; i < 100; i++) histogram.record(50);
  histogram.record(-1); // a clock that went back counts as 0
  histogram.record(1e12); // beyond the last bucket, kept in it
  const summary = histogram.summary();
  assertEquals(summary.count, 1002);
  assert(Math.abs(summary.p50 - 0.1) / 0.1 < 0.05, `p50 ${summary.p50}`);
  assert(Math.abs(summary.p99 - 50) / 50 < 0.05, `p99 ${summary.p99}`);
  assertEquals(summary.max, 1e12);
});
