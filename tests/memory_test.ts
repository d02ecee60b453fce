import { ACCEPTED, ConnectionClosed, memoryPair } from "../mod.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";

async function collect(frames: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

Deno.test("memoryPair() delivers frames in order, both ways", async () => {
  const [a, b] = memoryPair();
  for (let i = 0; i < 100; i++) await a.send(`a${i}`);
  await b.send("b0");
  const fromB = b.frames[Symbol.asyncIterator]();
  for (let i = 0; i < 100; i++) assertEquals((await fromB.next()).value, `a${i}`);
  assertEquals((await a.frames[Symbol.asyncIterator]().next()).value, "b0");
  await a.close();
  await b.closed;
});

Deno.test("memoryPair() send() waits while the reader is behind (backpressure)", async () => {
  const [a, b] = memoryPair({ highWaterMark: 2 });
  await a.send("1");
  await a.send("2");
  let accepted = false;
  const third = a.send("3");
  // Two unread frames: the third send waits (it is not the ACCEPTED promise).
  assert(third !== ACCEPTED, "two unread frames: the third send waits");
  const blocked = third.then(() => accepted = true);
  const reader = b.frames[Symbol.asyncIterator]();
  assertEquals((await reader.next()).value, "1");
  await blocked;
  assertEquals(accepted, true);
  assertEquals((await reader.next()).value, "2");
  assertEquals((await reader.next()).value, "3");
  await b.close();
  await a.closed;
});

Deno.test("memoryPair() close() lets the other end read what was sent, then ends", async () => {
  const [a, b] = memoryPair();
  await a.send("x");
  await a.send("y");
  await a.close("done");
  assertEquals(await collect(b.frames), ["x", "y"]);
  await assertRejects(() => a.send("z"), ConnectionClosed, "done");
  await assertRejects(() => b.send("z"), ConnectionClosed, "closed by the other end");
  await b.closed;
});

Deno.test("memoryPair() close() ends a pending read", async () => {
  const [a, b] = memoryPair();
  const reading = collect(a.frames);
  await b.close();
  assertEquals(await reading, []);
  await a.closed;
});

Deno.test("memoryPair() close() drops unread frames and rejects a waiting send", async () => {
  const [a, b] = memoryPair({ highWaterMark: 1 });
  await b.send("fills");
  const waiting = b.send("waits");
  await a.close();
  await assertRejects(() => waiting, ConnectionClosed);
  assertEquals(await collect(a.frames), [], "a dropped what it had not read");
});
