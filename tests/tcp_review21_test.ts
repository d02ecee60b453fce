// Review of issue 21's TCP changes (frames decoded on a lenient fast path,
// strictly only when a U+FFFD appears): the frame limit holds on both paths.

import { ErrorCode, Server, silentLogger } from "../mod.ts";
import { listen } from "../transports/tcp.ts";
import { assertEquals } from "./_assert.ts";
import { RawSocket } from "./_tcp.ts";

Deno.test("tcp: a frame over maxFrameBytes is refused even when a frame beside it is not UTF-8", async () => {
  const server = new Server({ logger: silentLogger, handlers: { echo: (params) => params } })
    .serve(listen("tcp://127.0.0.1:0", { logger: silentLogger, maxFrameBytes: 1024 }));
  const raw = await RawSocket.connect(server.addr);
  const encoder = new TextEncoder();
  // One write: a frame of 5000 bytes, then one that is not UTF-8 (which
  // sends the read down the frame-by-frame path).
  await raw.send(
    new Uint8Array([
      ...encoder.encode(
        `{"jsonrpc":"2.0","method":"echo","params":["${"x".repeat(5000)}"],"id":1}\n`,
      ),
      0xff,
      0x0a,
    ]),
  );
  const answer = JSON.parse(await raw.readFrame());
  assertEquals(answer.error?.code, ErrorCode.FrameTooLarge, JSON.stringify(answer).slice(0, 200));
  raw.close();
  await server.shutdown();
});
