// Frames are written from a buffer reused per connection (small ones) or a
// buffer of their own (large ones, and text whose UTF-8 outgrows the reused
// buffer): every size and every character arrives as sent, one at a time or
// several coalesced into one write.

import { connect, listen, type TcpTransport } from "../transports/tcp.ts";
import { assertEquals } from "./_assert.ts";

/** Lengths and characters around the reused buffer's sizes (1 KiB first, 16 KiB at most). */
const FRAMES = [
  "",
  "a",
  "a".repeat(1023),
  "a".repeat(1024),
  "a".repeat(1025),
  // 1024 bytes in 1023 characters: no room left for the delimiter.
  "a".repeat(1022) + "é",
  // A surrogate pair that does not fit after 1021 characters.
  "a".repeat(1021) + "😀",
  "é".repeat(600),
  "日本語 ✓".repeat(300),
  "a".repeat(16383),
  "a".repeat(16384),
  "a".repeat(40_000),
  "日".repeat(6000),
  "short again",
];

async function pair(
  delimiter: "\n" | "\0",
): Promise<[TcpTransport, TcpTransport, () => Promise<void>]> {
  const listener = listen("tcp://127.0.0.1:0", { delimiter });
  const client = await connect(listener.addr, { delimiter });
  const accepted = await listener[Symbol.asyncIterator]().next();
  await listener.close();
  const server = accepted.value as TcpTransport;
  return [client, server, async () => {
    await client.close();
    await server.close();
  }];
}

/** Every frame until the other side closes (a lost delimiter fails the test, not hangs it). */
async function receiveAll(from: TcpTransport): Promise<unknown[]> {
  const frames: unknown[] = [];
  for await (const frame of from.frames) frames.push(frame);
  return frames;
}

for (const delimiter of ["\n", "\0"] as const) {
  const name = delimiter === "\n" ? "newline" : "NUL";
  Deno.test(`tcp (${name}): each size around the write buffer arrives as sent, first on its connection`, async () => {
    for (const frame of FRAMES) {
      // A new connection each: the first frame sizes the reused buffer.
      const [client, server, close] = await pair(delimiter);
      const received = receiveAll(server);
      await client.send(frame);
      await client.send("next");
      await client.close();
      assertEquals(await received, [frame, "next"]);
      await close();
    }
  });

  Deno.test(`tcp (${name}): frames of every size sent together arrive as sent, in order`, async () => {
    const [client, server, close] = await pair(delimiter);
    const received = receiveAll(client);
    // Twice over, without waiting: frames join the write in progress.
    await Promise.all([...FRAMES, ...FRAMES].map((frame) => server.send(frame)));
    await server.close();
    assertEquals(await received, [...FRAMES, ...FRAMES]);
    await close();
  });
}
