// The envelope's flat object writer (nuropb.ts) against the generic Python
// json writer on random values (a fixed seed): the same bytes, or the same
// error, for every value (review24).

import { assertEquals } from "@std/assert";
import { encodeNuropbRequest } from "../transports/amqp.ts";
import { pythonJson } from "../protocol/dialects/_python_json.ts";
import { Random } from "../fuzz/_generators.ts";

/** A seeded random float in [0, 1) (the fuzzers' source), so a failure replays. */
function random(seed: number): () => number {
  const source = new Random(seed);
  return () => source.next();
}

const STRINGS = [
  "",
  "a",
  "é",
  "\u2028",
  '"',
  "\\",
  "\n\t\b\f\r",
  "\x00\x1f\x7f",
  "😀",
  "\ud800",
  "key",
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  1.5,
  1e21,
  1e-7,
  1e16,
  2 ** 53,
  -1e300,
  NaN,
  Infinity,
  -Infinity,
  5e-324,
];

function value(next: () => number, depth: number, top: boolean): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const kind = Math.floor(next() * (depth > 3 ? 8 : 14));
  switch (kind) {
    case 0:
      return pick(STRINGS) + pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return () => 1;
    case 6:
      return next() < 0.5 ? 1n : Symbol("s");
    case 7:
      return new Date(Math.floor(next() * 1e12));
    case 8:
    case 9:
    case 10: {
      const object: Record<string, unknown> = next() < 0.2 ? Object.create(null) : {};
      const size = Math.floor(next() * 5);
      for (let i = 0; i < size; i++) {
        const key = next() < 0.3 ? String(Math.floor(next() * 10)) : pick(STRINGS) + i;
        object[key] = value(next, depth + 1, false);
      }
      return object;
    }
    case 11:
      return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1, false));
    case 12: {
      const replaced = value(next, depth + 1, top);
      return { toJSON: () => replaced };
    }
    default:
      return Object.assign([1], { toJSON: () => "array's own" });
  }
}

/** The text, or the error's constructor and message. */
function outcome(write: () => string): string {
  try {
    return write();
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

/** The body of a nuropb request carrying `params`. */
function requestBody(params: unknown): string {
  return encodeNuropbRequest({
    type: "request",
    service: "svc",
    method: "m",
    params: params as Record<string, unknown>,
    correlationId: "c1",
    context: {},
    traceId: null,
    replyTo: "rq",
  }).body;
}

Deno.test("envelope json: the flat writer writes random params and contexts as the generic writer does", () => {
  const next = random(24);
  for (let i = 0; i < 5000; i++) {
    const params = value(next, 0, true);
    const ours = outcome(() => requestBody(params));
    const expected = outcome(() => {
      const member = params === undefined || typeof params === "function"
        ? ""
        : `, "params": ${params === null ? "null" : pythonJson(params)}`;
      return `{"tag": "request", "service": "svc", "method": "m"${member}, "correlation_id": "c1", "context": {}, "trace_id": null}`;
    });
    assertEquals(ours, expected, `value ${i}`);
  }
});

Deno.test("envelope json: a cycle through a nested object throws as the generic writer does", () => {
  const top: Record<string, unknown> = { a: [1] };
  (top.a as unknown[]).push({ back: top });
  const viaToJSON: Record<string, unknown> = {};
  viaToJSON.x = { toJSON: () => viaToJSON };
  for (const params of [top, viaToJSON]) {
    const expected = outcome(() => pythonJson(params));
    const ours = outcome(() => requestBody(params));
    assertEquals(ours, expected);
  }
});
