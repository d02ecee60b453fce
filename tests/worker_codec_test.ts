// The structured-clone codec (JSON-RPC 2.0 as objects) and what
// `transfer: true` picks to transfer.

import { assertEquals, assertStrictEquals } from "@std/assert";
import { JsonRpcCodec, type Message } from "../mod.ts";
import { StructuredCloneCodec } from "../transports/worker.ts";
import { transferables } from "../transports/worker/_transfer.ts";

const codec = new StructuredCloneCodec();

Deno.test("The structured-clone codec writes each kind as the object JSON-RPC writes as text", () => {
  const bytes = new Uint8Array([1, 2]);
  const cases: [Message, unknown][] = [
    [{ kind: "request", id: 1, method: "m" }, { jsonrpc: "2.0", method: "m", id: 1 }],
    [
      { kind: "request", id: "x", method: "m", params: [bytes] },
      { jsonrpc: "2.0", method: "m", params: [bytes], id: "x" },
    ],
    [{ kind: "notification", method: "n" }, { jsonrpc: "2.0", method: "n" }],
    [{ kind: "result", id: 2, result: undefined }, { jsonrpc: "2.0", result: null, id: 2 }],
    [
      { kind: "error", id: null, error: { code: -32600, message: "Invalid Request" } },
      { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id: null },
    ],
    [
      { kind: "cancel", id: 7 },
      { jsonrpc: "2.0", method: "rpc.cancel", params: { id: 7 } },
    ],
  ];
  const text = new JsonRpcCodec();
  for (const [message, frame] of cases) {
    assertEquals(codec.encode(message), [frame]);
    if (message.kind === "request" && message.params !== undefined) continue; // bytes: no JSON form
    // The same message as the JSON-RPC codec's text, parsed.
    assertEquals(codec.encode(message)[0], JSON.parse(text.encode(message)[0]!));
  }
  const invalid: Message = {
    kind: "invalid",
    id: null,
    error: { code: -32700, message: "Parse error" },
    answer: true,
  };
  assertEquals(codec.encode(invalid), []);
  assertStrictEquals(codec.encode({ kind: "result", id: 1, result: bytes })[0]!.result, bytes); // not copied
});

Deno.test("The structured-clone codec reads what the JSON-RPC codec reads, and values JSON has not", () => {
  const text = new JsonRpcCodec();
  const frames = [
    '{"jsonrpc":"2.0","method":"m","params":[1],"id":1}',
    '{"jsonrpc":"2.0","method":"m","params":"x","id":1}',
    '[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","result":1,"id":3}]',
    "[]",
    '{"jsonrpc":"2.0","result":1}',
    '{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":4}}',
  ];
  for (const frame of frames) assertEquals(codec.decode(JSON.parse(frame)), text.decode(frame));
  const when = new Date(0);
  assertEquals(codec.decode({ jsonrpc: "2.0", result: new Map([[1, when]]), id: 9 }), {
    kind: "result",
    id: 9,
    result: new Map([[1, when]]),
  });
  assertEquals((codec.decode({ jsonrpc: "2.0", method: "m", id: 10n }) as Message).kind, "invalid");
  assertEquals((codec.decode(undefined) as Message).kind, "invalid");
  const batch = codec.encodeBatch([
    { kind: "result", id: 1, result: 1 },
    { kind: "lost", id: 2, reason: { code: "remote", message: "gone" } },
  ]);
  assertEquals(batch, [[{ jsonrpc: "2.0", result: 1, id: 1 }]]);
});

Deno.test("transfer: true picks every ArrayBuffer once, under views, arrays, objects, maps and sets", () => {
  const a = new ArrayBuffer(4);
  const b = new Uint8Array(8);
  const c = new DataView(new ArrayBuffer(2));
  const d = new ArrayBuffer(1);
  const shared = new Uint8Array(new SharedArrayBuffer(4));
  const found = transferables([
    a,
    { b, again: new Uint16Array(b.buffer) },
    new Map([[c, 1]]),
    new Set([d]),
    shared,
  ]);
  assertEquals(found, [a, b.buffer, c.buffer, d]);
  assertEquals(transferables({ n: 1, s: "x", date: new Date() }), []);
  assertEquals(transferables(null), []);
  const cycle: unknown[] = [];
  cycle.push(cycle, a);
  assertEquals(transferables(cycle), [a]);
  // A value that shares one object at every level is walked once per object, not 2^60 times.
  let dag: Record<string, unknown> = { a };
  for (let i = 0; i < 60; i++) dag = { left: dag, right: dag };
  assertEquals(transferables(dag), [a]);
});
