// Compile-time tests of Infer: `deno check` fails if a type is wrong.

import type { Infer } from "../contract.ts";
import { SchemaCompiler } from "../contract.ts";
import { assertEquals, assertThrows } from "./_assert.ts";
import { test } from "./_helpers.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function assertType<_T extends true>(): void {}

test("Infer maps primitive types", () => {
  assertType<Equal<Infer<{ type: "string" }>, string>>();
  assertType<Equal<Infer<{ type: "integer" }>, number>>();
  assertType<Equal<Infer<{ type: "number" }>, number>>();
  assertType<Equal<Infer<{ type: "boolean" }>, boolean>>();
  assertType<Equal<Infer<{ type: "null" }>, null>>();
  assertType<Equal<Infer<{ type: readonly ["string", "null"] }>, string | null>>();
  assertType<Equal<Infer<true>, unknown>>();
  assertType<Equal<Infer<false>, never>>();
  assertType<Equal<Infer<{ description: "anything" }>, unknown>>();
});

test("Infer maps const, enum, anyOf, oneOf and allOf", () => {
  assertType<Equal<Infer<{ const: "pong" }>, "pong">>();
  assertType<Equal<Infer<{ enum: readonly ["a", "b", 1] }>, "a" | "b" | 1>>();
  assertType<
    Equal<Infer<{ anyOf: readonly [{ type: "string" }, { type: "number" }] }>, string | number>
  >();
  assertType<Equal<Infer<{ oneOf: readonly [{ const: 1 }, { type: "null" }] }>, 1 | null>>();
  type Both = Infer<{
    allOf: readonly [
      {
        type: "object";
        properties: { a: { type: "number" } };
        required: readonly ["a"];
        additionalProperties: false;
      },
      {
        type: "object";
        properties: { b: { type: "string" } };
        required: readonly ["b"];
        additionalProperties: false;
      },
    ];
  }>;
  const both: Both = { a: 1, b: "x" };
  assertEquals(both, { a: 1, b: "x" });
});

test("Infer maps arrays and tuples", () => {
  assertType<Equal<Infer<{ type: "array"; items: { type: "number" } }>, number[]>>();
  assertType<Equal<Infer<{ type: "array" }>, unknown[]>>();
  assertType<
    Equal<
      Infer<{ type: "array"; items: readonly [{ type: "string" }, { type: "integer" }] }>,
      [string, number]
    >
  >();
});

test("Infer maps objects: required, optional, additionalProperties", () => {
  type Closed = Infer<{
    type: "object";
    properties: { id: { type: "integer" }; tags: { type: "array"; items: { type: "string" } } };
    required: readonly ["id"];
    additionalProperties: false;
  }>;
  assertType<Equal<Closed, { id: number; tags?: string[] }>>();
  type Open = Infer<
    { type: "object"; properties: { id: { type: "integer" } }; required: readonly ["id"] }
  >;
  assertType<Equal<Open, { id: number; [key: string]: unknown }>>();
  type Map = Infer<{ type: "object"; additionalProperties: { type: "number" } }>;
  assertType<Equal<Map, { [key: string]: number | undefined }>>();
  type Nested = Infer<{
    type: "object";
    properties: {
      user: {
        type: "object";
        properties: { name: { type: "string" } };
        required: readonly ["name"];
        additionalProperties: false;
      };
    };
    required: readonly ["user"];
    additionalProperties: false;
  }>;
  assertType<Equal<Nested, { user: { name: string } }>>();
});

