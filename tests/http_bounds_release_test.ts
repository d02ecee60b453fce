// A POST refused after it was admitted (400, 408, 413) lets go of its place
// among maxConcurrentPosts and of the body bytes it held exactly once: never
// leaked (the bound would then refuse everything), never twice (it would then
// let more in). Run on listen() and on httpHandler in someone's Deno.serve
// (review24: the server's POST became one object with callbacks).

import { assert, assertEquals } from "@std/assert";
import { Server } from "../mod.ts";
import { httpHandler, listen } from "../transports/http.ts";
import { deferred, recordingLogger, stallingServer, test, waitFor } from "./_helpers.ts";
import { chunk, post, RawHttp } from "./_http_raw.ts";

const JSON_TYPE = "Content-Type: application/json\r\n";
const BODY_TIMEOUT = 200;
const LIMITS = {
  maxConcurrentPosts: 2,
  maxPendingBodyBytes: 1000,
  maxBodyBytes: 600,
  bodyTimeout: BODY_TIMEOUT,
};

/** Sends `request` on a connection of its own; the status line's code once it came. */
async function statusOf(url: string, request: string, body?: string): Promise<number> {
  const raw = await RawHttp.open(url);
  await raw.send(request);
  if (body !== undefined) await raw.send(body);
  // A 413 in Deno.serve ends with a broken body: read the status line only.
  const text = await raw.received(/^HTTP\/1\.1 \d{3}/, 5000);
  raw.close();
  await raw.done();
  return Number(text.slice(9, 12));
}

function chunkedPost(url: string): string {
  const target = new URL(url);
  return `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n${JSON_TYPE}` +
    "Transfer-Encoding: chunked\r\n\r\n";
}

async function refusedBodies(url: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    assertEquals(await statusOf(url, post(url, "{", JSON_TYPE)), 400, "invalid JSON");
    assertEquals(
      await statusOf(url, post(url, '{"jsonrpc":"2.0","result":1,"id":1}', JSON_TYPE)),
      400,
      "a reply",
    );
    assertEquals(await statusOf(url, post(url, "[]", JSON_TYPE)), 400, "an empty batch");
    const big = post(url, "x", JSON_TYPE).replace("Content-Length: 1", "Content-Length: 5000");
    assertEquals(await statusOf(url, big), 413, "declared too large");
    assertEquals(
      await statusOf(url, chunkedPost(url) + chunk("x".repeat(700)) + "0\r\n\r\n"),
      413,
      "chunked, too large",
    );
    assertEquals(
      await statusOf(url, chunkedPost(url) + chunk("[]") + "0\r\n\r\n"),
      400,
      "chunked, an empty batch",
    );
    // A body that never all arrives: 408, not early, not much late.
    const slow = post(url, "x".repeat(500), JSON_TYPE).slice(0, -490);
    const started = performance.now();
    assertEquals(await statusOf(url, slow), 408, "a body that never ends");
    const took = performance.now() - started;
    assert(took >= BODY_TIMEOUT - 1, `408 after ${took} ms`);
    assert(took <= BODY_TIMEOUT + 250 + 250, `408 after ${took} ms (busy machine: 250 ms slack)`);
  }
}

function stall(id: number, pad: string): string {
  return JSON.stringify({ jsonrpc: "2.0", method: "stall", params: [pad], id });
}

/** After refused bodies: two stalled POSTs fill the bound, a third is 503, and room comes back. */
async function boundsHold(url: string, started: () => number, release: () => void) {
  await refusedBodies(url);
  const held = [1, 2].map((id) =>
    fetch(url, {
      method: "POST",
      body: stall(id, "p".repeat(400)),
      headers: { "content-type": "application/json" },
    })
  );
  await waitFor(() => started() >= 2, {
    timeout: 5000,
    message: "two stalled handlers started (a leaked place?)",
  });
  const third = await statusOf(url, post(url, stall(3, ""), JSON_TYPE));
  assertEquals(third, 503, "a third POST past maxConcurrentPosts (a place given back twice?)");
  release();
  for (const answer of await Promise.all(held)) {
    assertEquals(answer.status, 200);
    await answer.body?.cancel();
  }
  assertEquals(await statusOf(url, post(url, stall(4, "p".repeat(500)), JSON_TYPE)), 200);
}

function staller() {
  const release = deferred();
  return { ...stallingServer(release.promise), release: () => release.resolve() };
}

test("listen(): refused bodies give back their place and bytes exactly once", async () => {
  const { server, started, release } = staller();
  const served = server.serve(listen("http://127.0.0.1:0/rpc", LIMITS));
  try {
    await boundsHold(served.addr, started, release);
  } finally {
    release();
    await served.shutdown();
  }
});

test("httpHandler in Deno.serve: refused bodies give back their place and bytes exactly once", async () => {
  const { server, started, release } = staller();
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    httpHandler(server, { path: "/rpc", logger: recordingLogger(), ...LIMITS }),
  );
  try {
    await boundsHold(`http://127.0.0.1:${http.addr.port}/rpc`, started, release);
  } finally {
    release();
    await server.shutdown();
    await http.shutdown();
  }
});

test("a short bodyTimeout is met within +250 ms while a long one's read keeps the shared timer ticking", async () => {
  // Body deadlines share one timer, ticking at half of min(250, timeout) of
  // the read that started it: a 60 s endpoint's read starts it at 125 ms.
  const long = new Server({ logger: recordingLogger(), handlers: {} });
  const short = new Server({ logger: recordingLogger(), handlers: {} });
  const slow = long.serve(listen("http://127.0.0.1:0/rpc", { bodyTimeout: 60_000 }));
  const quick = short.serve(listen("http://127.0.0.1:0/rpc", { bodyTimeout: 100 }));
  const hanging = await RawHttp.open(slow.addr);
  try {
    await hanging.send(post(slow.addr, "x".repeat(100), JSON_TYPE).slice(0, -90));
    // The short reads come after the long one started the shared timer (its
    // head was sent first; the 408s below take longer than it takes to arrive).
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      assertEquals(
        await statusOf(quick.addr, post(quick.addr, "x".repeat(100), JSON_TYPE).slice(0, -90)),
        408,
      );
      const took = performance.now() - started;
      assert(took >= 100 - 1 && took <= 100 + 250 + 250, `408 after ${took} ms`);
    }
  } finally {
    hanging.close();
    await hanging.done();
    await slow.shutdown();
    await quick.shutdown();
  }
});
