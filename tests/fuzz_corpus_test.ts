// Every input that once crashed a server, or grew it without bound, replayed
// against a live server over loopback (tests/fixtures/fuzz; `deno task fuzz`
// writes new ones to fuzz/crashes/). After each, the server must answer a
// fresh call correctly. The amqp-* files are replayed through RabbitMQ by
// tests/amqp_fuzz_corpus_test.ts.

import { Peer, Server, silentLogger } from "../mod.ts";
import { quickRpc, quickRpcTerse } from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect, listen } from "../transports/tcp.ts";
import { targetHandlers } from "../fuzz/_target.ts";
import { assertEquals } from "./_assert.ts";

interface CorpusFile {
  dialect: "jsonrpc" | "simplerpc" | "quickrpc" | "quickrpc-terse";
  note: string;
  split?: "bytes";
  frames: ({ text: string } | { base64: string })[];
}

const DIALECTS = {
  jsonrpc: undefined,
  simplerpc: simpleRpc,
  quickrpc: quickRpc,
  "quickrpc-terse": quickRpcTerse,
};
const dir = new URL("./fixtures/fuzz/", import.meta.url);

for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
  const corpus = JSON.parse(Deno.readTextFileSync(new URL(entry.name, dir))) as CorpusFile;
  // AMQP envelopes need a broker: tests/amqp_fuzz_corpus_test.ts replays them.
  if (!(corpus.dialect in DIALECTS)) continue;
  Deno.test(`fuzz corpus ${entry.name}: ${corpus.note}`, async () => {
    const dialect = DIALECTS[corpus.dialect];
    const server = new Server({ logger: silentLogger, handlers: targetHandlers() })
      .serve(listen("tcp://127.0.0.1:0", { dialect, logger: silentLogger }));
    const { hostname, port } = new URL(server.addr);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const draining = (async () => {
      const buffer = new Uint8Array(65536);
      try {
        while ((await conn.read(buffer)) !== null) { /* drop */ }
      } catch { /* reset */ }
    })();
    const delimiter = corpus.dialect === "quickrpc" ? 0 : 10;
    const encoder = new TextEncoder();
    for (const frame of corpus.frames) {
      const bytes = "text" in frame
        ? encoder.encode(frame.text)
        : Uint8Array.from(atob(frame.base64), (c) => c.charCodeAt(0));
      const whole = new Uint8Array([...bytes, delimiter]);
      if (corpus.split === "bytes") {
        for (let i = 0; i < whole.length; i++) await conn.write(whole.subarray(i, i + 1));
      } else {
        let offset = 0;
        while (offset < whole.length) offset += await conn.write(whole.subarray(offset));
      }
    }
    await conn.closeWrite();
    await draining;
    conn.close();
    // The server still answers a fresh call correctly.
    const client = new Peer(await connect(server.addr, { dialect }), { logger: silentLogger });
    assertEquals(await client.call("add", { a: 20, b: 22 }), { sum: 42 });
    await client.close();
    await server.shutdown();
  });
}
