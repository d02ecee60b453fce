// A U+FFFD sent as text is text: frames are decoded on a fast path that
// replaces bad bytes with U+FFFD, and only a U+FFFD in the result sends the
// bytes through the strict decoder, which tells the two apart.

import { Server, silentLogger } from "../mod.ts";
import { listen } from "../transports/tcp.ts";
import { assertEquals } from "./_assert.ts";
import { RawSocket } from "./_tcp.ts";

Deno.test("tcp: a U+FFFD and a BOM sent as text arrive as themselves, beside a frame that is not UTF-8", async () => {
  const server = new Server({ logger: silentLogger, handlers: { echo: (params) => params } })
    .serve(listen("tcp://127.0.0.1:0"));
  const raw = await RawSocket.connect(server.addr);
  const encoder = new TextEncoder();
  // One read: a frame with U+FFFD and a BOM, one with bytes that are not UTF-8, one plain.
  await raw.send(
    new Uint8Array([
      ...encoder.encode('{"jsonrpc":"2.0","method":"echo","params":["\uFFFD\uFEFF é"],"id":1}\n'),
      ...encoder.encode('{"jsonrpc":"2.0","method":"echo","params":["'),
      0xc3,
      ...encoder.encode('"],"id":2}\n{"jsonrpc":"2.0","method":"echo","params":["ok"],"id":3}\n'),
    ]),
  );
  assertEquals(JSON.parse(await raw.readFrame()), {
    jsonrpc: "2.0",
    result: ["\uFFFD\uFEFF é"],
    id: 1,
  });
  const refused = JSON.parse(await raw.readFrame());
  assertEquals([refused.id, refused.error.code, refused.error.data], [
    null,
    -32700,
    "not UTF-8 text",
  ]);
  assertEquals(JSON.parse(await raw.readFrame()), { jsonrpc: "2.0", result: ["ok"], id: 3 });
  raw.close();
  await server.shutdown();
});

Deno.test("tcp: text without U+FFFD takes the fast path and arrives whole, a leading BOM kept", async () => {
  const server = new Server({ logger: silentLogger, handlers: { echo: (params) => params } })
    .serve(listen("tcp://127.0.0.1:0"));
  const raw = await RawSocket.connect(server.addr);
  await raw.send('{"jsonrpc":"2.0","method":"echo","params":["日本語 ✓"],"id":1}\n');
  assertEquals(JSON.parse(await raw.readFrame()).result, ["日本語 ✓"]);
  // A BOM at the start of a frame is not JSON: kept as text, it is a parse error.
  await raw.send("\uFEFF" + '{"jsonrpc":"2.0","method":"echo","params":[],"id":2}\n');
  assertEquals(JSON.parse(await raw.readFrame()).error.code, -32700);
  raw.close();
  await server.shutdown();
});
