// The envelope writes its params, context, result and error with a writer of
// its own for flat objects (nuropb.ts): the bytes must stay those of the
// generic Python json writer, whatever the value, and so must its errors.

import { assertEquals, assertThrows } from "@std/assert";
import { encodeNuropbRequest, encodeNuropbResponse } from "../transports/amqp.ts";
import { pythonJson } from "../protocol/dialects/_python_json.ts";

/** A request whose params and context are `value`; the body as Python would write it. */
function bodies(value: unknown): { ours: string; python: string } {
  const ours = encodeNuropbRequest({
    type: "request",
    service: "svc",
    method: "m",
    params: value,
    correlationId: "c1",
    context: value,
    traceId: null,
    replyTo: "nuropb-x-client-1-rq",
  }).body;
  const python = `{"tag": "request", "service": "svc", "method": "m", "params": ${
    pythonJson(value)
  }, "correlation_id": "c1", "context": ${pythonJson(value)}, "trace_id": null}`;
  return { ours, python };
}

Deno.test("envelope params and context are written byte for byte as Python's json.dumps writes them", () => {
  const withGetter = {};
  Object.defineProperty(withGetter, "g", { get: () => 7, enumerable: true });
  Object.defineProperty(withGetter, "hidden", { value: 1, enumerable: false });
  const values: unknown[] = [
    {},
    { a: 1, b: 2 },
    { a: 1.5, b: -0, c: 1e-7, d: 1e16, e: NaN, f: Infinity, g: -Infinity, h: 2 ** 70 },
    { s: 'é\u2028"\\\n\t😀', "ключ": true, "": false, n: null },
    { skipped: undefined, f: () => 1, kept: "x" },
    { 2: "two", 1: "one", b: "b", a: "a" },
    { nested: { deep: [1, { x: null }], empty: {} }, list: [] },
    { date: new Date(0) },
    { bytes: new Uint8Array([1, 2]) },
    [1, "two", { three: 3 }],
    new Date(86_400_000),
    { toJSON: () => ({ replaced: true }) },
    new Map([["k", "v"]]),
    withGetter,
    Object.assign(Object.create(null), { bare: 1 }),
  ];
  for (const value of values) {
    const { ours, python } = bodies(value);
    assertEquals(ours, python);
  }
});

Deno.test("envelope results and errors are written as Python's json.dumps writes them", () => {
  for (const result of [3, "s", null, {}, { a: [1, 2], b: { c: "d" } }, [{}], true]) {
    const body = encodeNuropbResponse({
      result,
      error: null,
      correlationId: "c9",
      traceId: "t",
      context: { user: "u1", n: 1 },
      replyTo: "rq",
    }).body;
    assertEquals(
      body,
      `{"tag": "response", "result": ${
        pythonJson(result)
      }, "error": null, "correlation_id": "c9", "trace_id": "t", "context": {"user": "u1", "n": 1}, "warning": null, "reply_to": "rq"}`,
    );
  }
  const error = encodeNuropbResponse({
    result: null,
    error: { error: "NuropbException", description: "kaboom ü" },
    correlationId: "c9",
    traceId: null,
    context: {},
    replyTo: "rq",
  }).body;
  assertEquals(
    error,
    '{"tag": "response", "correlation_id": "c9", "context": {}, "trace_id": null, "result": null, "error": {"error": "NuropbException", "description": "kaboom \\u00fc"}, "warning": null, "reply_to": "rq"}',
  );
});

Deno.test("envelope params that JSON cannot carry throw as the generic writer does", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const deeper: Record<string, unknown> = { a: 1 };
  deeper.inner = { back: deeper };
  for (const value of [{ big: 1n }, { sym: Symbol("s") }, cyclic, deeper]) {
    const expected = assertThrows(() => pythonJson(value), TypeError);
    const error = assertThrows(() => bodies(value).ours, TypeError);
    assertEquals(error.message, expected.message);
  }
});
