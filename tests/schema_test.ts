// Compile-time tests of Infer: `deno check` fails if a type is wrong.

import type { Infer } from "../contract.ts";
import { SchemaCompiler } from "../contract.ts";
import { assertEquals } from "./_assert.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function assertType<_T extends true>(): void {}

Deno.test("Infer maps primitive types", () => {
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

Deno.test("Infer maps const, enum, anyOf, oneOf and allOf", () => {
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

Deno.test("Infer maps arrays and tuples", () => {
  assertType<Equal<Infer<{ type: "array"; items: { type: "number" } }>, number[]>>();
  assertType<Equal<Infer<{ type: "array" }>, unknown[]>>();
  assertType<
    Equal<
      Infer<{ type: "array"; items: readonly [{ type: "string" }, { type: "integer" }] }>,
      [string, number]
    >
  >();
});

Deno.test("Infer maps objects: required, optional, additionalProperties", () => {
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

Deno.test("SchemaCompiler compiles a schema object once and reports JSON Pointer paths", () => {
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
