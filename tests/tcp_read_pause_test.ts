// The read side queues a read's frames without a promise and pauses only at
// a full frame queue (review24): frames that are not UTF-8, bytes that arrive
// while it is paused (a frame split across reads among them), and a close
// while it is paused.

import { InvalidFrame } from "../protocol/wire/transport.ts";
import { listen, type TcpTransport } from "../transports/tcp.ts";
import { assert, assertEquals } from "./_assert.ts";
import { concat } from "./_bytes.ts";
import { waitFor, within } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

const encoder = new TextEncoder();

async function pausedServer(): Promise<{ raw: RawSocket; server: TcpTransport }> {
  const listener = listen("tcp://127.0.0.1:0", { highWaterMark: 2 });
  const raw = await RawSocket.connect(listener.addr);
  const server = (await listener[Symbol.asyncIterator]().next()).value as TcpTransport;
  await listener.close();
  return { raw, server };
}

/** `count` frames from `first` on, joined; frame `bad` (if in range) with a byte that is not UTF-8. */
function frames(first: number, count: number, bad = -1): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = first; i < first + count; i++) {
    parts.push(encoder.encode(`frame ${i}`));
    if (i === bad) parts.push(new Uint8Array([0xff]));
    parts.push(encoder.encode("\n"));
  }
  return concat(parts);
}

Deno.test("tcp: a paused read with a frame that is not UTF-8, and bytes arriving meanwhile, keeps every frame in order", async () => {
  const { raw, server } = await pausedServer();
  await raw.send(frames(0, 30, 10));
  await waitFor(() => server.framesReceived >= 3 || undefined, { message: "a full queue" });
  // While paused: more frames, one of them cut across two writes.
  const more = frames(30, 30, 45);
  await raw.send(more.subarray(0, 100));
  await raw.send(more.subarray(100));
  const received: unknown[] = [];
  await within(
    (async () => {
      for await (const frame of server.frames) {
        received.push(frame instanceof InvalidFrame ? "invalid" : frame);
        if (received.length === 60) break;
      }
    })(),
    10_000,
    "60 frames",
  );
  const expected = Array.from(
    { length: 60 },
    (_, i) => i === 10 || i === 45 ? "invalid" : `frame ${i}`,
  );
  assertEquals(received, expected);
  assertEquals(server.framesReceived, 60);
  raw.close();
  await server.close();
});

Deno.test("tcp: a close while the read is paused at a full queue ends it", async () => {
  for (const bad of [-1, 5]) {
    const { raw, server } = await pausedServer();
    await raw.send(frames(0, 50, bad));
    await waitFor(() => server.framesReceived >= 3 || undefined, { message: "a full queue" });
    await within(server.close(), 5000, `the close (bad frame ${bad})`);
    assert(server.framesReceived < 50, `${server.framesReceived} frames queued`);
    raw.close();
  }
});
