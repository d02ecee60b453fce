// The seams every wire builds on: a channel shared by many callers, deliveries
// settled once, dialects over message-framed transports, a channel that
// outlives its transports, and connections pushed into a server by hand.

import {
  type BusSettlement,
  CallAgain,
  CallTimeout,
  type Channel,
  CloseCode,
  type CloseReason,
  ConnectionClosed,
  type Delivery,
  ErrorCode,
  framed,
  JsonRpcCodec,
  MemoryBus,
  memoryPair,
  type Message,
  NotDelivered,
  Peer,
  RemoteError,
  Server,
  type Transport,
} from "../mod.ts";
import { quickRpc } from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "./_assert.ts";
import { deferred, recordingLogger, waitFor } from "./_helpers.ts";

Deno.test("Two callers with the same call ids through one service channel each get their own answers", async () => {
  const bus = new MemoryBus();
  const logger = recordingLogger();
  const service = new Peer(bus.channel("svc"), {
    logger,
    handlers: {
      whoami: async (params: { n: number }, ctx) => {
        // Finish out of order, so replies cross.
        await new Promise((resolve) => setTimeout(resolve, (params.n * 7) % 5));
        return `${ctx.from}#${ctx.id}:${params.n}`;
      },
    },
  });
  const alice = new Peer(bus.channel("alice"), { logger });
  const bob = new Peer(bus.channel("bob"), { logger });
  const calls = (peer: Peer, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) => peer.call("whoami", { n: i }, { to: "svc" })),
    );
  const [fromAlice, fromBob] = await Promise.all([calls(alice, 50), calls(bob, 50)]);
  // Both used ids 1..50; each got exactly the answers to its own calls.
  assertEquals(fromAlice, Array.from({ length: 50 }, (_, i) => `alice#${i + 1}:${i}`));
  assertEquals(fromBob, Array.from({ length: 50 }, (_, i) => `bob#${i + 1}:${i}`));
  assertEquals(logger.messages("warn"), []);
  await Promise.all([alice.close(), bob.close(), service.close()]);
});

Deno.test("A cancel reaches the call of the caller who sent it, not another caller's with the same id", async () => {
  const bus = new MemoryBus();
  const aborted: string[] = [];
  const started = { alice: deferred(), bob: deferred() };
  const release = deferred();
  const service = new Peer(bus.channel("svc"), {
    handlers: {
      wait: (_params, ctx) => {
        started[ctx.from as "alice" | "bob"].resolve();
        ctx.signal.addEventListener("abort", () => aborted.push(ctx.from!));
        return release.promise.then(() => `done for ${ctx.from}`);
      },
    },
  });
  const alice = new Peer(bus.channel("alice"));
  const bob = new Peer(bus.channel("bob"));
  const stop = new AbortController();
  const aliceCall = alice.call("wait", {}, { to: "svc", signal: stop.signal });
  const bobCall = bob.call("wait", {}, { to: "svc" });
  await Promise.all([started.alice.promise, started.bob.promise]);
  stop.abort(new Error("alice gave up"));
  await assertRejects(() => aliceCall, Error, "alice gave up");
  await waitFor(() => aborted.length > 0, { message: "alice's handler to see the cancel" });
  assertEquals(aborted, ["alice"]);
  release.resolve();
  assertEquals(await bobCall, "done for bob");
  await Promise.all([alice.close(), bob.close(), service.close()]);
});

Deno.test("Every delivery is settled exactly once, with its outcome", async () => {
  const settlements: BusSettlement[] = [];
  const bus = new MemoryBus({ onSettle: (s) => settlements.push(s) });
  const started = deferred();
  let tries = 0;
  const service = new Peer(bus.channel("svc"), {
    logger: recordingLogger(),
    handlers: {
      ok: () => "fine",
      boom: () => {
        throw new Error("kaboom");
      },
      hang: (_params, ctx) =>
        new Promise((_resolve, reject) => {
          started.resolve();
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }),
      again: () => {
        tries++;
        throw new CallAgain("not yet");
      },
      later: () => (++tries >= 2 ? "second time lucky" : Promise.reject(new CallAgain())),
      note: () => {},
    },
  });
  const client = new Peer(bus.channel("client"), { logger: recordingLogger() });
  const outcome = (method: string) =>
    settlements.filter((s) => !Array.isArray(s.message) && methodOf(s.message) === method)
      .map((s) => `${s.outcome}@${s.attempt}`);

  assertEquals(await client.call("ok", {}, { to: "svc" }), "fine");
  await assertRejects(() => client.call("boom", {}, { to: "svc" }), RemoteError, "kaboom");
  const hung = client.call("hang", {}, { to: "svc", timeout: 20 });
  await started.promise;
  await assertRejects(() => hung, CallTimeout);
  // Asked to call again: redelivered once, then refused with an error the caller sees.
  const refused = await assertRejects(() => client.call("again", {}, { to: "svc" }), RemoteError);
  assertEquals([refused.code, refused.message], [ErrorCode.CallAgainRefused, "not yet"]);
  tries = 0;
  assertEquals(await client.call("later", {}, { to: "svc" }), "second time lucky");
  await client.notify("note", {}, { to: "svc" });
  await assertRejects(() => client.call("nosuch", {}, { to: "svc" }), RemoteError);
  // An answer's delivery is settled once the answer is sent.
  await waitFor(() => outcome("nosuch").length > 0, { message: "the last settlement" });

  assertEquals(outcome("ok"), ["ok@1"]);
  assertEquals(outcome("boom"), ["failed@1"]);
  assertEquals(outcome("hang"), ["cancelled@1"]);
  assertEquals(outcome("again"), ["retry@1", "failed@2"]);
  assertEquals(outcome("later"), ["retry@1", "ok@2"]);
  assertEquals(outcome("note"), ["ok@1"]);
  assertEquals(outcome("nosuch"), ["failed@1"]);
  // The client's deliveries (replies, one per answered call) are settled too.
  const replies = settlements.filter((s) => s.to === "client");
  assertEquals(replies.every((s) => s.outcome === "ok"), true);
  assertEquals(bus.deadLetters.map((s) => methodOf(s.message as Message)), [
    "boom",
    "again",
    "nosuch",
  ]);
  await Promise.all([client.close(), service.close()]);
});

