import { type InvalidMessage, jsonRpc, type Message } from "../mod.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

function invalid(id: InvalidMessage["id"], code: number, data: unknown, answer = true): Message {
  const message = code === -32700 ? "Parse error" : "Invalid Request";
  return { kind: "invalid", id, error: { code, message, data }, answer };
}

Deno.test("jsonRpc.encode() writes each kind in the spec's member order", () => {
  assertEquals(
    jsonRpc.encode({ kind: "request", id: 1, method: "add", params: { a: 1 } }),
    '{"jsonrpc":"2.0","method":"add","params":{"a":1},"id":1}',
  );
  assertEquals(
    jsonRpc.encode({ kind: "request", id: "x", method: "ping" }),
    '{"jsonrpc":"2.0","method":"ping","id":"x"}',
  );
  assertEquals(
    jsonRpc.encode({ kind: "notification", method: "log", params: ["a"] }),
    '{"jsonrpc":"2.0","method":"log","params":["a"]}',
  );
  assertEquals(
    jsonRpc.encode({ kind: "result", id: 2, result: undefined }),
    '{"jsonrpc":"2.0","result":null,"id":2}',
  );
  assertEquals(
    jsonRpc.encode({ kind: "error", id: null, error: { code: -32700, message: "Parse error" } }),
    '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}',
  );
  assertEquals(
    jsonRpc.encode({ kind: "error", id: 3, error: { code: 1, message: "m", data: { x: [1] } } }),
    '{"jsonrpc":"2.0","error":{"code":1,"message":"m","data":{"x":[1]}},"id":3}',
  );
  assertEquals(jsonRpc.encode({ kind: "heartbeat", ack: 1 }), undefined);
  assertEquals(jsonRpc.encode({ kind: "close" }), undefined);
});

Deno.test("jsonRpc.encode() throws on values JSON cannot carry", () => {
  assertThrows(
    () => jsonRpc.encode({ kind: "result", id: 1, result: 10n }),
    TypeError,
    "BigInt",
  );
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assertThrows(() => jsonRpc.encode({ kind: "result", id: 1, result: cycle }), TypeError);
});

Deno.test("jsonRpc.encodeBatch() joins replies into one array", () => {
  assertEquals(
    jsonRpc.encodeBatch([
      { kind: "result", id: 1, result: 1 },
      { kind: "heartbeat" },
      { kind: "result", id: 2, result: 2 },
    ]),
    '[{"jsonrpc":"2.0","result":1,"id":1},{"jsonrpc":"2.0","result":2,"id":2}]',
  );
});

Deno.test("jsonRpc.decode() reads requests, notifications and replies", () => {
  assertEquals(jsonRpc.decode('{"jsonrpc":"2.0","method":"m","params":[1],"id":1}'), {
    kind: "request",
    id: 1,
    method: "m",
    params: [1],
  });
  assertEquals(jsonRpc.decode('{"jsonrpc":"2.0","method":"m","id":null}'), {
    kind: "request",
    id: null,
    method: "m",
  });
  assertEquals(jsonRpc.decode('{"jsonrpc":"2.0","method":"m"}'), {
    kind: "notification",
    method: "m",
  });
  assertEquals(jsonRpc.decode('{"jsonrpc":"2.0","result":null,"id":"a"}'), {
    kind: "result",
    id: "a",
    result: null,
  });
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","error":{"code":-1,"message":"no","data":[1]},"id":5}'),
    { kind: "error", id: 5, error: { code: -1, message: "no", data: [1] } },
  );
});

Deno.test("jsonRpc.decode() answers non-JSON with a parse error", () => {
  for (const frame of ["hello", "{", '{"a":1}}', "\u0000", "[1,]", "undefined"]) {
    const decoded = jsonRpc.decode(frame) as InvalidMessage;
    assertEquals(decoded.kind, "invalid", frame);
    assertEquals(decoded.error.code, -32700, frame);
    assertEquals(decoded.id, null, frame);
    assertEquals(decoded.answer, true, frame);
  }
});

Deno.test("jsonRpc.decode() skips blank frames", () => {
  assertEquals(jsonRpc.decode(""), []);
  assertEquals(jsonRpc.decode("  \t\r"), []);
});

