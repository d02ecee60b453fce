// Every example of section 7 of the JSON-RPC 2.0 specification
// (https://www.jsonrpc.org/specification#examples), sent as raw frames to a
// real Peer. Replies are compared with the spec's as JSON values. Where the
// spec shows an error without `data`, our reply adds the reason in `data`
// (the spec allows it); the test checks the spec's members exactly and the
// reason separately.

import { assertEquals } from "./_assert.ts";
import { type RawHarness, rawHarness } from "./_helpers.ts";

const updates: unknown[] = [];

function spec(): RawHarness {
  updates.length = 0;
  return rawHarness({
    subtract: (params) =>
      Array.isArray(params) ? params[0] - params[1] : params.minuend - params.subtrahend,
    update: (params) => void updates.push(params),
    sum: (params: number[]) => params.reduce((a, b) => a + b, 0),
    notify_hello: (params) => void updates.push(params),
    notify_sum: (params) => void updates.push(params),
    get_data: () => ["hello", 5],
    marker: () => "marker",
  });
}

const MARKER = '{"jsonrpc":"2.0","method":"marker","id":"m"}';
const MARKER_REPLY = { jsonrpc: "2.0", result: "marker", id: "m" };

/** Sends `frame`, then a marker call: the next reply must be the marker's. */
async function assertNoReply(h: RawHarness, frame: string): Promise<void> {
  await h.raw.send(frame);
  assertEquals(JSON.parse(await h.exchange(MARKER)), MARKER_REPLY);
}

/** Splits the `data` we add off an error reply. */
function split(reply: Record<string, unknown>): [unknown, unknown] {
  const error = { ...(reply.error as Record<string, unknown>) };
  const data = error.data;
  delete error.data;
  return [{ ...reply, error }, data];
}

Deno.test("rpc call with positional parameters", async () => {
  const h = spec();
  assertEquals(
    JSON.parse(
      await h.exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}'),
    ),
    { jsonrpc: "2.0", result: 19, id: 1 },
  );
  assertEquals(
    JSON.parse(
      await h.exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}'),
    ),
    { jsonrpc: "2.0", result: -19, id: 2 },
  );
  await h.close();
});

Deno.test("rpc call with named parameters", async () => {
  const h = spec();
  assertEquals(
    JSON.parse(
      await h.exchange(
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
      ),
    ),
    { jsonrpc: "2.0", result: 19, id: 3 },
  );
  assertEquals(
    JSON.parse(
      await h.exchange(
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
      ),
    ),
    { jsonrpc: "2.0", result: 19, id: 4 },
  );
  await h.close();
});

Deno.test("a notification gets no reply", async () => {
  const h = spec();
  await assertNoReply(h, '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}');
  await assertNoReply(h, '{"jsonrpc": "2.0", "method": "foobar"}');
  assertEquals(updates, [[1, 2, 3, 4, 5]]);
  // The unknown notification is logged, not answered.
  assertEquals(h.logger.messages("warn"), [
    "memory: notification for unknown method 'foobar' dropped",
  ]);
  await h.close();
});

Deno.test("rpc call of non-existent method", async () => {
  const h = spec();
  assertEquals(
    JSON.parse(await h.exchange('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')),
    // The spec's example has no data; data is optional, and ours names the method.
    {
      jsonrpc: "2.0",
      error: { code: -32601, message: "Method not found", data: { method: "foobar" } },
      id: "1",
    },
  );
  await h.close();
});

Deno.test("rpc call with invalid JSON", async () => {
  const h = spec();
  const reply = JSON.parse(
    await h.exchange('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]'),
  );
  const [members, data] = split(reply);
  assertEquals(members, {
    jsonrpc: "2.0",
    error: { code: -32700, message: "Parse error" },
    id: null,
  });
  assertEquals(typeof data, "string");
  await h.close();
});

Deno.test("rpc call with invalid Request object", async () => {
  const h = spec();
  const reply = JSON.parse(await h.exchange('{"jsonrpc": "2.0", "method": 1, "params": "bar"}'));
  const [members, data] = split(reply);
  assertEquals(members, {
    jsonrpc: "2.0",
    error: { code: -32600, message: "Invalid Request" },
    id: null,
  });
  assertEquals(data, "method must be a string");
  await h.close();
});

Deno.test("rpc call Batch, invalid JSON", async () => {
  const h = spec();
  const reply = JSON.parse(
    await h.exchange(`[
      {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
      {"jsonrpc": "2.0", "method"
    ]`),
  );
  const [members] = split(reply);
  assertEquals(members, {
    jsonrpc: "2.0",
    error: { code: -32700, message: "Parse error" },
    id: null,
  });
  await h.close();
});

Deno.test("rpc call with an empty Array", async () => {
  const h = spec();
  const reply = JSON.parse(await h.exchange("[]"));
  assertEquals(Array.isArray(reply), false, "a single error object, not a batch");
  const [members, data] = split(reply);
  assertEquals(members, {
    jsonrpc: "2.0",
    error: { code: -32600, message: "Invalid Request" },
    id: null,
  });
  assertEquals(data, "empty batch");
  await h.close();
});

Deno.test("rpc call with an invalid Batch (but not empty)", async () => {
  const h = spec();
  const reply = JSON.parse(await h.exchange("[1]"));
  assertEquals(reply.length, 1);
  const [members, data] = split(reply[0]);
  assertEquals(members, {
    jsonrpc: "2.0",
    error: { code: -32600, message: "Invalid Request" },
    id: null,
  });
  assertEquals(data, "not an object");
  await h.close();
});

Deno.test("rpc call with invalid Batch", async () => {
  const h = spec();
  const reply = JSON.parse(await h.exchange("[1,2,3]"));
  assertEquals(reply.map((r: Record<string, unknown>) => split(r)[0]), [
    { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id: null },
    { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id: null },
    { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id: null },
  ]);
  await h.close();
});

Deno.test("rpc call Batch", async () => {
  const h = spec();
  const reply = JSON.parse(
    await h.exchange(`[
      {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
      {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
      {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
      {"foo": "boo"},
      {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
      {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]`),
  );
  // The spec allows any order; ours keeps the order of the requests.
  assertEquals(reply.map((r: Record<string, unknown>) => r.error ? split(r)[0] : r), [
    { jsonrpc: "2.0", result: 7, id: "1" },
    { jsonrpc: "2.0", result: 19, id: "2" },
    { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id: null },
    { jsonrpc: "2.0", error: { code: -32601, message: "Method not found" }, id: "5" },
    { jsonrpc: "2.0", result: ["hello", 5], id: "9" },
  ]);
  assertEquals(updates, [[7]]);
  await h.close();
});

Deno.test("rpc call Batch (all notifications) gets no reply", async () => {
  const h = spec();
  await assertNoReply(
    h,
    `[
      {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
      {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]`,
  );
  assertEquals(updates, [[1, 2, 4], [7]]);
  await h.close();
});
