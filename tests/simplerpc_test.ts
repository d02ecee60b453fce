// simplerpc over real loopback sockets, byte for byte against the captured
// exchanges of the original (tests/fixtures/simplerpc_captured.json).

import { CallTimeout, Peer, RemoteError, RpcError, Server } from "../mod.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen, type TcpOptions } from "../transports/tcp.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { deferred, recordingLogger, test, waitFor } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import captured from "./fixtures/simplerpc_captured.json" with { type: "json" };

function captureServer(
  options: TcpOptions = {},
  extra: Record<string, (args: never) => unknown> = {},
) {
  const logger = recordingLogger();
  const server = new Server({
    dialect: simpleRpc,
    logger,
    handlers: {
      echo: (args) => ({ echo: args }),
      fail: () => {
        throw new RpcError(-32000, "fail requested", { reason: "BadInput" });
      },
      crash: () => {
        throw new Error("the handler broke");
      },
      ...extra,
    },
    onConnect: (connection) => connection.peer.notify("welcome", { msg: "hello" }),
  }).serve(listen("tcp://127.0.0.1:0", { logger, ...options }));
  return { server, logger };
}

/** Lets the first piece of a split frame reach the server in a read of its own. */
function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

test("simplerpc server answers the original's captured exchanges byte for byte", async () => {
  const { server, logger } = captureServer();
  const raw = await RawSocket.connect(server.addr);
  assertEquals(await raw.readLike(captured.on_connect), captured.on_connect);
  for (const exchange of captured.exchanges) {
    for (const [i, piece] of exchange.send.entries()) {
      if (i > 0) await pause();
      await raw.send(piece);
    }
    assertEquals(await raw.readLike(exchange.reply), exchange.reply, exchange.send.join(""));
  }
  // The original dies after `crash`; this connection goes on.
  await raw.send('echo{"still": "here"}\n');
  assertEquals(await raw.readFrame(), 'OKAY{"echo": {"still": "here"}}\n');
  // The unexpected exception was logged with its own message.
  assertEquals(
    logger.messages("warn").filter((m) => m.endsWith("handler 'crash' threw")).length,
    1,
  );
  raw.close();
  await server.shutdown();
});

test("simplerpc client sends the original client's bytes and reads its replies", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const welcomed = deferred<unknown>();
  const client = new Peer(await connect(addr), {
    dialect: simpleRpc,
    logger: recordingLogger(),
    handlers: { welcome: (args) => welcomed.resolve(args) },
  });
  const fake = RawSocket.wrap(await listener.accept());
  await fake.send(captured.on_connect);
  assertEquals(await welcomed.promise, { msg: "hello" });

  const [firstCall, secondCall] = captured.client_sends.calls as [
    string,
    Record<string, unknown>,
  ][];
  const echo = client.call(firstCall![0], firstCall![1]);
  const ab = client.call(secondCall![0], secondCall![1]);
  assertEquals(await fake.readLike(captured.client_sends.bytes), captured.client_sends.bytes);
  await fake.send(
    'OKAY{"echo": {"k": "v"}}\nFAIL{"reason": "BadInput", "message": "no such thing"}\n',
  );
  assertEquals(await echo, { echo: { k: "v" } });
  const error = await assertRejects(() => ab, RemoteError);
  assertEquals(error.toJSON(), {
    code: -32000,
    message: "no such thing",
    data: { reason: "BadInput" },
  });

  await client.close();
  fake.close();
  listener.close();
});

test("simplerpc server answers each malformed line with FAIL and keeps serving", async () => {
  const { server } = captureServer();
  const raw = await RawSocket.connect(server.addr);
  const other = await RawSocket.connect(server.addr);
  await raw.readFrame();
  await other.readFrame();
  for (
    const [line, message] of captured.malformed_lines_that_kill_the_original as [string, string][]
  ) {
    await raw.send(line);
    assertEquals(
      await raw.readFrame(),
      `FAIL{"reason": "MalformedPayload", "message": "${message}"}\n`,
      JSON.stringify(line),
    );
  }
  await raw.send('echo{"ok": true}\n');
  assertEquals(await raw.readFrame(), 'OKAY{"echo": {"ok": true}}\n');
  await other.send('echo{"other": 1}\n');
  assertEquals(await other.readFrame(), 'OKAY{"echo": {"other": 1}}\n');
  raw.close();
  other.close();
  await server.shutdown();
});