Deno.test("jsonRpc.decode() refuses non-objects and wrong versions", () => {
  assertEquals(jsonRpc.decode("1"), invalid(null, -32600, "not an object"));
  assertEquals(jsonRpc.decode('"x"'), invalid(null, -32600, "not an object"));
  assertEquals(jsonRpc.decode("null"), invalid(null, -32600, "not an object"));
  assertEquals(
    jsonRpc.decode('{"method":"m","id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"'),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":2.0,"method":"m","id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"'),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","id":4}'),
    invalid(4, -32600, "neither a request nor a response"),
  );
});

Deno.test("jsonRpc.decode() refuses wrong types for method, params and id", () => {
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","method":["m"],"id":1}'),
    invalid(1, -32600, "method must be a string"),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","method":null,"id":1}'),
    invalid(1, -32600, "method must be a string"),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","method":"m","params":"x","id":1}'),
    invalid(1, -32600, "params must be an array or an object"),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","method":"m","params":null,"id":1}'),
    invalid(1, -32600, "params must be an array or an object"),
  );
  const idReason = "id must be a string, null, or a finite number (a safe integer when whole)";
  for (const id of ["true", "{}", "[1]"]) {
    assertEquals(
      jsonRpc.decode(`{"jsonrpc":"2.0","method":"m","id":${id}}`),
      invalid(null, -32600, idReason),
      id,
    );
  }
});

Deno.test("jsonRpc.decode() refuses ids it could not echo back unchanged", () => {
  const idReason = "id must be a string, null, or a finite number (a safe integer when whole)";
  // 1e400 parses to Infinity; 2^53 + 1 parses to 2^53.
  for (const id of ["1e400", "-1e400", "9007199254740993", "12345678901234567890"]) {
    assertEquals(
      jsonRpc.decode(`{"jsonrpc":"2.0","method":"m","id":${id}}`),
      invalid(null, -32600, idReason),
      id,
    );
  }
  // The largest safe integer and fractions are fine.
  assertEquals(
    (jsonRpc.decode('{"jsonrpc":"2.0","method":"m","id":9007199254740991}') as Message).kind,
    "request",
  );
  assertEquals(jsonRpc.decode('{"jsonrpc":"2.0","method":"m","id":1.5}'), {
    kind: "request",
    id: 1.5,
    method: "m",
  });
  // A long string id is echoed as it is.
  const long = "x".repeat(10_000);
  assertEquals(jsonRpc.decode(`{"jsonrpc":"2.0","method":"m","id":"${long}"}`), {
    kind: "request",
    id: long,
    method: "m",
  });
});

Deno.test("jsonRpc.decode() marks broken responses as not to be answered", () => {
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","result":1}'),
    invalid(null, -32600, "response without a valid id", false),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"m"},"id":1}'),
    invalid(1, -32600, "both result and error", false),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","error":{"code":"1","message":"m"},"id":1}'),
    invalid(1, -32600, "malformed error object", false),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"2.0","error":{"code":1.5,"message":"m"},"id":1}'),
    invalid(1, -32600, "malformed error object", false),
  );
  assertEquals(
    jsonRpc.decode('{"jsonrpc":"1.0","result":1,"id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"', false),
  );
});

Deno.test("jsonRpc.decode() ignores a __proto__ member instead of following it", () => {
  const decoded = jsonRpc.decode(
    '{"jsonrpc":"2.0","method":"m","params":{"__proto__":{"polluted":true}},"id":1}',
  ) as { params: Record<string, unknown> };
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
  assertEquals(Object.getPrototypeOf(decoded.params), Object.prototype);
});

Deno.test("jsonRpc.decode() survives deep nesting", () => {
  const depth = 100_000;
  const params = "[".repeat(depth) + "]".repeat(depth);
  const decoded = jsonRpc.decode(`{"jsonrpc":"2.0","method":"m","params":${params},"id":1}`);
  assertEquals((decoded as Message).kind, "request");
  // Unbalanced deep nesting is a parse error, not a crash.
  const broken = jsonRpc.decode("[".repeat(depth)) as InvalidMessage;
  assertEquals(broken.error.code, -32700);
});

Deno.test("jsonRpc.decode() decodes each batch entry on its own", () => {
  assertEquals(
    jsonRpc.decode('[{"jsonrpc":"2.0","method":"a"},7,{"jsonrpc":"2.0","result":1,"id":2}]'),
    [
      { kind: "notification", method: "a" },
      invalid(null, -32600, "not an object"),
      { kind: "result", id: 2, result: 1 },
    ],
  );
});
