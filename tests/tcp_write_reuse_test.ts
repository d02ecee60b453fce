// The reused write buffer under backpressure (review24): many callers send
// frames of mixed sizes and characters at once to a reader that reads
// slowly, so writes are partial and wait on the socket while new frames
// queue; every frame arrives once, as sent, in order.

import { connect, listen, type TcpTransport } from "../transports/tcp.ts";
import { assert, assertEquals } from "./_assert.ts";
import { waitFor, within } from "./_helpers.ts";
import { Random } from "../fuzz/_generators.ts";

/** A seeded random float in [0, 1) (the fuzzers' source), so a failure replays. */
function random(seed: number): () => number {
  const source = new Random(seed);
  return () => source.next();
}

const PIECES = ["a", "é", "日", "😀", " ", "\ud800"];
const SIZES = [0, 1, 511, 1022, 1023, 1024, 1025, 2047, 4096, 16383, 16384, 16385, 70_000];

Deno.test("tcp: concurrent frames to a slow reader arrive as sent, in order", async () => {
  const next = random(24);
  const sent = Array.from({ length: 600 }, (_, i) => {
    const size = SIZES[Math.floor(next() * SIZES.length)]!;
    const piece = PIECES[Math.floor(next() * PIECES.length)]!;
    return `${i}:` + piece.repeat(Math.ceil(size / piece.length)).slice(0, size);
  });
  // A lone surrogate (one given, or half a pair cut by the size) is written as U+FFFD.
  const expected = sent.map((frame) => frame.toWellFormed());
  const listener = listen("tcp://127.0.0.1:0", { writeHighWaterMark: 64 * 1024 });
  const client = await connect(listener.addr, { highWaterMark: 4 });
  const server = (await listener[Symbol.asyncIterator]().next()).value as TcpTransport;
  await listener.close();
  let allSent = false;
  let backedUp = 0;
  const sending = Promise.all(sent.map((frame) => server.send(frame))).finally(() => {
    allSent = true;
  });
  const received: unknown[] = [];
  await within(
    (async () => {
      for await (const frame of client.frames) {
        received.push(frame);
        // Slow: every few frames the reader waits until the sender has bytes
        // it could not write yet (the socket is full), or has sent them all.
        if (received.length % 8 === 0) {
          if (server.bufferedAmount > 0) backedUp++;
          await waitFor(() => allSent || server.bufferedAmount > 0, { timeout: 10_000 });
        }
        if (received.length === sent.length) break;
      }
    })(),
    60_000,
    "every frame",
  );
  await sending;
  assertEquals(received.length, expected.length);
  assert(backedUp > 0, "the sender never had to wait: the buffer was not reused under pressure");
  for (let i = 0; i < expected.length; i++) assertEquals(received[i], expected[i], `frame ${i}`);
  await client.close();
  await server.close();
});
