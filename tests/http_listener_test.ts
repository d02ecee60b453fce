// The accept loop in front of the WebSocket and mushroom listeners (HeadGate),
// on its own: what it does with a client that never reads its answer.

import { HeadGate, listenHttp } from "../transports/_http_listener.ts";
import { assert, assertEquals } from "./_assert.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";

Deno.test("http listener: an answer the client never reads is cut after writeTimeout; the connection is closed", async () => {
  const big = new Uint8Array(32 * 1024 * 1024);
  const gate = listenHttp(
    {
      hostname: "127.0.0.1",
      port: 0,
      secure: false,
      headTimeout: 5000,
      maxHeadBytes: 4096,
      writeTimeout: 300,
      logger: recordingLogger(),
    },
    () => Promise.resolve(new Response(big)),
  );
  assert(gate instanceof HeadGate, "this Deno hands our connections to its WebSocket");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gate.port });
  try {
    // A request, and then nothing is ever read: 32 MiB is more than the sockets' buffers hold.
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    await waitFor(() => gate.pending === 1, { message: "the connection accepted" });
    const started = performance.now();
    await waitFor(() => gate.pending === 0, {
      timeout: 10_000,
      message: "the connection closed by the server",
    });
    assertEquals(performance.now() - started >= 250, true, "closed before writeTimeout");
  } finally {
    conn.close();
    await gate.close();
  }
});