Deno.test("A call to a name nobody serves fails at once with NotDelivered", async () => {
  const bus = new MemoryBus();
  const client = new Peer(bus.channel("client"));
  const error = await assertRejects(
    () => client.call("x", {}, { to: "ghost" }),
    NotDelivered,
    "ghost",
  );
  assertEquals(error.to, "ghost");
  assertEquals(client.stats().pendingCalls, 0);
  await client.close();
});

Deno.test("The ids option: UUIDs for a mesh, or a function", async () => {
  const bus = new MemoryBus();
  const seen: unknown[] = [];
  const service = new Peer(bus.channel("svc"), {
    handlers: { id: (_params, ctx) => (seen.push(ctx.id), ctx.id) },
  });
  const mesh = new Peer(bus.channel("mesh"), { ids: "uuid" });
  const own = new Peer(bus.channel("own"), { ids: ((n) => () => `own-${++n}`)(0) });
  assertMatch(String(await mesh.call("id", {}, { to: "svc" })), /^[0-9a-f]{32}$/);
  assertEquals(await own.call("id", {}, { to: "svc" }), "own-1");
  assertEquals(await own.call("id", {}, { to: "svc" }), "own-2");
  assertEquals(seen.length, 3);
  await Promise.all([mesh.close(), own.close(), service.close()]);
});

for (const dialect of [simpleRpc, quickRpc]) {
  Deno.test(`${dialect.name} over a message-framed transport, many calls in flight, finishing out of order`, async () => {
    const [serverEnd, clientEnd] = memoryPair({ dialect });
    const server = new Server({
      logger: recordingLogger(),
      handlers: {
        echo: async (params: { n: number }) => {
          await new Promise((resolve) => setTimeout(resolve, (params.n * 13) % 7));
          return { echo: params };
        },
      },
    });
    server.add(serverEnd);
    const client = new Peer(clientEnd, { logger: recordingLogger() });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, n) => client.call("echo", { n })),
    );
    assertEquals(results, Array.from({ length: 200 }, (_, n) => ({ echo: { n } })));
    await client.close();
    await server.shutdown();
  });
}

/**
 * A channel that outlives its transports, as a session does: when its
 * transport drops, it waits for the next one (`attach`), and it ends only when
 * closed. Built on `framed`, as a session channel would be.
 */
class SwitchingChannel implements Channel {
  readonly remote = "switching";
  #codec = new JsonRpcCodec();
  #current: ReturnType<typeof framed<string>> | undefined;
  #inbox = new FrameQueue<Delivery>();
  #closed = Promise.withResolvers<void>();
  #reason: CloseReason | undefined;
  #pending: { message: Message; done: PromiseWithResolvers<void> }[] = [];

