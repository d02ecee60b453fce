// The JSON-RPC stream extension, byte for byte: what our peers send, and what
// a plain JSON-RPC 2.0 peer sees and gets, both ways, over raw TCP sockets.

import { type CallContext, JsonRpcCodec, Peer, Server, Unsupported } from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { deferred, recordingLogger, within } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

const codec = new JsonRpcCodec();

Deno.test("wire: a stream call, its items, credit and progress, as JSON-RPC text", () => {
  assertEquals(
    codec.encode({ kind: "request", id: 7, method: "ticks", params: { n: 2 }, stream: 16 }),
    [
      '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"ticks","params":{"n":2},"credit":16},"id":7}',
    ],
  );
  assertEquals(
    codec.encode({ kind: "request", id: 8, method: "work", progress: true }),
    ['{"jsonrpc":"2.0","method":"rpc.call","params":{"method":"work","progress":true},"id":8}'],
  );
  assertEquals(codec.encode({ kind: "item", id: 7, value: { t: 1 } }), [
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":7,"item":{"t":1}}}',
  ]);
  assertEquals(codec.encode({ kind: "progress", id: 8, value: 0.5 }), [
    '{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":8,"value":0.5}}',
  ]);
  assertEquals(codec.encode({ kind: "credit", id: 7, credit: 8 }), [
    '{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":7,"credit":8}}',
  ]);
  // A plain call stays exactly as it was.
  assertEquals(codec.encode({ kind: "request", id: 9, method: "ticks" }), [
    '{"jsonrpc":"2.0","method":"ticks","id":9}',
  ]);
});

Deno.test("wire: the stream messages decode back, and broken ones are refused", () => {
  for (
    const message of [
      { kind: "request", id: 7, method: "ticks", params: { n: 2 }, stream: 16 },
      { kind: "request", id: "a", method: "ticks", stream: 1 },
      { kind: "request", id: 8, method: "work", params: [1], progress: true },
      { kind: "item", id: 7, value: [1, 2] },
      { kind: "progress", id: "x", value: null },
      { kind: "credit", id: 7, credit: 3 },
    ] as const
  ) {
    assertEquals(codec.decode(codec.encode(message)[0]!), message);
  }
  const refused = (frame: string) => {
    const m = codec.decode(frame) as { kind: string; id: unknown; answer: boolean };
    return [m.kind, m.id, m.answer];
  };
  // A broken wrapper is answered; broken notifications are logged only.
  assertEquals(refused('{"jsonrpc":"2.0","method":"rpc.stream","params":{"credit":2},"id":1}'), [
    "invalid",
    1,
    true,
  ]);
  assertEquals(
    refused('{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"t","credit":0},"id":2}'),
    ["invalid", 2, true],
  );
  assertEquals(
    refused(
      '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"t","params":3,"credit":1},"id":3}',
    ),
    ["invalid", 3, true],
  );
  assertEquals(refused('{"jsonrpc":"2.0","method":"rpc.item","params":{"item":1}}'), [
    "invalid",
    null,
    false,
  ]);
  assertEquals(refused('{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":1,"credit":-1}}'), [
    "invalid",
    null,
    false,
  ]);
  // Other rpc. notifications stay plain notifications.
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"rpc.other"}'), {
    kind: "notification",
    method: "rpc.other",
  });
});

/** A fake JSON-RPC server on a raw socket: the test plays it. */
function rawServer(): { addr: string; accept(): Promise<RawSocket>; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    addr: `tcp://127.0.0.1:${listener.addr.port}`,
    accept: async () => RawSocket.wrap(await listener.accept()),
    close: () => listener.close(),
  };
}

Deno.test("wire: our caller's exact bytes: rpc.stream, then rpc.credit as the reader takes items", async () => {
  const fake = rawServer();
  const client = new Peer(await connect(fake.addr), { logger: recordingLogger() });
  const raw = await fake.accept();
  const items = client.stream<number>("ticks", { n: 1 }, { credit: 2 });
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"ticks","params":{"n":1},"credit":2},"id":1}\n',
  );
  await raw.send(
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":1,"item":10}}\n' +
      '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":1,"item":11}}\n',
  );
  assertEquals(await items.next(), { done: false, value: 10 });
  // Half the window (one item) was taken: one more credit.
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":1,"credit":1}}\n',
  );
  assertEquals(await items.next(), { done: false, value: 11 });
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":1,"credit":1}}\n',
  );
  await raw.send('{"jsonrpc":"2.0","result":"the end","id":1}\n');
  assertEquals(await items.next(), { done: true, value: "the end" });
  // Leaving a loop early cancels the call with the existing rpc.cancel.
  const more = client.stream("ticks");
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"ticks","credit":256},"id":2}\n',
  );
  await more.return();
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":2}}\n',
  );
  await client.close();
  raw.close();
  fake.close();
});