test("SchemaCompiler compiles a schema object once and reports JSON Pointer paths", () => {
  const compiler = new SchemaCompiler();
  const schema = {
    type: "object",
    properties: { "a/b": { type: "number" }, list: { type: "array", items: { type: "integer" } } },
    required: ["a/b"],
    additionalProperties: false,
  };
  const validate = compiler.compile(schema);
  assertEquals(compiler.compile(schema) === validate, true);
  assertEquals(validate({ "a/b": 1, list: [1, 2] }), undefined);
  assertEquals(validate({}), [{ path: "/a~1b", message: "is required", keyword: "required" }]);
  assertEquals(validate({ "a/b": 1, list: [1, "x"] }), [
    { path: "/list/1", message: "must be integer", keyword: "type" },
  ]);
  assertEquals(validate({ "a/b": 1, "x~y": 1 }), [
    { path: "/x~0y", message: "is not allowed", keyword: "additionalProperties" },
  ]);
  assertEquals(compiler.compile(true)(1), undefined);
  assertEquals(compiler.compile(false)(1)?.[0]?.keyword, "false schema");
});

test("Infer maps 2020-12 prefixItems tuples, closed or open", () => {
  assertType<
    Equal<
      Infer<{ type: "array"; prefixItems: [{ type: "string" }, { type: "number" }]; items: false }>,
      [string, number]
    >
  >();
  assertType<
    Equal<
      Infer<{ prefixItems: [{ type: "string" }]; unevaluatedItems: false }>,
      [string]
    >
  >();
  assertType<
    Equal<
      Infer<{ type: "array"; prefixItems: [{ type: "string" }]; items: { type: "boolean" } }>,
      [string, ...boolean[]]
    >
  >();
  assertType<
    Equal<Infer<{ type: "array"; prefixItems: [{ type: "integer" }] }>, [number, ...unknown[]]>
  >();
});

test("SchemaCompiler speaks 2020-12 by default: prefixItems validates", () => {
  const validate = new SchemaCompiler().compile({
    type: "array",
    prefixItems: [{ type: "string" }, { type: "integer" }],
    items: false,
  });
  assertEquals(validate(["a", 1]), undefined);
  assertEquals(validate(["a", "b"]), [{ path: "/1", message: "must be integer", keyword: "type" }]);
  assertEquals(validate(["a", 1, 2])?.[0]?.keyword, "items");
});

test("SchemaCompiler picks the draft from $schema, or the draft option", () => {
  const compiler = new SchemaCompiler();
  const seven = compiler.compile({
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "array",
    items: [{ type: "string" }],
  });
  assertEquals(seven([1])?.[0]?.path, "/0");
  const twenty = compiler.compile({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "array",
    prefixItems: [{ type: "string" }],
  });
  assertEquals(twenty([1])?.[0]?.path, "/0");
  const byOption = new SchemaCompiler({ draft: "07" }).compile({
    type: "array",
    items: [{ type: "string" }],
  });
  assertEquals(byOption(["a"]), undefined);
  assertThrows(
    () => compiler.compile({ $schema: "https://json-schema.org/draft/2019-09/schema" }),
    TypeError,
    "is not a draft this library supports",
  );
  assertThrows(() => new SchemaCompiler({ draft: "04" as "07" }), TypeError, "draft must be");
});

test("an unknown keyword is refused at compile time with its JSON Pointer", () => {
  const compiler = new SchemaCompiler();
  assertThrows(
    () =>
      compiler.compile({
        type: "object",
        properties: {
          "a/b": {
            type: "array",
            prefixItems: [{ type: "string" }, { type: "string", maxLen: 3 }],
          },
        },
      }),
    TypeError,
    'unknown keyword "maxLen" at /properties/a~1b/prefixItems/1/maxLen',
  );
  // A property named like the keyword is not mistaken for it.
  assertThrows(
    () =>
      compiler.compile({
        type: "object",
        properties: { maxLen: { type: "string" } },
        additionalProperties: { maxLen: 1 },
      }),
    TypeError,
    "at /additionalProperties/maxLen",
  );
  // A draft-07 tuple in a 2020-12 schema says what to do.
  assertThrows(
    () => compiler.compile({ type: "array", items: [{ type: "string" }] }),
    TypeError,
    "a tuple is prefixItems in JSON Schema 2020-12",
  );
  assertThrows(
    () => new SchemaCompiler({ draft: "07" }).compile({ prefixItems: [] }),
    TypeError,
    "prefixItems is 2020-12",
  );
});
