// Backoff, the wait between attempts that ReconnectingChannel and the
// mushroom client share: doubling with jitter up to maxDelay, starting over
// after a success or a stable connection, and a wait that closing ends.

import { Backoff } from "../protocol/wire/retry.ts";
import { assert, assertEquals } from "./_assert.ts";
import { within } from "./_helpers.ts";

function assertBetween(value: number, low: number, high: number): void {
  assert(value >= low && value <= high, `${value} is not within ${low}..${high}`);
}

Deno.test("Backoff doubles its wait with each failure in a row, with jitter, up to maxDelay", () => {
  const backoff = new Backoff({ minDelay: 100, maxDelay: 1000 });
  for (let i = 0; i < 20; i++) assertBetween(backoff.delay(), 50, 100);
  backoff.fail();
  assertEquals(backoff.attempt, 1);
  backoff.fail();
  backoff.fail();
  assertEquals([backoff.failures, backoff.attempt], [3, 3]);
  for (let i = 0; i < 20; i++) assertBetween(backoff.delay(), 200, 400);
  for (let i = 0; i < 40; i++) backoff.fail();
  for (let i = 0; i < 20; i++) assertBetween(backoff.delay(), 500, 1000);
  backoff.reset();
  assertEquals(backoff.failures, 0);
  for (let i = 0; i < 20; i++) assertBetween(backoff.delay(), 50, 100);
});

Deno.test("Backoff options default to a 250 ms first wait, 30 s at most, and 1 s for a stable connection", () => {
  const backoff = new Backoff();
  assertEquals([backoff.minDelay, backoff.maxDelay, backoff.stableAfter], [250, 30_000, 1000]);
});

Deno.test("Backoff starts over when a stable connection drops, and counts a failure when a short one does", () => {
  const stable = new Backoff({ stableAfter: 0 });
  stable.fail();
  stable.fail();
  stable.connected();
  stable.disconnected();
  assertEquals(stable.failures, 0);

  const short = new Backoff({ stableAfter: 60_000 });
  short.fail();
  short.connected();
  short.disconnected();
  assertEquals(short.failures, 2);
});

Deno.test("Backoff.wait ends when its delay passes", async () => {
  await within(new Backoff().wait(undefined, 0), 5000, "a wait of 0 ms");
});

Deno.test("Backoff.wait ends early when the signal aborts, and a delay of 2^31 ms waits for the abort alone", async () => {
  const stop = new AbortController();
  const waiting = new Backoff().wait(stop.signal, 2 ** 31);
  stop.abort();
  await within(waiting, 5000, "the aborted wait");
  // Already aborted: no timer is started at all (the sanitizers would see it).
  await within(new Backoff().wait(stop.signal, 60_000), 5000, "a wait after the abort");
});