Deno.test("wire: a plain JSON-RPC server answers rpc.stream -32601: the caller gets Unsupported", async () => {
  const fake = rawServer();
  const client = new Peer(await connect(fake.addr), { logger: recordingLogger() });
  const raw = await fake.accept();
  const items = client.stream("ticks");
  await raw.readFrame();
  await raw.send(
    '{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}\n',
  );
  const error = await assertRejects(() => items.next(), Unsupported);
  assertEquals(error.feature, "streams");
  assertEquals(
    error.message,
    "the remote side cannot carry streams: it answered rpc.stream for 'ticks' with -32601 Method not found",
  );
  // A progress call to it: the wrapper is refused the same way, never run as a plain call.
  const call = client.call("work", undefined, { onProgress: () => {} });
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.call","params":{"method":"work","progress":true},"id":2}\n',
  );
  await raw.send(
    '{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}\n',
  );
  assertEquals(
    (await assertRejects(() => call, Unsupported)).message,
    "the remote side cannot carry progress: it answered rpc.call for 'work' with -32601 Method not found",
  );
  await client.close();
  raw.close();
  fake.close();
});

/** Our server, with a stream method whose pulls and end the test watches. */
function ourServer() {
  const seen = { pulls: 0, finally: deferred<void>() };
  const logger = recordingLogger();
  const server = new Server({
    logger,
    handlers: {
      async *ticks() {
        try {
          for (let i = 1;; i++) {
            seen.pulls++;
            yield i;
          }
        } finally {
          seen.finally.resolve();
        }
      },
      pulls: () => seen.pulls,
      work: async (_params: unknown, ctx: CallContext) => {
        await ctx.progress(50);
        return "done";
      },
    },
  }).serve(listen("tcp://127.0.0.1:0", { logger }));
  return { server, seen };
}

Deno.test("wire: a plain client calling our stream method gets a clear -32600", async () => {
  const { server } = ourServer();
  const raw = await RawSocket.connect(server.addr);
  await raw.send('{"jsonrpc":"2.0","method":"ticks","id":1}\n');
  assertEquals(
    await raw.readFrame(),
    `{"jsonrpc":"2.0","error":{"code":-32600,"message":"'ticks' streams: call it as a stream ` +
      `(JSON-RPC: wrapped in rpc.stream; see the README, \\"Streams and progress\\")"},"id":1}\n`,
  );
  raw.close();
  await server.shutdown();
});

Deno.test("wire: a plain client never gets progress it did not ask for", async () => {
  const { server } = ourServer();
  const raw = await RawSocket.connect(server.addr);
  await raw.send('{"jsonrpc":"2.0","method":"work","id":1}\n');
  assertEquals(await raw.readFrame(), '{"jsonrpc":"2.0","result":"done","id":1}\n');
  // Asked for with rpc.call, it comes before the result.
  await raw.send(
    '{"jsonrpc":"2.0","method":"rpc.call","params":{"method":"work","progress":true},"id":2}\n',
  );
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":2,"value":50}}\n',
  );
  assertEquals(await raw.readFrame(), '{"jsonrpc":"2.0","result":"done","id":2}\n');
  raw.close();
  await server.shutdown();
});

Deno.test("wire: our server sends no more items than the credit, and stops on rpc.cancel", async () => {
  const { server, seen } = ourServer();
  const raw = await RawSocket.connect(server.addr);
  await raw.send(
    '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"ticks","credit":2},"id":"s"}\n',
  );
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":"s","item":1}}\n',
  );
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":"s","item":2}}\n',
  );
  // Out of credit: the next frame is the answer to this call, and the
  // handler's next() was called three times (one item ahead, held).
  await raw.send('{"jsonrpc":"2.0","method":"pulls","id":1}\n');
  assertEquals(await raw.readFrame(), '{"jsonrpc":"2.0","result":3,"id":1}\n');
  await raw.send('{"jsonrpc":"2.0","method":"rpc.credit","params":{"id":"s","credit":1}}\n');
  assertEquals(
    await raw.readFrame(),
    '{"jsonrpc":"2.0","method":"rpc.item","params":{"id":"s","item":3}}\n',
  );
  await raw.send('{"jsonrpc":"2.0","method":"pulls","id":2}\n');
  assertEquals(await raw.readFrame(), '{"jsonrpc":"2.0","result":4,"id":2}\n');
  await raw.send('{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":"s"}}\n');
  await within(seen.finally.promise, 5000, "the handler's finally");
  // A cancelled stream gets no reply: the next frame answers the next call.
  await raw.send('{"jsonrpc":"2.0","method":"pulls","id":3}\n');
  assertEquals(await raw.readFrame(), '{"jsonrpc":"2.0","result":4,"id":3}\n');
  raw.close();
  await server.shutdown();
});
