// JSON-RPC over HTTP (@seed/rpc/http): the status table, batches and
// notifications, client batching, cancellation, and server -> client refused.

import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { NotDelivered, Peer, Server } from "../mod.ts";
import { connect, HttpError, httpHandler, listen } from "../transports/http.ts";
import { deferred, recordingLogger, test, within } from "./_helpers.ts";
import { post, RawHttp } from "./_http_raw.ts";

const JSON_HEADERS = { "content-type": "application/json" };

function calculator(): Server {
  return new Server({
    logger: recordingLogger(),
    handlers: {
      add: ([a, b]: number[]) => a + b,
      note: () => {},
      fail: () => {
        throw new Error("no");
      },
    },
  });
}

async function postJson(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { ...JSON_HEADERS, ...headers },
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** A `fetch` that counts the POSTs and keeps their bodies. */
function countingFetch(): { fetch: typeof fetch; bodies: string[] } {
  const bodies: string[] = [];
  return {
    bodies,
    fetch: (input, init) => {
      bodies.push(String(init?.body));
      return fetch(input, init);
    },
  };
}

test("a POST of one call is answered 200 with its reply", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const answer = await postJson(
    server.addr,
    '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}',
  );
  assertEquals(answer.status, 200);
  assertEquals(answer.headers.get("content-type"), "application/json");
  assertEquals(JSON.parse(answer.body), { jsonrpc: "2.0", result: 3, id: 7 });
  await server.shutdown();
});

test("a batch is answered with an array of its replies, notifications left out", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const answer = await postJson(
    server.addr,
    '[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"note"},' +
      '{"jsonrpc":"2.0","method":"nope","id":2},5]',
  );
  assertEquals(answer.status, 200);
  const replies = JSON.parse(answer.body);
  assertEquals(replies.length, 3);
  assertEquals(replies[0], { jsonrpc: "2.0", result: 3, id: 1 });
  assertEquals(replies[1].error.code, -32601);
  assertEquals([replies[2].error.code, replies[2].id], [-32600, null]);
  await server.shutdown();
});

test("notifications only, alone or in a batch, are answered 204 with no body", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  for (const body of ['{"jsonrpc":"2.0","method":"note"}', '[{"jsonrpc":"2.0","method":"note"}]']) {
    const answer = await postJson(server.addr, body);
    assertEquals([answer.status, answer.body], [204, ""]);
  }
  await server.shutdown();
});

test("the status table: 400 for junk, 405 for GET, 415, 404, and 413 before the body is read", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc", { maxBodyBytes: 1000 }));
  const junk = await postJson(server.addr, "{nope");
  assertEquals(junk.status, 400);
  assertEquals(JSON.parse(junk.body).error.code, -32700);
  for (const body of ["[]", "42", '{"jsonrpc":"2.0","result":1,"id":1}']) {
    const answer = await postJson(server.addr, body);
    assertEquals([answer.status, JSON.parse(answer.body).error.code], [400, -32600], body);
  }
  const get = await fetch(server.addr);
  assertEquals([get.status, get.headers.get("allow")], [405, "POST"]);
  await get.body?.cancel();
  const text = await fetch(server.addr, {
    method: "POST",
    body: "{}",
    headers: { "content-type": "text/plain" },
  });
  assertEquals(text.status, 415);
  await text.body?.cancel();
  const elsewhere = await postJson(server.addr.replace("/rpc", "/other"), "{}");
  assertEquals(elsewhere.status, 404);
  // A Content-Length over the limit, and no body sent at all: answered at once.
  const raw = await RawHttp.open(server.addr);
  await raw.send(
    post(server.addr, "", "Content-Type: application/json\r\n").replace(
      "Content-Length: 0",
      "Content-Length: 5000",
    ),
  );
  assertEquals((await raw.response(5000)).status, 413);
  raw.close();
  await raw.done();
  const big = await postJson(
    server.addr,
    JSON.stringify({ jsonrpc: "2.0", method: "note", params: ["x".repeat(2000)] }),
  );
  assertEquals(big.status, 413);
  await server.shutdown();
});