test("simplerpc server replies in request order when handlers finish out of order", async () => {
  const gate = deferred();
  let echoed = 0;
  const { server } = captureServer({}, {
    slow: () => gate.promise.then(() => ({ slow: true })),
    echo: (args) => (echoed++, { echo: args }),
  });
  const raw = await RawSocket.connect(server.addr);
  await raw.readFrame();
  await raw.send('slow{}\necho{"n": 1}\nnosuch{}\necho{"n": 2}\n');
  // Both echoes have answered while `slow` still runs; nothing can leave
  // before `slow` answers; then all four, in order.
  await waitFor(() => echoed === 2, { message: "both echo handlers to run" });
  gate.resolve();
  assertEquals(await raw.readFrame(), 'OKAY{"slow": true}\n');
  assertEquals(await raw.readFrame(), 'OKAY{"echo": {"n": 1}}\n');
  assertEquals(await raw.readFrame(), "OKAY{}\n");
  assertEquals(await raw.readFrame(), 'OKAY{"echo": {"n": 2}}\n');
  raw.close();
  await server.shutdown();
});

test("simplerpc client keeps replies matched after a notify and a timed-out call", async () => {
  const gate = deferred();
  const { server } = captureServer({}, { slow: () => gate.promise.then(() => ({ slow: "late" })) });
  const logger = recordingLogger();
  const client = new Peer(await connect(server.addr), {
    dialect: simpleRpc,
    logger,
    handlers: { welcome: () => {} },
  });
  // A notify still gets an OKAY from the server: consumed, not matched to a call.
  await client.notify("echo", { n: 0 });
  assertEquals(await client.call("echo", { n: 1 }), { echo: { n: 1 } });
  await assertRejects(() => client.call("slow", {}, { timeout: 20 }), CallTimeout);
  gate.resolve();
  // The late OKAY for `slow` is dropped and counted; the next call gets its own.
  assertEquals(await client.call("echo", { n: 2 }), { echo: { n: 2 } });
  assertEquals(client.stats().lateReplies, 1);
  // Calls a simplerpc line cannot carry are refused before anything is sent.
  await assertRejects(() => client.call("echo", [1, 2]), TypeError, "a JSON object");
  await assertRejects(() => client.call("a{b", {}), TypeError, "cannot be a simplerpc op");
  assertEquals(await client.call("echo", { n: 3 }), { echo: { n: 3 } });
  await client.close();
  await server.shutdown();
});

test("simplerpc server refuses to call a client (clients never answer)", async () => {
  const connected = deferred<Peer>();
  const server = new Server({
    dialect: simpleRpc,
    logger: recordingLogger(),
    onConnect: (connection) => connected.resolve(connection.peer),
  }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr), {
    dialect: simpleRpc,
    logger: recordingLogger(),
  });
  const peer = await connected.promise;
  await assertRejects(() => peer.call("anything", {}), TypeError, "never answer");
  await client.close();
  await server.shutdown();
});

test("simplerpc server answers an oversize line with FAIL, closes only that connection", async () => {
  const { server } = captureServer({ maxFrameBytes: 64 });
  const big = await RawSocket.connect(server.addr);
  const small = await RawSocket.connect(server.addr);
  await big.readFrame();
  await small.readFrame();
  await big.send(`echo{"pad": "${"x".repeat(100)}"}\n`);
  assertEquals(
    await big.readToEnd(),
    'FAIL{"reason": "FrameTooLarge", "message": "Frame too large"}\n',
  );
  await small.send('echo{"fits": 1}\n');
  assertEquals(await small.readFrame(), 'OKAY{"echo": {"fits": 1}}\n');
  big.close();
  small.close();
  await server.shutdown();
});

test("simplerpc server drops half a line when the client closes, and keeps serving", async () => {
  const { server, logger } = captureServer();
  const half = await RawSocket.connect(server.addr);
  await half.readFrame();
  await half.send('echo{"never": ');
  half.close();
  const next = await RawSocket.connect(server.addr);
  await next.readFrame();
  await next.send('echo{"n": 1}\n');
  assertEquals(await next.readFrame(), 'OKAY{"echo": {"n": 1}}\n');
  next.close();
  await server.shutdown();
  assertEquals(logger.messages("warn").some((m) => m.includes("unfinished frame")), true);
});

test("simplerpc refuses a line nested too deep as MalformedPayload, and keeps serving", async () => {
  const { server } = captureServer();
  const raw = await RawSocket.connect(server.addr);
  await raw.readFrame();
  const deep = "[".repeat(5000) + "]".repeat(5000);
  await raw.send(`echo{"x": ${deep}}\n`);
  assertEquals(
    await raw.readFrame(),
    'FAIL{"reason": "MalformedPayload", "message": "JSON nested more than 512 deep for opcode: echo"}\n',
  );
  await raw.send('echo{"ok": 1}\n');
  assertEquals(await raw.readFrame(), 'OKAY{"echo": {"ok": 1}}\n');
  raw.close();
  await server.shutdown();
});
