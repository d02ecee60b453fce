// The rpc command and JSON-RPC over HTTP POST: http:// URLs speak it by
// default (serve, call, notify, describe); watch is refused (no pushes).

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { rpc, serve } from "./_cli.ts";
import { test } from "./_helpers.ts";

test("rpc serve http://.../rpc serves the demo API over HTTP POST; rpc call, notify and describe reach it", async () => {
  const server = await serve("http://127.0.0.1:0/rpc");
  assertMatch(server.url, /^http:\/\/127\.0\.0\.1:\d+\/rpc$/);
  try {
    assertEquals(await rpc("call", server.url, "add", '{"a": 1, "b": 2}'), {
      code: 0,
      stdout: "3\n",
      stderr: "",
    });
    // What curl sends: one POST, one JSON-RPC reply.
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}',
    });
    assertEquals(await response.json(), { jsonrpc: "2.0", result: [1], id: 1 });
    assertEquals((await rpc("notify", server.url, "log", '{"line": "over http"}')).code, 0);
    const failed = await rpc("call", server.url, "fail", '{"message": "nope"}');
    assertEquals([failed.code, failed.stderr], [1, "error -32000: nope\n"]);
    assertEquals(JSON.parse((await rpc("describe", server.url)).stdout).info.title, "demo");
    const watch = await rpc("watch", server.url, "ticks", '{"count": 1}');
    assertEquals(watch.code, 2);
    assertStringIncludes(watch.stderr, "cannot carry");
    const simple = await rpc("call", server.url, "add", "{}", "--dialect", "simplerpc");
    assertEquals(simple.code, 2);
    assertStringIncludes(simple.stderr, "--dialect mushroom");
  } finally {
    const stopped = await server.stop();
    assertEquals(stopped.code, 0);
    assertStringIncludes(stopped.stderr, "over http");
  }
});

test("rpc call http:// to a port nobody serves exits 2 and says no answer came", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const run = await rpc("call", `http://127.0.0.1:${port}/rpc`, "add");
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "no answer from");
});