test("authorize answers 401 or its own 403 before the body is read", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc", {
    authorize: (request) => {
      const auth = request.headers.get("authorization");
      if (auth === "Bearer banned") return new Response("banned", { status: 403 });
      return auth === "Bearer ok";
    },
  }));
  const call = '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}';
  assertEquals((await postJson(server.addr, call)).status, 401);
  assertEquals((await postJson(server.addr, call, { authorization: "Bearer banned" })).status, 403);
  assertEquals((await postJson(server.addr, call, { authorization: "Bearer ok" })).status, 200);
  const refused = new Peer(await connect(server.addr));
  const error = await assertRejects(() => refused.call("add", [1, 2]), HttpError);
  assertEquals(error.status, 401);
  assertMatch(error.message, /wants credentials/);
  await refused.close();
  const client = new Peer(await connect(server.addr, { headers: { authorization: "Bearer ok" } }));
  assertEquals(await client.call("add", [1, 2]), 3);
  await client.close();
  await server.shutdown();
});

test("origins: same origin by default; a listed origin gets CORS and its preflight", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc", {
    origins: ["http://app.example"],
  }));
  const call = '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}';
  const allowed = await postJson(server.addr, call, { origin: "http://app.example" });
  assertEquals([allowed.status, allowed.headers.get("access-control-allow-origin")], [
    200,
    "http://app.example",
  ]);
  assertEquals((await postJson(server.addr, call, { origin: "http://evil.example" })).status, 403);
  const preflight = await fetch(server.addr, {
    method: "OPTIONS",
    headers: { origin: "http://app.example", "access-control-request-headers": "content-type" },
  });
  assertEquals(preflight.status, 204);
  assertEquals(preflight.headers.get("access-control-allow-methods"), "POST");
  const evil = await fetch(server.addr, {
    method: "OPTIONS",
    headers: { origin: "http://evil.example" },
  });
  assertEquals(evil.status, 403);
  await evil.body?.cancel();
  await server.shutdown();
  const plain = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  assertEquals((await postJson(plain.addr, call, { origin: "http://app.example" })).status, 403);
  assertEquals(
    (await postJson(plain.addr, call, { origin: new URL(plain.addr).origin })).status,
    200,
  );
  await plain.shutdown();
});

test("httpHandler serves POSTs from your own Deno.serve", async () => {
  const server = calculator();
  const rpc = httpHandler(server, { path: "/rpc" });
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => new URL(request.url).pathname === "/rpc" ? rpc(request) : new Response("app"),
  );
  const client = new Peer(await connect(`http://127.0.0.1:${http.addr.port}/rpc`));
  assertEquals(await client.call("add", [2, 3]), 5);
  await client.notify("note");
  await client.close();
  await server.shutdown();
  await http.shutdown();
});

test("without batch, each call is one POST; with it, calls of one tick share one POST", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const single = countingFetch();
  const one = new Peer(await connect(server.addr, { fetch: single.fetch }));
  assertEquals(await Promise.all([one.call("add", [1, 1]), one.call("add", [2, 2])]), [2, 4]);
  assertEquals(single.bodies.length, 2);
  assert(single.bodies.every((body) => body.startsWith("{")));
  await one.close();
  const batched = countingFetch();
  const many = new Peer(
    await connect(server.addr, { fetch: batched.fetch, batch: { maxBatch: 3 } }),
  );
  const sums = await Promise.all([1, 2, 3, 4, 5].map((n) => many.call("add", [n, n])));
  assertEquals(sums, [2, 4, 6, 8, 10]);
  // maxBatch 3: five calls in two POSTs, of 3 and 2.
  assertEquals(batched.bodies.map((body) => JSON.parse(body).length), [3, 2]);
  await many.notify("note");
  await many.close();
  await server.shutdown();
});

test("maxDelay gathers calls made within it into one POST", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const counted = countingFetch();
  const client = new Peer(
    await connect(server.addr, { fetch: counted.fetch, batch: { maxDelay: 50 } }),
  );
  const first = client.call("add", [1, 1]);
  await Promise.resolve();
  await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
  const second = client.call("add", [2, 2]);
  assertEquals(await Promise.all([first, second]), [2, 4]);
  assertEquals(counted.bodies.length, 1);
  await client.close();
  await server.shutdown();
});

test("a notification resolves once the server answered 204, and rejects on an HTTP error", async () => {
  const heard = deferred<unknown>();
  const server = new Server({ handlers: { note: (params) => heard.resolve(params) } })
    .serve(listen("http://127.0.0.1:0/rpc", { maxBodyBytes: 100 }));
  const client = new Peer(await connect(server.addr));
  await client.notify("note", [1]);
  assertEquals(await within(heard.promise, 5000), [1]);
  const error = await assertRejects(() => client.notify("note", ["x".repeat(200)]), HttpError);
  assertEquals(error.status, 413);
  assertMatch(error.message, /maxBodyBytes/);
  await client.close();
  await server.shutdown();
});

