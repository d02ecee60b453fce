// FrameQueue, the one inbox behind every transport and channel.

import { FrameQueue } from "../protocol/wire/_frame_queue.ts";
import { CloseCode, closeReason, ConnectionClosed } from "../mod.ts";
import { assertEquals, assertRejects } from "./_assert.ts";

Deno.test("FrameQueue: a frame pushed after the end is refused, and not reported unhandled if ignored", async () => {
  const queue = new FrameQueue<string>();
  queue.end(closeReason(CloseCode.Local, "done"));
  // Ignored, as a producer whose consumer closed meanwhile does: the test
  // runner fails this test if the rejection is reported unhandled.
  queue.push("late");
  // Awaited, it still says why.
  await assertRejects(() => queue.push("later")!, ConnectionClosed, "done");
  assertEquals(queue.length, 0);
});
