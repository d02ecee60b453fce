import { type InvalidMessage, JsonRpcCodec, type Message } from "../mod.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

const codec = new JsonRpcCodec();

/** The frame a message encodes to (one, or none). */
function encodeOne(message: Message): string | undefined {
  const frames = codec.encode(message);
  assertEquals(frames.length <= 1, true);
  return frames[0];
}

function encodeBatchOne(messages: Message[]): string {
  const frames = codec.encodeBatch(messages);
  assertEquals(frames.length, 1);
  return frames[0]!;
}

function invalid(id: InvalidMessage["id"], code: number, data: unknown, answer = true): Message {
  const message = code === -32700 ? "Parse error" : "Invalid Request";
  return { kind: "invalid", id, error: { code, message, data }, answer };
}

Deno.test("encodeOne() writes each kind in the spec's member order", () => {
  assertEquals(
    encodeOne({ kind: "request", id: 1, method: "add", params: { a: 1 } }),
    '{"jsonrpc":"2.0","method":"add","params":{"a":1},"id":1}',
  );
  assertEquals(
    encodeOne({ kind: "request", id: "x", method: "ping" }),
    '{"jsonrpc":"2.0","method":"ping","id":"x"}',
  );
  assertEquals(
    encodeOne({ kind: "notification", method: "log", params: ["a"] }),
    '{"jsonrpc":"2.0","method":"log","params":["a"]}',
  );
  assertEquals(
    encodeOne({ kind: "result", id: 2, result: undefined }),
    '{"jsonrpc":"2.0","result":null,"id":2}',
  );
  assertEquals(
    encodeOne({ kind: "error", id: null, error: { code: -32700, message: "Parse error" } }),
    '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}',
  );
  assertEquals(
    encodeOne({ kind: "error", id: 3, error: { code: 1, message: "m", data: { x: [1] } } }),
    '{"jsonrpc":"2.0","error":{"code":1,"message":"m","data":{"x":[1]}},"id":3}',
  );
  assertEquals(
    encodeOne({ kind: "cancel", id: 4 }),
    '{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":4}}',
  );
  assertEquals(
    encodeOne({ kind: "invalid", id: 1, error: { code: 1, message: "m" }, answer: true }),
    undefined,
  );
});

Deno.test("encodeOne() writes a numeric id as String() would, for every kind of number", () => {
  // Ids are written with JSON.stringify (which keeps them out of V8's
  // number-string cache); the text must stay the one String() gives.
  for (const id of [0, -0, 7, -12, 0.5, 2 ** 53, 1e21, 1.5e-7, NaN, Infinity]) {
    assertEquals(
      encodeOne({ kind: "result", id, result: 1 }),
      `{"jsonrpc":"2.0","result":1,"id":${String(id)}}`,
    );
    assertEquals(
      encodeOne({ kind: "request", id, method: "m" }),
      `{"jsonrpc":"2.0","method":"m","id":${String(id)}}`,
    );
  }
});

Deno.test("encodeOne() throws on values JSON cannot carry", () => {
  assertThrows(
    () => encodeOne({ kind: "result", id: 1, result: 10n }),
    TypeError,
    "BigInt",
  );
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assertThrows(() => encodeOne({ kind: "result", id: 1, result: cycle }), TypeError);
});

Deno.test("encodeBatchOne() joins replies into one array", () => {
  assertEquals(
    encodeBatchOne([
      { kind: "result", id: 1, result: 1 },
      { kind: "invalid", id: null, error: { code: 1, message: "m" }, answer: false },
      { kind: "result", id: 2, result: 2 },
    ]),
    '[{"jsonrpc":"2.0","result":1,"id":1},{"jsonrpc":"2.0","result":2,"id":2}]',
  );
});

Deno.test("codec.decode() reads requests, notifications and replies", () => {
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"m","params":[1],"id":1}'), {
    kind: "request",
    id: 1,
    method: "m",
    params: [1],
  });
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"m","id":null}'), {
    kind: "request",
    id: null,
    method: "m",
  });
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"m"}'), {
    kind: "notification",
    method: "m",
  });
  assertEquals(codec.decode('{"jsonrpc":"2.0","result":null,"id":"a"}'), {
    kind: "result",
    id: "a",
    result: null,
  });
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","error":{"code":-1,"message":"no","data":[1]},"id":5}'),
    { kind: "error", id: 5, error: { code: -1, message: "no", data: [1] } },
  );
});

Deno.test("codec.decode() answers non-JSON with a parse error", () => {
  for (const frame of ["hello", "{", '{"a":1}}', "\u0000", "[1,]", "undefined"]) {
    const decoded = codec.decode(frame) as InvalidMessage;
    assertEquals(decoded.kind, "invalid", frame);
    assertEquals(decoded.error.code, -32700, frame);
    assertEquals(decoded.id, null, frame);
    assertEquals(decoded.answer, true, frame);
  }
});

