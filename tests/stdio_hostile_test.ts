// The hostile header blocks of fuzz/stdio.ts, replayed: after a good call,
// each makes a content-length server close (refused, or frame too large),
// holding no more than the header limit. Also a line that never ends.

import { assertEquals } from "@std/assert";
import { CloseCode, Peer, silentLogger } from "../mod.ts";
import { serveStdio, StreamTransport } from "../transports/stdio.ts";
import { HOSTILE_HEADERS, MAX_FRAME_BYTES } from "../fuzz/stdio.ts";
import { targetHandlers } from "../fuzz/_target.ts";
import { within } from "./_helpers.ts";

const encoder = new TextEncoder();

for (const [index, headers] of HOSTILE_HEADERS.entries()) {
  Deno.test(`content-length: hostile headers #${index} close the stream, after good calls`, async () => {
    const up = new TransformStream<Uint8Array, Uint8Array>();
    const down = new TransformStream<Uint8Array, Uint8Array>();
    const server = serveStdio(targetHandlers(), {
      framing: "content-length",
      input: up.readable,
      output: down.writable,
      maxFrameBytes: MAX_FRAME_BYTES,
      logger: silentLogger,
    });
    const writer = up.writable.getWriter();
    const client = new Peer(
      new StreamTransport(
        down.readable,
        new WritableStream({
          write: (chunk) => writer.write(chunk),
        }),
        { framing: "content-length" },
      ),
      { logger: silentLogger },
    );
    assertEquals(await client.call("add", { a: 1, b: 2 }), { sum: 3 });
    writer.write(encoder.encode(headers)).catch(() => {});
    await within(server.closed, 5000, "the server's close");
    const code = server.closeReason?.code;
    assertEquals(
      code === CloseCode.Refused || code === CloseCode.FrameTooLarge,
      true,
      `${code}: ${server.closeReason?.message}`,
    );
    await client.close();
    await writer.close().catch(() => {});
  });
}

Deno.test("newline: a line that never ends closes the stream at the frame limit", async () => {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  const server = serveStdio(targetHandlers(), {
    input: up.readable,
    output: down.writable,
    maxFrameBytes: 1024,
    logger: silentLogger,
  });
  const writer = up.writable.getWriter();
  const reader = down.readable.getReader();
  const chunk = encoder.encode("x".repeat(100));
  for (let i = 0; i < 11; i++) writer.write(chunk).catch(() => {});
  const reply = await reader.read();
  assertEquals(JSON.parse(new TextDecoder().decode(reply.value)).error.code, -32001);
  await within(server.closed, 5000, "the server's close");
  assertEquals(server.closeReason?.code, CloseCode.FrameTooLarge);
  await reader.cancel();
  await writer.close().catch(() => {});
});
