// A call the server refuses as too large (-32001, then it closes the
// connection) reaches the caller as what the server said, not as a bare
// ConnectionClosed.

import { CloseCode, ConnectionClosed, ErrorCode, Peer, RemoteError, Server } from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assert, assertEquals, assertInstanceOf, assertRejects } from "./_assert.ts";
import { recordingLogger, within } from "./_helpers.ts";

function smallFrameServer(maxFrameBytes: number) {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: { echo: (params) => params, hang: () => new Promise(() => {}) },
  }).serve(listen("tcp://127.0.0.1:0", { logger, maxFrameBytes }));
  return { server, logger };
}

for (const size of [5_000, 4 * 1024 * 1024]) {
  Deno.test(`tcp: a call over the server's frame limit rejects with its -32001 (${size} bytes)`, async () => {
    const { server } = smallFrameServer(1024);
    const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
    assertEquals(await client.call("echo", ["small"]), ["small"]);
    const error = await within(
      assertRejects(() => client.call("echo", ["x".repeat(size)]), ConnectionClosed),
      30_000,
      "the refusal",
    );
    // Matchable: the close code says why, and the cause is what the server sent.
    assertEquals(error.code, CloseCode.FrameTooLarge);
    assertInstanceOf(error.cause, RemoteError);
    assertEquals([error.cause.code, error.cause.message, error.cause.data], [
      ErrorCode.FrameTooLarge,
      "Frame too large",
      "limit 1024 bytes",
    ]);
    assertEquals(client.closeReason?.code, CloseCode.FrameTooLarge);
    await client.closed;
    await server.shutdown();
  });
}

Deno.test("tcp: calls pending when the server refuses a frame carry the server's error too", async () => {
  const { server } = smallFrameServer(1024);
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const pending = client.call("hang");
  await client.call("rpc.ping"); // "hang" has reached the server
  const refused = client.call("echo", ["x".repeat(5000)]);
  const outcomes = await within(Promise.allSettled([pending, refused]), 30_000, "the refusal");
  for (const outcome of outcomes) {
    assertEquals(outcome.status, "rejected");
    const error = (outcome as PromiseRejectedResult).reason;
    assertInstanceOf(error, ConnectionClosed);
    assertEquals(error.code, CloseCode.FrameTooLarge);
    assert(error.cause instanceof RemoteError && error.cause.code === ErrorCode.FrameTooLarge);
  }
  await client.closed;
  await server.shutdown();
});

Deno.test("tcp: a plain remote close carries no cause", async () => {
  const { server } = smallFrameServer(1024);
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const pending = client.call("hang");
  await client.call("rpc.ping");
  await server.close();
  const error = await assertRejects(() => pending, ConnectionClosed);
  assertEquals(error.cause, undefined);
  await client.closed;
});