Deno.test("codec.decode() skips blank frames", () => {
  assertEquals(codec.decode(""), []);
  assertEquals(codec.decode("  \t\r"), []);
});

Deno.test("codec.decode() refuses non-objects and wrong versions", () => {
  assertEquals(codec.decode("1"), invalid(null, -32600, "not an object"));
  assertEquals(codec.decode('"x"'), invalid(null, -32600, "not an object"));
  assertEquals(codec.decode("null"), invalid(null, -32600, "not an object"));
  assertEquals(
    codec.decode('{"method":"m","id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"'),
  );
  assertEquals(
    codec.decode('{"jsonrpc":2.0,"method":"m","id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"'),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","id":4}'),
    invalid(4, -32600, "neither a request nor a response"),
  );
});

Deno.test("codec.decode() refuses wrong types for method, params and id", () => {
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":["m"],"id":1}'),
    invalid(1, -32600, "method must be a string"),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":null,"id":1}'),
    invalid(1, -32600, "method must be a string"),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":"m","params":"x","id":1}'),
    invalid(1, -32600, "params must be an array or an object"),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":"m","params":null,"id":1}'),
    invalid(1, -32600, "params must be an array or an object"),
  );
  const idReason = "id must be a string, null, or a finite number (a safe integer when whole)";
  for (const id of ["true", "{}", "[1]"]) {
    assertEquals(
      codec.decode(`{"jsonrpc":"2.0","method":"m","id":${id}}`),
      invalid(null, -32600, idReason),
      id,
    );
  }
});

Deno.test("codec.decode() refuses ids it could not echo back unchanged", () => {
  const idReason = "id must be a string, null, or a finite number (a safe integer when whole)";
  // 1e400 parses to Infinity; 2^53 + 1 parses to 2^53.
  for (const id of ["1e400", "-1e400", "9007199254740993", "12345678901234567890"]) {
    assertEquals(
      codec.decode(`{"jsonrpc":"2.0","method":"m","id":${id}}`),
      invalid(null, -32600, idReason),
      id,
    );
  }
  // The largest safe integer and fractions are fine.
  assertEquals(
    (codec.decode('{"jsonrpc":"2.0","method":"m","id":9007199254740991}') as Message).kind,
    "request",
  );
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"m","id":1.5}'), {
    kind: "request",
    id: 1.5,
    method: "m",
  });
  // A long string id is echoed as it is.
  const long = "x".repeat(10_000);
  assertEquals(codec.decode(`{"jsonrpc":"2.0","method":"m","id":"${long}"}`), {
    kind: "request",
    id: long,
    method: "m",
  });
});

Deno.test("codec.decode() marks broken responses as not to be answered", () => {
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","result":1}'),
    invalid(null, -32600, "response without a valid id", false),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"m"},"id":1}'),
    invalid(1, -32600, "both result and error", false),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","error":{"code":"1","message":"m"},"id":1}'),
    invalid(1, -32600, "malformed error object", false),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","error":{"code":1.5,"message":"m"},"id":1}'),
    invalid(1, -32600, "malformed error object", false),
  );
  assertEquals(
    codec.decode('{"jsonrpc":"1.0","result":1,"id":1}'),
    invalid(1, -32600, 'jsonrpc must be exactly "2.0"', false),
  );
});

Deno.test("codec.decode() ignores a __proto__ member instead of following it", () => {
  const decoded = codec.decode(
    '{"jsonrpc":"2.0","method":"m","params":{"__proto__":{"polluted":true}},"id":1}',
  ) as { params: Record<string, unknown> };
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
  assertEquals(Object.getPrototypeOf(decoded.params), Object.prototype);
});

Deno.test("codec.decode() survives deep nesting", () => {
  const depth = 100_000;
  const params = "[".repeat(depth) + "]".repeat(depth);
  const decoded = codec.decode(`{"jsonrpc":"2.0","method":"m","params":${params},"id":1}`);
  assertEquals((decoded as Message).kind, "request");
  // Unbalanced deep nesting is a parse error, not a crash.
  const broken = codec.decode("[".repeat(depth)) as InvalidMessage;
  assertEquals(broken.error.code, -32700);
});

Deno.test("codec.decode() decodes each batch entry on its own", () => {
  assertEquals(
    codec.decode('[{"jsonrpc":"2.0","method":"a"},7,{"jsonrpc":"2.0","result":1,"id":2}]'),
    [
      { kind: "notification", method: "a" },
      invalid(null, -32600, "not an object"),
      { kind: "result", id: 2, result: 1 },
    ],
  );
});
