// InboxChannel, the inbox and close state every channel shares: deliveries in
// order through `incoming` and `take()`, `closeReason` set as closing starts,
// `closed` once it is done, and what is unread dropped only when asked.

import { CloseCode, ConnectionClosed, type Delivery, InboxChannel, type Message } from "../mod.ts";
import { assertEquals, assertRejects, assertStrictEquals } from "./_assert.ts";
import { within } from "./_helpers.ts";

/** A channel that exposes the protected helpers to the test. */
class TestChannel extends InboxChannel {
  sent: Message[] = [];
  send(message: Message): Promise<void> {
    this.sent.push(message);
    return Promise.resolve();
  }
  close(reason?: string): Promise<void> {
    if (this.beginClose(reason) !== undefined) this.finishClose();
    return this.closed;
  }
  push(delivery: Delivery): Promise<void> | undefined {
    return this.deliver(delivery);
  }
  start(reason: string, discard = false) {
    return this.beginClose(reason, discard);
  }
  finish(): void {
    this.finishClose();
  }
}

const note = (method: string): Delivery => ({ message: { kind: "notification", method } });

Deno.test("InboxChannel hands deliveries on in order through take() and incoming, which ends on close", async () => {
  const channel = new TestChannel();
  assertEquals(channel.push(note("a")), undefined);
  channel.push(note("b"));
  channel.push(note("c"));
  assertEquals(channel.take(), note("a"));
  await channel.close();
  const read: Delivery[] = [];
  for await (const delivery of channel.incoming) read.push(delivery);
  assertEquals(read, [note("b"), note("c")]);
  assertEquals(channel.take(), undefined);
});

Deno.test("InboxChannel sets closeReason as closing starts and resolves closed when it is done", async () => {
  const channel = new TestChannel();
  let closed = false;
  channel.closed.then(() => closed = true);
  const why = channel.start("bye");
  assertEquals(why?.code, CloseCode.Local);
  assertStrictEquals(channel.closeReason, why);
  assertEquals(channel.start("again"), undefined);
  assertStrictEquals(channel.closeReason, why);
  await Promise.resolve();
  assertEquals(closed, false);
  channel.finish();
  await within(channel.closed, 5000, "closed");
});

Deno.test("InboxChannel drops unread deliveries when closing discards them", async () => {
  const channel = new TestChannel();
  channel.push(note("a"));
  channel.start("gone", true);
  channel.finish();
  const read: Delivery[] = [];
  for await (const delivery of channel.incoming) read.push(delivery);
  assertEquals(read, []);
});

Deno.test("InboxChannel refuses a delivery after it closed", async () => {
  const channel = new TestChannel();
  await channel.close("done");
  await assertRejects(() => channel.push(note("late"))!, ConnectionClosed);
});

Deno.test("InboxChannel's deliver returns a promise while the inbox is over its high-water mark", async () => {
  const channel = new TestChannel(1);
  assertEquals(channel.push(note("a")), undefined);
  const room = channel.push(note("b"));
  assertEquals(room instanceof Promise, true);
  channel.take();
  await within(room!, 5000, "room in the inbox");
  await channel.close();
});
