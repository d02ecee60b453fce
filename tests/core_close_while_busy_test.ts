// A peer whose handlers are all busy stops reading (backpressure). Before,
// it then never saw its channel close: its own calls hung (forever with
// timeout 0) and `closed` never resolved. Replies already behind the
// waiting request must still settle their calls.

import { ConnectionClosed, memoryPair, Peer } from "../mod.ts";
import { assertEquals, assertInstanceOf } from "./_assert.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";

function busyPair(answer: (peer: Peer) => Record<string, () => unknown>) {
  const [a, b] = memoryPair<string>();
  const stalled: PromiseWithResolvers<void>[] = [];
  const busy = new Peer(a, {
    logger: recordingLogger(),
    maxConcurrentHandlers: 1,
    timeout: 0,
    handlers: {
      stall: () => {
        const gate = Promise.withResolvers<void>();
        stalled.push(gate);
        return gate.promise;
      },
    },
  });
  const other: Peer = new Peer(b, { logger: recordingLogger(), handlers: answer(busy) });
  return { busy, other, stalled };
}

Deno.test("core: a peer with every handler busy sees its channel close; its pending call fails", async () => {
  const { busy, other, stalled } = busyPair(() => ({ never: () => new Promise(() => {}) }));
  await other.notify("stall");
  await other.notify("stall"); // waits for room: the busy peer stops reading here
  const pending = busy.call("never").then(() => "resolved", (error) => error);
  await waitFor(() => stalled.length > 0, { timeout: 5_000 });
  await other.close();
  const outcome = await within(pending, 5_000, "the busy peer's call to end");
  assertInstanceOf(outcome, ConnectionClosed);
  await within(busy.closed, 5_000, "the busy peer to close");
  for (const gate of stalled) gate.resolve();
});

Deno.test("core: a reply queued behind a request waiting for room still settles its call when the channel closes", async () => {
  let release!: () => void;
  const answered = new Promise<void>((resolve) => release = resolve);
  const { busy, other, stalled } = busyPair(() => ({
    quick: () => {
      queueMicrotask(release);
      return "answer";
    },
  }));
  await other.notify("stall");
  await other.notify("stall");
  await waitFor(() => stalled.length > 0, { timeout: 5_000 });
  const call = busy.call("quick");
  await within(answered, 5_000, "the other side to answer");
  await other.close();
  assertEquals(await within(call, 5_000, "the queued reply to settle the call"), "answer");
  await within(busy.closed, 5_000, "the busy peer to close");
  for (const gate of stalled) gate.resolve();
});
