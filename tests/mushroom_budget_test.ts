// mushroom's shared bound on unacknowledged messages (maxUnacknowledgedBytesTotal)
// is a total bound: a session keeps its newest message even past its own
// bound, so sessions that each keep one large message are closed, the
// largest first, rather than multiplying every large broadcast.

import { CloseCode, Peer, Server } from "../mod.ts";
import { connect, MushroomBudget, MushroomSession } from "../transports/mushroom.ts";
import { listen } from "../transports/mushroom_server.ts";
import { assert, assertEquals, assertLessOrEqual, assertStringIncludes } from "./_assert.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { measureMushroomRss } from "./_mushroom_rss.ts";

const MiB = 1024 * 1024;

/** The characters kept by the sessions still open. */
function keptByOpen(sessions: MushroomSession[]): number {
  return sessions.filter((s) => s.closeReason === undefined)
    .reduce((sum, s) => sum + s.unacknowledgedBytes, 0);
}

Deno.test("mushroom budget: sessions keeping one large message each stay within the total; the largest are closed, small ones kept", async () => {
  const logger = recordingLogger();
  const budget = new MushroomBudget(64 * MiB);
  // Two small sessions, each keeping a small message it has not had acknowledged yet.
  const small = [0, 1].map((i) =>
    new MushroomSession({ role: "server", id: `small${i}`, budget, logger, sessionTimeout: 0 })
  );
  for (const session of small) {
    await session.send({ kind: "notification", method: "hello", params: ["x".repeat(1024)] });
  }
  // 24 sessions that never acknowledge, sent one 15 MiB message each.
  const big = "z".repeat(15 * MiB);
  const large = Array.from(
    { length: 24 },
    (_, i) =>
      new MushroomSession({ role: "server", id: `large${i}`, budget, logger, sessionTimeout: 0 }),
  );
  let refused = 0;
  for (const session of large) {
    await session.send({ kind: "notification", method: "big", params: [big] }).catch(() =>
      refused++
    );
    // After each send the total is within the bound (the message in flight included).
    assertLessOrEqual(budget.bytes, budget.limit);
    assertEquals(budget.bytes, keptByOpen([...small, ...large]));
  }
  // 4 × 15 MiB fit in 64 MiB; the other 20 sessions were closed.
  const closed = large.filter((s) => s.closeReason !== undefined);
  assertEquals(closed.length, 20);
  for (const session of closed) {
    assertEquals(session.closeReason!.code, CloseCode.WriteOverflow);
    // A closed session no longer holds its large message (only the end-of-session marker).
    assertLessOrEqual(session.unacknowledgedBytes, 16);
  }
  // A send refused is one whose own session was closed by it.
  assertLessOrEqual(refused, 20);
  // The small sessions were not touched.
  for (const session of small) {
    assertEquals(session.closeReason, undefined);
    assertEquals(session.unacknowledged, 1);
  }
  // One warning per closed session.
  const warnings = logger.messages("warn").filter((line) => line.includes("closed"));
  assertEquals(warnings.length, 20);
  assertStringIncludes(warnings[0]!, "maxUnacknowledgedBytesTotal");
  for (const session of [...small, ...large]) await session.close();
  assertEquals(budget.bytes, 0);
});

Deno.test("mushroom budget: a message larger than the whole bound closes its own session", async () => {
  const logger = recordingLogger();
  const budget = new MushroomBudget(1024);
  const session = new MushroomSession({ role: "server", budget, logger, sessionTimeout: 0 });
  const other = new MushroomSession({ role: "server", budget, logger, sessionTimeout: 0 });
  await other.send({ kind: "notification", method: "tick", params: ["y".repeat(100)] });
  let error: unknown;
  await session.send({ kind: "notification", method: "big", params: ["z".repeat(4096)] })
    .catch((e) => error = e);
  assert(error !== undefined, "the send that closed its session is refused");
  assertEquals(session.closeReason?.code, CloseCode.WriteOverflow);
  assertEquals(other.closeReason, undefined);
  assertLessOrEqual(budget.bytes, budget.limit);
  await session.close();
  await other.close();
});

Deno.test("mushroom budget: a broadcast of 15 MiB to 24 sessions that never poll keeps at most 64 MiB; a client that acknowledges is served", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { add: ([a, b]: number[]) => a! + b! } })
    .serve(listen("http://127.0.0.1:0/mushroom/", { logger }));
  // 24 poll sessions that joined (one empty send each) and never poll.
  await Promise.all(Array.from({ length: 24 }, async () => {
    const hello = await fetch(server.addr, { method: "POST", body: '{"transports": ["poll"]}' });
    const { url } = await hello.json();
    assertEquals(await (await fetch(url, { method: "POST", body: "[]" })).text(), "null");
  }));
  await waitFor(() => server.connections.size === 24, { message: "24 sessions joined" });
  const idle = [...server.connections.keys()];
  // A well-behaved client, which acknowledges what it receives.
  const client = new Peer(await connect(server.addr, { logger }));
  assertEquals(await within(client.call("add", [1, 2]), 10_000, "a first call"), 3);
  const big = "z".repeat(15 * MiB);
  const notified = await server.notify("big", [big], { to: idle });
  assertEquals(notified, 4);
  const sessions = [...server.connections.values()].map((c) => c.peer.channel as MushroomSession);
  // The total kept is within 64 MiB once the broadcast is done.
  assertLessOrEqual(keptByOpen(sessions), 64 * MiB);
  await waitFor(() => server.connections.size === 5, { message: "the 20 closed sessions left" });
  assertEquals(await within(client.call("add", [2, 3]), 10_000, "a call after the broadcast"), 5);
  await client.close();
  await server.shutdown();
});

Deno.test("mushroom budget: one 15 MiB broadcast to 24 sessions that never acknowledge stays within the total (RSS)", async () => {
  const measured = await measureMushroomRss(24, 1, 15);
  // 360 MiB pushed; 64 MiB kept at most (4 sessions), the other 20 closed.
  assertLessOrEqual(measured.keptMiB, 64, JSON.stringify(measured));
  assertEquals(measured.open, 4, JSON.stringify(measured));
  // Without the bound the RSS grew by 375 MiB (91 to 106 with it).
  assertLessOrEqual(measured.grownMiB, 200, JSON.stringify(measured));
  // An unread poll of a closed session gets a 404, not 15 MiB: 1082 MiB
  // before, 151 to 167 now (the 4 open sessions' answers).
  assertLessOrEqual(measured.unreadPollsMiB, 400, JSON.stringify(measured));
});
