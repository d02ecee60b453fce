// A client that speaks another dialect than its server fails fast, with a
// message that says so, instead of waiting for its timeout or trading errors.

import { CloseCode, ConnectionClosed, Peer, Server } from "../mod.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { recordingLogger, test } from "./_helpers.ts";

test("a jsonrpc client against a simplerpc server fails at once, saying why", async () => {
  const server = new Server({
    dialect: simpleRpc,
    handlers: { add: ({ a, b }) => a + b },
    logger: recordingLogger(),
  }).serve(listen("tcp://127.0.0.1:0"));
  const logger = recordingLogger();
  const client = new Peer(await connect(server.addr), { timeout: 60_000, logger });
  const error = await assertRejects(() => client.call("add", { a: 1, b: 2 }), ConnectionClosed);
  assertStringIncludes(
    error.message,
    `the other side does not speak jsonrpc: it answered 'FAIL{"reason": "MalformedPayload"`,
  );
  assertEquals(client.closeReason?.code, CloseCode.WrongDialect);
  // Nothing was sent back: the client did not answer the junk.
  assertEquals(client.stats().messagesSent, 1);
  await client.closed;
  await server.shutdown();
});

test("a simplerpc client against a jsonrpc server fails at once too", async () => {
  const server = new Server({ handlers: { add: ({ a, b }) => a + b }, logger: recordingLogger() })
    .serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr, { dialect: simpleRpc }), {
    logger: recordingLogger(),
  });
  const error = await assertRejects(() => client.call("add", { a: 1, b: 2 }), ConnectionClosed);
  assertStringIncludes(
    error.message,
    `the other side does not speak simplerpc: it answered '{"jsonrpc":"2.0"`,
  );
  await server.shutdown();
});

test("junk to a peer that has not called anything is answered as before", async () => {
  const server = new Server({ handlers: {}, logger: recordingLogger() })
    .serve(listen("tcp://127.0.0.1:0"));
  const socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(server.addr.split(":").pop()),
  });
  await socket.write(new TextEncoder().encode("hello?\n"));
  const buffer = new Uint8Array(1024);
  const n = await socket.read(buffer);
  const reply = JSON.parse(new TextDecoder().decode(buffer.subarray(0, n!)));
  assertEquals(reply.error.code, -32700);
  socket.close();
  await server.shutdown();
});
