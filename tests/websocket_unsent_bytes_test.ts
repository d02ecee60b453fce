// WebSocket counts what is unsent in UTF-8 bytes, as the socket's own
// `bufferedAmount` does: messages queued while the socket connects count
// their bytes too, and `maxUnsentBytes` compares bytes.

import { CloseCode, ConnectionClosed } from "../mod.ts";
import { WebSocketTransport } from "../transports/websocket.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { recordingLogger } from "./_helpers.ts";

/** A TCP listener that accepts and never answers: a WebSocket to it stays connecting. */
function silentServer(): { url: string; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    close: async () => {
      listener.close();
      await accepting;
      for (const conn of accepted) conn.close();
    },
  };
}

Deno.test("websocket: bufferedAmount counts the UTF-8 bytes of messages queued while connecting", async () => {
  const server = silentServer();
  const transport = new WebSocketTransport(new WebSocket(server.url), {
    logger: recordingLogger(),
  });
  await transport.send("é".repeat(1000)); // 2 bytes each
  await transport.send("😀".repeat(100)); // 4 bytes each (two UTF-16 units)
  assertEquals(transport.bufferedAmount, 2000 + 400);
  await transport.close();
  await server.close();
});

Deno.test("websocket: maxUnsentBytes compares UTF-8 bytes", async () => {
  const server = silentServer();
  const logger = recordingLogger();
  const transport = new WebSocketTransport(new WebSocket(server.url), {
    logger,
    maxUnsentBytes: 1500,
  });
  // 1000 characters, 2000 bytes: over the bound.
  const error = await assertRejects(() => transport.send("é".repeat(1000)), ConnectionClosed);
  assertEquals(error.code, CloseCode.WriteOverflow);
  await transport.close();
  await server.close();
});
