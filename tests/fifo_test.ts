// Fifo, the head-index queue FrameQueue, the simplerpc client codec and the
// mushroom session's kept messages share: order kept across compaction.

import { Fifo } from "../protocol/wire/_fifo.ts";
import { assertEquals } from "./_assert.ts";

Deno.test("Fifo takes items in the order they came, and undefined once empty", () => {
  const fifo = new Fifo<string>();
  fifo.push("a");
  fifo.push("b");
  assertEquals([fifo.length, fifo.peek(), fifo.at(1), fifo.at(2)], [2, "a", "b", undefined]);
  assertEquals([fifo.shift(), fifo.shift(), fifo.shift()], ["a", "b", undefined]);
  assertEquals([fifo.length, fifo.peek()], [0, undefined]);
});

Deno.test("Fifo keeps its order while it lets go of the taken front", () => {
  const fifo = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 1500; i++) fifo.push(next++);
    for (let i = 0; i < 1000; i++) assertEquals(fifo.shift(), expected++);
    assertEquals(fifo.length, next - expected);
    assertEquals(fifo.at(fifo.length - 1), next - 1);
  }
});

Deno.test("Fifo.clear drops every item", () => {
  const fifo = new Fifo<number | null>();
  fifo.push(1);
  fifo.push(null);
  fifo.clear();
  assertEquals([fifo.length, fifo.shift()], [0, undefined]);
  fifo.push(null);
  assertEquals(fifo.shift(), null);
});