  get incoming(): AsyncIterable<Delivery> {
    return this.#inbox;
  }
  get closed(): Promise<void> {
    return this.#closed.promise;
  }
  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }
  /** Whether a transport carries it now. */
  get attached(): boolean {
    return this.#current !== undefined;
  }
  /** Messages sent while detached, waiting for the next transport. */
  get waiting(): number {
    return this.#pending.length;
  }

  /** Carries on over `transport`; what was sent while detached goes first. */
  attach(transport: Transport<string>): void {
    const channel = framed(transport, this.#codec);
    this.#current = channel;
    for (const { message, done } of this.#pending.splice(0)) {
      channel.send(message).then(done.resolve, done.reject);
    }
    (async () => {
      for await (const delivery of channel.incoming) await this.#inbox.push(delivery);
      if (this.#current === channel) this.#current = undefined;
    })();
  }

  send(message: Message): Promise<void> {
    if (this.#reason !== undefined) return Promise.reject(new ConnectionClosed(this.#reason));
    if (this.#current !== undefined) return this.#current.send(message);
    const done = Promise.withResolvers<void>();
    this.#pending.push({ message, done });
    return done.promise;
  }

  async close(reason?: string | CloseReason): Promise<void> {
    this.#reason ??= { code: CloseCode.Local, message: String(reason ?? "closed") };
    this.#inbox.end(this.#reason);
    await this.#current?.close(reason);
    for (const { done } of this.#pending.splice(0)) done.reject(new ConnectionClosed(reason));
    this.#closed.resolve();
  }
}

Deno.test("A channel that swaps its transport keeps pending calls alive in both directions", async () => {
  const clientSide = new SwitchingChannel();
  const serverSide = new SwitchingChannel();
  const running = deferred();
  const answer = deferred<string>();
  const server = new Peer(serverSide, {
    handlers: {
      slow: async () => {
        running.resolve();
        return await answer.promise;
      },
    },
  });
  const client = new Peer(clientSide);
  const [a1, b1] = memoryPair();
  serverSide.attach(a1);
  clientSide.attach(b1);
  const pending = client.call("slow", {}, { timeout: 0 });
  await running.promise;
  // The wire drops while the call is being handled: nothing is rejected.
  await b1.close();
  await a1.closed;
  await waitFor(() => !clientSide.attached && !serverSide.attached, { message: "both to detach" });
  assertEquals([client.isClosed, server.isClosed], [false, false]);
  assertEquals(client.stats().pendingCalls, 1);
  assertEquals(server.stats().runningHandlers, 1);
  // The handler finishes while no wire is up; its reply waits for the next one.
  answer.resolve("survived the drop");
  await waitFor(() => serverSide.waiting === 1, { message: "the reply to wait for a wire" });
  const [a2, b2] = memoryPair();
  serverSide.attach(a2);
  clientSide.attach(b2);
  assertEquals(await pending, "survived the drop");
  // Only closing the channel fails what is pending.
  const last = client.call("slow", {});
  await client.close("session expired");
  await assertRejects(() => last, ConnectionClosed, "session expired");
  await server.close();
});

Deno.test("Server.add() serves a hand-made transport", async () => {
  // A transport written here from scratch: frames to the server come from a
  // queue the test fills; frames from the server are collected.
  const inbound = new FrameQueue<string>();
  const sent: string[] = [];
  const closed = deferred();
  let reason: CloseReason | undefined;
  const handMade: Transport<string> = {
    remote: "hand-made",
    frames: inbound,
    send: (frame) => (sent.push(frame), Promise.resolve()),
    close: (why) => {
      reason ??= typeof why === "string" ? { code: "local", message: why } : why;
      inbound.end(reason!);
      closed.resolve();
      return closed.promise;
    },
    get closed() {
      return closed.promise;
    },
    get closeReason() {
      return reason;
    },
  };
  const disconnected = deferred<CloseReason>();
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: { add: ({ a, b }) => a + b },
    onDisconnect: (_connection, why) => disconnected.resolve(why),
  });
  const connection = server.add(handMade, { name: "by hand" });
  assertEquals([connection?.id, connection?.name, server.connections.size], ["1", "by hand", 1]);
  await inbound.push('{"jsonrpc":"2.0","method":"add","params":{"a":2,"b":3},"id":9}');
  await waitFor(() => sent.length > 0, { message: "the reply" });
  assertEquals(sent, ['{"jsonrpc":"2.0","result":5,"id":9}']);
  await server.shutdown({ reason: "done" });
  assertEquals(await disconnected.promise, { code: CloseCode.Shutdown, message: "done" });
  // A server that is shutting down refuses what is added, and closes it.
  const [late, other] = memoryPair();
  assertEquals(server.add(late), undefined);
  await other.closed;
  assertEquals(late.closeReason?.code, CloseCode.Refused);
  assertEquals(logger.messages("warn"), ["refused a connection from memory: server shutting down"]);
});

Deno.test("Server.add() refuses connections past maxConnections", async () => {
  const server = new Server({ maxConnections: 1, logger: recordingLogger() });
  const [a, b] = memoryPair();
  const [c, d] = memoryPair();
  assert(server.add(a) !== undefined);
  assertEquals(server.accepting, false);
  assertEquals(server.add(c), undefined);
  assertEquals(c.closeReason, { code: CloseCode.Refused, message: "too many connections" });
  await d.closed;
  await b.close();
  await waitFor(() => server.connections.size === 0, { message: "the connection to close" });
  assertEquals(server.accepting, true);
  await server.shutdown();
});

function methodOf(message: Message | readonly Message[]): string | undefined {
  return !Array.isArray(message) && "method" in (message as Message)
    ? (message as { method: string }).method
    : undefined;
}
