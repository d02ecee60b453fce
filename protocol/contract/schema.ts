/**
 * JSON Schema as a TypeScript value, and {@linkcode Infer}, which derives the
 * type a schema describes at compile time. Write each schema once, as a
 * `const`, and the types follow: no type and schema that can drift apart.
 *
 * `Infer` understands the keywords that shape a value: `type` (one or a
 * list), `properties`, `required`, `additionalProperties`, `prefixItems`
 * and `items` (one schema, or a draft-07 tuple), `enum`, `const`, `anyOf`,
 * `oneOf`, `allOf`, and `true` / `false`. Keywords that only narrow a value (`minimum`, `pattern`,
 * `format`...) are checked at run time by ajv and do not change the type.
 * `$ref` is not followed and infers `unknown`.
 *
 * @example A type from a schema
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Infer } from "@seed/rpc/contract";
 *
 * const point = {
 *   type: "object",
 *   properties: { x: { type: "number" }, y: { type: "number" }, label: { type: "string" } },
 *   required: ["x", "y"],
 *   additionalProperties: false,
 * } as const;
 *
 * type Point = Infer<typeof point>; // { x: number; y: number; label?: string }
 * const p: Point = { x: 1, y: 2 };
 * assertEquals(p, { x: 1, y: 2 });
 * ```
 *
 * @module
 */

/**
 * A JSON Schema (2020-12, or draft-07 when its `$schema` says so): an
 * object of keywords, or `true` / `false`.
 */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/**
 * The TypeScript type of the values a `const` JSON Schema accepts.
 *
 * @typeParam S The schema's type, from `typeof schema` (declared `as const`,
 * or passed to a `const` type parameter such as `defineContract`'s).
 */
export type Infer<S> = S extends true ? unknown
  : S extends false ? never
  : S extends { readonly const: infer C } ? C
  : S extends { readonly enum: readonly (infer E)[] } ? E
  : S extends { readonly anyOf: infer L extends readonly unknown[] }
    ? { [K in keyof L]: Infer<L[K]> }[number]
  : S extends { readonly oneOf: infer L extends readonly unknown[] }
    ? { [K in keyof L]: Infer<L[K]> }[number]
  : S extends { readonly allOf: infer L extends readonly unknown[] } ? InferAll<L>
  : S extends { readonly type: infer T } ? InferType<T extends readonly (infer U)[] ? U : T, S>
  : S extends { readonly properties: object } ? InferObject<S>
  : S extends { readonly prefixItems: readonly unknown[] } ? InferArray<S>
  : unknown;

/**
 * The intersection of the types of a list of schemas (`allOf`).
 */
export type InferAll<L extends readonly unknown[]> = L extends readonly [infer H, ...infer R]
  ? Infer<H> & InferAll<R>
  : unknown;

/**
 * The type for one `type` keyword value `T` of schema `S`.
 */
export type InferType<T, S> = T extends "string" ? string
  : T extends "number" | "integer" ? number
  : T extends "boolean" ? boolean
  : T extends "null" ? null
  : T extends "array" ? InferArray<S>
  : T extends "object" ? InferObject<S>
  : unknown;

/**
 * The type of an array schema: `items` as one schema gives `T[]`;
 * `prefixItems` (2020-12) gives a tuple, closed by `items: false` or
 * `unevaluatedItems: false` and else followed by `items`' type (or
 * `unknown`); `items` as a list (draft-07) gives a tuple.
 */
export type InferArray<S> = S extends { readonly prefixItems: infer P extends readonly unknown[] }
  ? S extends { readonly items: false } | { readonly unevaluatedItems: false } ? InferTuple<P>
  : S extends { readonly items: infer R } ? [...InferTuple<P>, ...Infer<R>[]]
  : [...InferTuple<P>, ...unknown[]]
  : S extends { readonly items: infer I extends readonly unknown[] } ? InferTuple<I>
  : S extends { readonly items: infer I } ? Infer<I>[]
  : unknown[];

/**
 * The tuple type of a list of schemas.
 */
export type InferTuple<L extends readonly unknown[]> = { -readonly [K in keyof L]: Infer<L[K]> };

/**
 * The type of an object schema: `required` properties, optional others, and
 * an index signature unless `additionalProperties` is `false`.
 */
export type InferObject<S> = (
  & (S extends { readonly properties: infer P } ? (
      & {
        -readonly [
          K in keyof P as K extends
            (S extends { readonly required: readonly (infer R)[] } ? R : never) ? K
            : never
        ]: Infer<P[K]>;
      }
      & {
        -readonly [
          K in keyof P as K extends
            (S extends { readonly required: readonly (infer R)[] } ? R : never) ? never
            : K
        ]?: Infer<P[K]>;
      }
    )
    : unknown)
  & (S extends { readonly additionalProperties: false } ? unknown
    : S extends { readonly additionalProperties: infer A extends object }
      ? { [key: string]: Infer<A> | undefined }
    : { [key: string]: unknown })
) extends infer O ? { [K in keyof O]: O[K] } : never;
