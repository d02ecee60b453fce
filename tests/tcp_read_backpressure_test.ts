// Many frames in one read and a full frame queue: the frames of that read
// are queued up to the high-water mark, the rest wait (reading pauses) until
// the reader makes room, and every frame arrives once, in order.

import { connect, listen, type TcpTransport } from "../transports/tcp.ts";
import { assertEquals } from "./_assert.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("tcp: frames of one read wait at a full queue, then arrive in order", async () => {
  const listener = listen("tcp://127.0.0.1:0", { highWaterMark: 2 });
  const client = await connect(listener.addr);
  const server = (await listener[Symbol.asyncIterator]().next()).value as TcpTransport;
  await listener.close();
  const frames = Array.from({ length: 50 }, (_, i) => `frame ${i}`);
  // One send of joined frames: one write, most likely one read.
  await client.send(frames.join("\n"));
  // The queue holds its high-water mark, then one more: the push that filled it.
  await waitFor(() => server.framesReceived === 3, { message: "three frames queued" });
  assertEquals(server.bufferedInput < 50 * 9, true);
  const received: unknown[] = [];
  for await (const frame of server.frames) {
    received.push(frame);
    if (received.length === frames.length) break;
  }
  assertEquals(received, frames);
  assertEquals(server.framesReceived, 50);
  await client.close();
  await server.close();
});
