// JSON-RPC over HTTP against hostile peers: a server whose reply never
// ends or never comes, one that floods POSTs, and a DNS-rebound page.

import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { Peer } from "../mod.ts";
import { connect, HttpError } from "../transports/http.ts";
import { deferred, recordingLogger, test, within } from "./_helpers.ts";

const encoder = new TextEncoder();

/** A `Deno.serve` on loopback answering every request with `answer`. */
function hostile(answer: (request: Request) => Response | Promise<Response>) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
}

/** A 200 JSON body that never ends: what the client read, and whether it cancelled. */
function endless(): { body: ReadableStream<Uint8Array>; sent: number; cancelled: boolean } {
  const chunk = encoder.encode("[" + " ".repeat(64 * 1024));
  const state = {
    body: undefined as unknown as ReadableStream<Uint8Array>,
    sent: 0,
    cancelled: false,
  };
  state.body = new ReadableStream({
    pull(controller) {
      state.sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return state;
}

test("a reply that never ends fails its call past maxReplyBytes, and its body is cancelled", async () => {
  const reply = endless();
  const http = hostile(() =>
    new Response(reply.body, { headers: { "content-type": "application/json" } })
  );
  const client = new Peer(
    await connect(`http://127.0.0.1:${http.addr.port}/`, { maxReplyBytes: 1 << 20 }),
    { logger: recordingLogger(), timeout: 60_000 },
  );
  const error: HttpError = await within(
    assertRejects(() => client.call("x"), HttpError),
    10_000,
    "the call failing",
  );
  assertMatch(error.message, /maxReplyBytes/);
  assert(reply.sent < 8 << 20, `read ${reply.sent} bytes`);
  await client.close();
  await http.shutdown();
});

test("a reply whose Content-Length is over maxReplyBytes fails before it is read", async () => {
  const http = hostile(() =>
    new Response("[" + " ".repeat(4096) + "]", { headers: { "content-type": "application/json" } })
  );
  const client = new Peer(
    await connect(`http://127.0.0.1:${http.addr.port}/`, { maxReplyBytes: 1000 }),
    { logger: recordingLogger() },
  );
  const error = await assertRejects(() => client.call("x"), HttpError);
  assertEquals(error.status, 200);
  assertMatch(error.message, /maxReplyBytes \(1000 bytes\)/);
  await client.close();
  await http.shutdown();
});

test("a notification whose POST is never answered fails after notifyTimeout", async () => {
  const never = deferred<Response>();
  const http = hostile(() => never.promise);
  const client = new Peer(
    await connect(`http://127.0.0.1:${http.addr.port}/`, { notifyTimeout: 200 }),
    { logger: recordingLogger() },
  );
  const error: HttpError = await within(
    assertRejects(() => client.notify("hello"), HttpError),
    5_000,
    "the notification failing",
  );
  assertEquals(error.status, 0);
  assertMatch(error.message, /notifyTimeout/);
  never.resolve(new Response(null, { status: 204 }));
  await client.close();
  await http.shutdown();
});

test("an HttpError carries a cut, escaped start of a huge error body", async () => {
  const junk = "\x1b[31mred\r\nInjected: line\u202e" + "x".repeat(1 << 20);
  for (const status of [400, 500]) {
    const http = hostile(() => new Response(junk, { status }));
    const client = new Peer(await connect(`http://127.0.0.1:${http.addr.port}/`), {
      logger: recordingLogger(),
    });
    const error = await assertRejects(() => client.call("x"), HttpError);
    assertEquals(error.status, status);
    assert(error.message.length < 400, `a message of ${error.message.length} characters`);
    // deno-lint-ignore no-control-regex
    assert(!/[\x00-\x1f\u202e]/.test(error.message), error.message);
    assertMatch(error.message, /\\u001b\[31mred\\u000d\\u000aInjected/);
    await client.close();
    await http.shutdown();
  }
});
