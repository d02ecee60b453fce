// A delay a timer cannot wait (2^31 ms or more, about 24.8 days) means
// "never", like Infinity: before, each one became a 1 ms timer (a warning
// printed each time, a call timed out at once, a connection cut at once).

import { CallTimeout, memoryPair, Peer, Server } from "../mod.ts";
import { listen, type TcpTransport } from "../transports/tcp.ts";
import { connect as connectWebSocket } from "../transports/websocket.ts";
import { listen as listenWebSocket } from "../transports/websocket_server.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";
import { assert, assertEquals } from "./_assert.ts";
import { peerPair, recordingLogger, within } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import { withTimeout } from "../protocol/shared/_with_timeout.ts";

const HUGE = 2 ** 31;

/**
 * Records the delay of every timer started while `run` runs. A timer the
 * code under test starts before one the test starts fires first when its
 * delay is shorter, so awaiting `pause(ms)` lets a wrongly 1 ms timer fire.
 */
async function timersDuring(run: () => Promise<void>): Promise<number[]> {
  const delays: number[] = [];
  const { setTimeout: realTimeout, setInterval: realInterval } = globalThis;
  const realSignalTimeout = AbortSignal.timeout;
  // The Peer's deadline timer is an AbortSignal.timeout.
  AbortSignal.timeout = (ms: number) => {
    delays.push(ms);
    return realSignalTimeout.call(AbortSignal, ms);
  };
  globalThis.setTimeout = ((f: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    delays.push(ms ?? 0);
    return realTimeout(f, ms ?? 0, ...args as []);
  }) as typeof setTimeout;
  globalThis.setInterval = ((f: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    delays.push(ms ?? 0);
    return realInterval(f, ms ?? 0, ...args as []);
  }) as typeof setInterval;
  try {
    await run();
  } finally {
    globalThis.setTimeout = realTimeout;
    globalThis.setInterval = realInterval;
    AbortSignal.timeout = realSignalTimeout;
  }
  return delays;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function assertNoOverflow(delays: number[]): void {
  assertEquals(delays.filter((ms) => !(ms < HUGE)), [], "a timer was started with a delay ≥ 2^31");
}

Deno.test("timeouts: a call timeout of 2^31 ms or more, or Infinity, never fires", async () => {
  const delays = await timersDuring(async () => {
    const { server, client, close } = peerPair(
      { handlers: { slow: () => pause(30).then(() => "done") } },
      { timeout: 2 ** 40 },
    );
    assertEquals(await client.call("slow"), "done"); // the peer's default
    assertEquals(await client.call("slow", undefined, { timeout: HUGE }), "done");
    assertEquals(await client.call("slow", undefined, { timeout: Infinity }), "done");
    // A timeout a timer can hold still works.
    await client.call("slow", undefined, { timeout: 1 }).then(
      () => assert(false, "a 1 ms timeout should have fired"),
      (error) => assert(error instanceof CallTimeout),
    );
    await server.idle();
    await close();
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: keepAlive of 2^31 ms never pings", async () => {
  const delays = await timersDuring(async () => {
    const { server, client, close } = peerPair(
      { handlers: { slow: () => pause(30).then(() => "done") } },
      { keepAlive: HUGE },
    );
    assertEquals(await client.call("slow"), "done");
    // Only our call reached the server: no rpc.ping.
    assertEquals(server.stats().messagesReceived, 1);
    await close();
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: drain and a shutdown deadline of 2^31 ms wait for the calls in flight", async () => {
  const delays = await timersDuring(async () => {
    const { server: peer, client, close } = peerPair({
      handlers: { slow: () => pause(30).then(() => "done") },
    });
    const call = client.call("slow");
    await client.call("rpc.ping"); // the slow call is running
    assertEquals(await peer.drain(HUGE), true);
    assertEquals(await call, "done");
    await close();

    const logger = recordingLogger();
    const server = new Server({
      logger,
      idleTimeout: HUGE,
      handlers: { slow: () => pause(30).then(() => "done") },
    });
    const [a, b] = memoryPair();
    server.add(a);
    const other = new Peer(b, { logger });
    const pending = other.call("slow");
    await other.call("rpc.ping");
    await server.shutdown({ deadline: HUGE });
    assertEquals(await pending, "done");
    assertEquals(logger.messages("warn"), []);
    await other.closed;
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: a TCP writeTimeout of 2^31 ms does not cut a slow reader", async () => {
  const delays = await timersDuring(async () => {
    const logger = recordingLogger();
    const listener = listen("tcp://127.0.0.1:0", {
      logger,
      writeTimeout: HUGE,
      closeTimeout: HUGE,
    });
    const raw = await RawSocket.connect(listener.addr);
    const accepted = await listener[Symbol.asyncIterator]().next();
    const server = accepted.value as TcpTransport;
    const frame = "x".repeat(2 * 1024 * 1024);
    const sent = server.send(frame); // over writeHighWaterMark (1 MiB): waits for the reader
    await pause(30); // a 1 ms write timer would have cut the connection by now
    assertEquals(server.closeReason, undefined);
    assertEquals((await raw.readFrame()).length, frame.length + 1);
    await within(sent, 10_000, "the send");
    await server.close();
    raw.close();
    await listener.close();
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: WebSocket and mushroom delays of 2^31 ms never fire", async () => {
  const delays = await timersDuring(async () => {
    const logger = recordingLogger();
    const ws = new Server({ logger, handlers: { slow: () => pause(30).then(() => "done") } })
      .serve(listenWebSocket("ws://127.0.0.1:0/", { logger, closeTimeout: HUGE }));
    const wsClient = new Peer(
      await connectWebSocket(ws.addr, { logger, connectTimeout: HUGE, closeTimeout: HUGE }),
    );
    assertEquals(await wsClient.call("slow"), "done");
    await wsClient.close();
    await ws.shutdown();

    const huge = { sessionTimeout: HUGE, heartbeatInterval: HUGE };
    const mushroom = new Server({ logger, handlers: { slow: () => pause(30).then(() => "done") } })
      .serve(listenMushroom("http://127.0.0.1:0/", { logger, ...huge, pollTimeout: HUGE }));
    for (const transport of ["ws", "poll"] as const) {
      const session = await connectMushroom(mushroom.addr, {
        ...huge,
        transports: [transport],
        closeTimeout: HUGE,
        maxDelay: HUGE,
      });
      const client = new Peer(session, { logger });
      assertEquals(await client.call("slow"), "done");
      await client.close();
    }
    await mushroom.shutdown();
    assertEquals(logger.messages("warn"), []);
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: withTimeout answers with the promise in time, the fallback after the delay, and waits forever for 2^31 ms", async () => {
  assertEquals(await withTimeout(pause(1).then(() => "done"), 10_000, "late"), "done");
  assertEquals(await withTimeout(new Promise(() => {}), 1, "late"), "late");
  const delays = await timersDuring(async () => {
    assertEquals(await withTimeout(pause(20).then(() => "done"), HUGE, "late"), "done");
    assertEquals(await withTimeout(pause(20).then(() => "done"), Infinity, "late"), "done");
  });
  assertNoOverflow(delays);
});

Deno.test("timeouts: a caller awaiting each reply before its next call keeps one deadline timer, not one per call", async () => {
  const { client, close } = peerPair({
    handlers: { add: ([a, b]: number[]) => a! + b! },
  });
  try {
    const delays = await timersDuring(async () => {
      for (let i = 0; i < 200; i++) assertEquals(await client.call("add", [i, 1]), i + 1);
    });
    // Before, the timer was cleared and re-armed on every call (200 timers).
    assert(delays.length <= 2, `${delays.length} timers for 200 sequential calls`);
  } finally {
    await close();
  }
});

Deno.test("timeouts: calls a macrotask apart reuse one deadline timer", async () => {
  const { client, close } = peerPair({
    handlers: { add: ([a, b]: number[]) => a! + b! },
  });
  try {
    const delays = await timersDuring(async () => {
      for (let i = 0; i < 20; i++) {
        assertEquals(await client.call("add", [i, 1]), i + 1);
        await pause(1); // the peer is idle in between
      }
    });
    // The test's own pauses are the 1 ms ones; before, each idle gap cleared
    // the deadline timer and the next call started another (20 timers).
    const deadlines = delays.filter((ms) => ms > 1);
    assert(deadlines.length <= 1, `${deadlines.length} deadline timers for 20 calls`);
  } finally {
    await close();
  }
});

Deno.test("timeouts: a caller's deadlines start no setTimeout, and a call still times out", async () => {
  // The client side of the same saving: the deadline timer is an
  // AbortSignal.timeout (a setTimeout would load Deno's Node-compatible timers).
  const used: string[] = [];
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  for (const name of Object.keys(real) as (keyof typeof real)[]) {
    // deno-lint-ignore no-explicit-any
    (globalThis as any)[name] = (...args: unknown[]) => {
      used.push(name);
      // deno-lint-ignore no-explicit-any
      return (real[name] as any)(...args);
    };
  }
  const [a, b] = memoryPair();
  const never = Promise.withResolvers<never>();
  const server = new Peer(a, { handlers: { add: ([x, y]) => x + y, hang: () => never.promise } });
  const client = new Peer(b, { timeout: 30_000 });
  let timedOut: unknown;
  try {
    for (let i = 0; i < 10; i++) assertEquals(await client.call("add", [i, 1]), i + 1);
    timedOut = await client.call("hang", [], { timeout: 50 }).catch((error) => error);
  } finally {
    Object.assign(globalThis, real);
    never.resolve(undefined as never);
    await client.close();
    await server.close();
  }
  assert(timedOut instanceof CallTimeout, `expected CallTimeout, got ${timedOut}`);
  assertEquals(used, []);
});

Deno.test("timeouts: a server and the calls it answers start and clear no timer, and still close an idle connection", async () => {
  // In Deno (2.9) the first setTimeout, setInterval or clearTimeout, even
  // of undefined, loads its Node-compatible timers: 3 to 4 MiB more for a
  // server that needs no timer of its own.
  const used: string[] = [];
  const real = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
  };
  for (const name of Object.keys(real) as (keyof typeof real)[]) {
    // deno-lint-ignore no-explicit-any
    (globalThis as any)[name] = (...args: unknown[]) => {
      used.push(name);
      // deno-lint-ignore no-explicit-any
      return (real[name] as any)(...args);
    };
  }
  let server: Server | undefined;
  let client: Peer | undefined;
  try {
    server = new Server({ handlers: { add: ([a, b]) => a + b }, idleTimeout: 200 });
    const [a, b] = memoryPair();
    server.add(a);
    client = new Peer(b, { timeout: 0 });
    for (let i = 0; i < 10; i++) assertEquals(await client.call("add", [i, 1]), i + 1);
  } finally {
    Object.assign(globalThis, real);
  }
  assertEquals(used, []);
  // The idle check runs on without them: the quiet connection is closed.
  await within(client.closed, 5000, "the idle connection closed");
  await server.shutdown();
});