test("a call aborted while alone in its POST aborts its fetch", async () => {
  const started = deferred();
  const finish = deferred<string>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      slow: () => {
        started.resolve();
        return finish.promise;
      },
      add: ([a, b]: number[]) => a + b,
    },
  }).serve(listen("http://127.0.0.1:0/rpc"));
  let signal: AbortSignal | undefined;
  const client = new Peer(
    await connect(server.addr, {
      fetch: (input, init) => {
        signal = init?.signal ?? undefined;
        return fetch(input, init);
      },
    }),
  );
  const controller = new AbortController();
  const call = client.call("slow", undefined, { signal: controller.signal });
  await within(started.promise, 5000);
  controller.abort();
  await assertRejects(() => call);
  assert(signal?.aborted, "the fetch was aborted");
  // The server answers the POST nobody reads any more, and goes on serving.
  finish.resolve("late");
  assertEquals(await client.call("add", [1, 2]), 3);
  await client.close();
  await server.shutdown();
});

test("a call cancelled before its batch left is taken out of it", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const counted = countingFetch();
  const client = new Peer(
    await connect(server.addr, { fetch: counted.fetch, batch: { maxDelay: 20 } }),
  );
  const controller = new AbortController();
  const gone = client.call("add", [1, 1], { signal: controller.signal });
  const kept = client.call("add", [2, 2]);
  controller.abort();
  await assertRejects(() => gone);
  assertEquals(await kept, 4);
  assertEquals(JSON.parse(counted.bodies[0]!).length, 1);
  await client.close();
  await server.shutdown();
});

test("a call times out as on any wire", async () => {
  const release = deferred<void>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: { later: () => release.promise },
  }).serve(listen("http://127.0.0.1:0/rpc"));
  const client = new Peer(await connect(server.addr));
  await assertRejects(() => client.call("later", undefined, { timeout: 100 }), Error, "timed out");
  release.resolve();
  await client.close();
  await server.shutdown();
});

test("a handler that calls or notifies its client is told HTTP cannot carry that", async () => {
  const outcome = deferred<unknown>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      push: async (_params, ctx) => {
        try {
          await ctx.peer.notify("news");
        } catch (error) {
          outcome.resolve(error);
        }
        return "done";
      },
    },
  }).serve(listen("http://127.0.0.1:0/rpc"));
  const client = new Peer(await connect(server.addr));
  assertEquals(await client.call("push"), "done");
  const error = await within(outcome.promise, 5000);
  assert(error instanceof NotDelivered);
  assertMatch((error as Error).message, /cannot carry server -> client/);
  assertEquals(await server.notify("news"), 0);
  await client.close();
  await server.shutdown();
});

test("a server shutting down answers new calls -32002 and then 503", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const addr = server.addr;
  const client = new Peer(await connect(addr));
  assertEquals(await client.call("add", [1, 1]), 2);
  await server.shutdown();
  const error = await assertRejects(() => client.call("add", [1, 1]), HttpError);
  assertEquals(error.status, 0);
  await client.close();
});

test("a body deadline is never early: 408 comes no sooner than bodyTimeout after the request", async () => {
  // Deadlines start at the shared timer's next tick, not with a clock read per POST.
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc", { bodyTimeout: 300 }));
  const raw = await RawHttp.open(server.addr);
  const head = post(server.addr, "x".repeat(50), "Content-Type: application/json\r\n");
  const sent = performance.now();
  await raw.send(head.slice(0, head.length - 40));
  assertEquals((await raw.response(5000)).status, 408);
  const waited = performance.now() - sent;
  assert(waited >= 300, `answered 408 after ${waited} ms, before bodyTimeout`);
  assert(waited < 300 + 2000, `answered 408 after ${waited} ms`);
  raw.close();
  await raw.done();
  await server.shutdown();
});

test("connect refuses a URL that is not http:// or https://", async () => {
  await assertRejects(() => connect("ws://127.0.0.1:1/rpc"), TypeError, "http://");
});

