// `rpc stream`: a stream method's items, one JSON line each, as a user runs it.

import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { rpc, serve } from "./_cli.ts";
import { test } from "./_helpers.ts";

const HANDLERS = new URL("./fixtures/stream_handlers.ts", import.meta.url).pathname;

test("rpc stream prints each item as one JSON line; --count cancels the stream", async () => {
  const server = await serve("tcp://127.0.0.1:0", "--handlers", HANDLERS);
  assertEquals(await rpc("stream", server.url, "countdown", '{"from": 3}'), {
    code: 0,
    stdout: "3\n2\n1\n",
    stderr: "",
  });
  assertEquals(await rpc("stream", server.url, "forever", "--count", "2", "--credit", "1"), {
    code: 0,
    stdout: '{"n":0}\n{"n":1}\n',
    stderr: "",
  });
  const failed = await rpc("stream", server.url, "failing");
  assertEquals([failed.code, failed.stdout], [1, "1\n"]);
  assertStringIncludes(failed.stderr, "sensor lost");
  const plain = await rpc("call", server.url, "countdown", '{"from": 1}');
  assertEquals(plain.code, 1);
  assertStringIncludes(plain.stderr, "'countdown' streams: call it as a stream");
  await server.stop();
});

test("rpc stream over a dialect without streams fails at once, saying so", async () => {
  const server = await serve("tcp://127.0.0.1:0", "--dialect", "simplerpc");
  const run = await rpc("stream", server.url, "echo", "{}", "--dialect", "simplerpc");
  assertEquals([run.code, run.stdout], [2, ""]);
  assertStringIncludes(run.stderr, "simplerpc cannot carry streams");
  await server.stop();
});
