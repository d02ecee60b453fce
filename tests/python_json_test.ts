// tests/fixtures/python_json.json holds values and the text CPython 3.11's
// json.dumps (default settings) wrote for each; our encoder must write the
// same bytes. Integer-valued floats (1e16) are left out: JavaScript cannot
// tell them from integers, and writes them as integers.

import { pythonJson, pythonNumber } from "../protocol/dialects/_python_json.ts";
import { assertEquals, assertThrows } from "./_assert.ts";
import fixtures from "./fixtures/python_json.json" with { type: "json" };
import { test } from "./_helpers.ts";

const SPECIAL: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

test("pythonJson() writes what CPython's json.dumps writes", () => {
  for (const fixture of fixtures as { input?: unknown; special?: string; python: string }[]) {
    const value = fixture.special !== undefined ? SPECIAL[fixture.special] : fixture.input;
    assertEquals(pythonJson(value), fixture.python, JSON.stringify(fixture));
  }
});

test("pythonJson() leaves out undefined members, honours toJSON, refuses cycles", () => {
  assertEquals(pythonJson({ a: undefined, b: 1, c: [undefined] }), '{"b": 1, "c": [null]}');
  assertEquals(pythonJson({ at: new Date(0) }), '{"at": "1970-01-01T00:00:00.000Z"}');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assertThrows(() => pythonJson(cycle), TypeError, "circular");
  assertThrows(() => pythonJson({ n: 1n }), TypeError, "BigInt");
  assertEquals(pythonNumber(-0), "0");
});

test("pythonJson() applies a hook to values JSON cannot carry", () => {
  const hook = (v: unknown) =>
    v instanceof Uint8Array ? { __bytes: btoa(String.fromCharCode(...v)) } : v;
  assertEquals(pythonJson({ b: new Uint8Array([0, 1, 2]) }, hook), '{"b": {"__bytes": "AAEC"}}');
});