test("a body that does not arrive within bodyTimeout is answered 408", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc", { bodyTimeout: 100 }));
  const raw = await RawHttp.open(server.addr);
  const head = post(server.addr, "x".repeat(50), "Content-Type: application/json\r\n");
  await raw.send(head.slice(0, head.length - 40)); // ten bytes of fifty
  assertEquals((await raw.response(5000)).status, 408);
  raw.close();
  await raw.done();
  // The endpoint goes on serving.
  const answer = await postJson(
    server.addr,
    '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}',
  );
  assertEquals(answer.status, 200);
  await server.shutdown();
});

test("a stream call over HTTP POST is refused with a clear error; our client refuses it at once", async () => {
  const server = calculator().serve(listen("http://127.0.0.1:0/rpc"));
  const answer = await postJson(
    server.addr,
    '{"jsonrpc":"2.0","method":"rpc.stream","params":{"method":"add","params":[1,2],"credit":4},"id":8}',
  );
  assertEquals(answer.status, 200);
  assertEquals(JSON.parse(answer.body), {
    jsonrpc: "2.0",
    error: { code: -32600, message: "Invalid Request", data: "this wire cannot carry streams" },
    id: 8,
  });
  const client = new Peer(await connect(server.addr));
  let refused: unknown;
  try {
    client.stream("add", [1, 2]);
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof Error && refused.name === "Unsupported", String(refused));
  await client.close();
  await server.shutdown();
});

test("httpHandler in Deno.serve takes a body with a Content-Length and a chunked one alike, and refuses both with a BOM", async () => {
  const server = calculator();
  const handle = httpHandler(server);
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const url = `http://127.0.0.1:${http.addr.port}/`;
  const call = '{"jsonrpc":"2.0","method":"add","params":[2,3],"id":"é"}';
  const declared = await postJson(url, call);
  assertEquals([declared.status, JSON.parse(declared.body)], [
    200,
    { jsonrpc: "2.0", result: 5, id: "é" },
  ]);
  // A stream body goes out chunked, with no Content-Length.
  const chunked = await fetch(url, {
    method: "POST",
    headers: JSON_HEADERS,
    body: ReadableStream.from([new TextEncoder().encode(call)]),
  });
  assertEquals([chunked.status, await chunked.json()], [200, {
    jsonrpc: "2.0",
    result: 5,
    id: "é",
  }]);
  // A UTF-8 byte order mark is not JSON (RFC 8259 lets a parser refuse it,
  // as JSON.parse and request.json() do): a Parse error, declared or chunked.
  const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(call)]);
  for (const body of [withBom, ReadableStream.from([withBom])]) {
    const bom = await fetch(url, { method: "POST", headers: JSON_HEADERS, body });
    const answer = await bom.json();
    assertEquals([bom.status, answer.error.code, answer.error.message], [
      400,
      -32700,
      "Parse error",
    ]);
    assert(answer.error.data.includes("not valid JSON"), answer.error.data);
  }
  // Not JSON, with a declared length: the parser's message, as the codec says it.
  const junk = await postJson(url, '{"jsonrpc":');
  assertEquals(junk.status, 400);
  assertEquals(JSON.parse(junk.body).error, {
    code: -32700,
    message: "Parse error",
    data: "Unexpected end of JSON input",
  });
  await http.shutdown();
  await server.shutdown();
});

test("a batch reusing an id in flight: that entry is refused, the others answered", async () => {
  const release = deferred();
  const server = new Server({
    logger: recordingLogger(),
    handlers: { slow: async () => (await release.promise, "done") },
  });
  const http = server.serve(listen("http://127.0.0.1:0/rpc"));
  const answering = postJson(
    http.addr,
    '[{"jsonrpc":"2.0","method":"slow","id":1},{"jsonrpc":"2.0","method":"slow","id":2},' +
      '{"jsonrpc":"2.0","method":"slow","id":1}]',
  );
  // Another POST with the same id is a caller of its own: served.
  const other = postJson(http.addr, '{"jsonrpc":"2.0","method":"slow","id":1}');
  release.resolve();
  const answer = await answering;
  assertEquals(answer.status, 200);
  const replies = JSON.parse(answer.body);
  assertEquals(replies.length, 3);
  assertEquals(replies[0], { jsonrpc: "2.0", result: "done", id: 1 });
  assertEquals(replies[1], { jsonrpc: "2.0", result: "done", id: 2 });
  assertEquals(replies[2].error, {
    code: -32600,
    message: "Invalid Request",
    data: "duplicate id in flight",
  });
  assertEquals(JSON.parse((await other).body), { jsonrpc: "2.0", result: "done", id: 1 });
  await http.shutdown();
});
