// The same bad input for every dialect, on real loopback sockets: an
// oversize frame, half a frame then close, and a client that never reads.
// Whatever one connection does, the server keeps serving the others.

import { type CloseReason, type Dialect, jsonRpc, Peer, Server } from "../mod.ts";
import { quickRpc } from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen, type TcpOptions } from "../transports/tcp.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { deferred, recordingLogger, test } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";

interface Case {
  name: string;
  dialect: Dialect;
  /** A request line for `big` (a reply of `size` bytes), without the delimiter. */
  bigRequest: (id: number, size: number) => string;
  /** What an oversize frame is answered with before the close ("" when the dialect cannot answer). */
  oversizeReply: string;
}

const CASES: Case[] = [
  {
    name: "jsonrpc",
    dialect: jsonRpc,
    bigRequest: (id, size) =>
      `{"jsonrpc":"2.0","method":"big","params":{"size":${size}},"id":${id}}`,
    oversizeReply:
      '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Frame too large","data":"limit 256 bytes"},"id":null}\n',
  },
  {
    name: "simplerpc",
    dialect: simpleRpc,
    bigRequest: (_id, size) => `big{"size": ${size}}`,
    oversizeReply: 'FAIL{"reason": "FrameTooLarge", "message": "Frame too large"}\n',
  },
  {
    name: "quickrpc",
    dialect: quickRpc,
    bigRequest: (id, size) =>
      `{"jsonrpc": "2.0", "method": "big", "params": {"size": ${size}}, "id": ${id}}`,
    // A quickrpc error needs the id of the call, which an unread frame has not.
    oversizeReply: "",
  },
];

function start(c: Case, tcp: TcpOptions, onDisconnect?: (reason: CloseReason) => void) {
  const logger = recordingLogger();
  const server = new Server({
    logger,
    peer: { maxConcurrentHandlers: 4 },
    handlers: {
      big: ({ size }) => ({ data: "x".repeat(size) }),
      add: ({ a, b }) => ({ sum: a + b }),
    },
    onDisconnect: (_connection, reason) => onDisconnect?.(reason),
  }).serve(listen("tcp://127.0.0.1:0", { dialect: c.dialect, logger, ...tcp }));
  return { server, logger };
}

async function politeClient(c: Case, addr: string): Promise<Peer> {
  return new Peer(await connect(addr, { dialect: c.dialect }), { logger: recordingLogger() });
}

for (const c of CASES) {
  test(`${c.name}: an oversize frame is answered where the dialect can, and closes that connection only`, async () => {
    const { server, logger } = start(c, { maxFrameBytes: 256 });
    const polite = await politeClient(c, server.addr);
    const big = await RawSocket.connect(server.addr);
    await big.send(
      c.bigRequest(1, 1).replace("1}", `1, "pad": "${"x".repeat(400)}"}`) + c.dialect.delimiter,
    );
    assertEquals(await big.readToEnd(), c.oversizeReply);
    assertEquals(await polite.call("add", { a: 1, b: 2 }), { sum: 3 });
    assert(logger.messages("warn").some((m) => m.includes("Frame larger than 256 bytes")));
    big.close();
    await polite.close();
    await server.shutdown();
  });

  test(`${c.name}: half a frame then close is dropped and logged; others are served`, async () => {
    const { server, logger } = start(c, {});
    const half = await RawSocket.connect(server.addr);
    await half.send(c.bigRequest(1, 1).slice(0, 12));
    half.close();
    const polite = await politeClient(c, server.addr);
    assertEquals(await polite.call("add", { a: 2, b: 2 }), { sum: 4 });
    await polite.close();
    await server.shutdown();
    assert(
      logger.messages("warn").some((m) =>
        m.endsWith("bytes of an unfinished frame at the end of the stream")
      ),
    );
  });

  test(`${c.name}: a client that never reads is cut off; others are served`, async () => {
    const gone = deferred<string>();
    const { server } = start(c, { writeHighWaterMark: 32 * 1024, writeTimeout: 200 }, (reason) => {
      if (reason.code === "write-timeout") gone.resolve(reason.message);
    });
    const greedy = await RawSocket.connect(server.addr);
    const requests = Array.from(
      { length: 500 },
      (_, i) => c.bigRequest(i + 1, 16384) + c.dialect.delimiter,
    )
      .join("");
    const sending = greedy.send(requests).catch(() => {});
    const polite = await politeClient(c, server.addr);
    assertEquals(await polite.call("add", { a: 3, b: 4 }), { sum: 7 });
    assertStringIncludes(await gone.promise, "read nothing for 200 ms");
    assertEquals(await polite.call("add", { a: 5, b: 6 }), { sum: 11 });
    await sending;
    greedy.close();
    await polite.close();
    await server.shutdown();
  });
}
