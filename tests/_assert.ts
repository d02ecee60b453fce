// The assertions the tests use, with types. `@std/assert` is mapped to the npm
// build of the Deno standard library, which ships no declarations; this file is
// the typed boundary. When the import map points at jsr:@std/assert instead,
// nothing here needs to change.

import * as std from "@std/assert";

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = abstract new (...args: any[]) => E;

export const assert: (expr: unknown, msg?: string) => asserts expr = std.assert;
export const assertEquals: <T>(actual: T, expected: T, msg?: string) => void = std.assertEquals;
export const assertNotEquals: <T>(actual: T, expected: T, msg?: string) => void =
  std.assertNotEquals;
export const assertStrictEquals: <T>(actual: unknown, expected: T, msg?: string) => void =
  std.assertStrictEquals;
export const assertExists: <T>(actual: T, msg?: string) => asserts actual is NonNullable<T> =
  std.assertExists;
export const assertInstanceOf: <T extends ErrorClass<unknown>>(
  actual: unknown,
  expectedType: T,
  msg?: string,
) => asserts actual is InstanceType<T> = std.assertInstanceOf;
export const assertStringIncludes: (actual: string, expected: string, msg?: string) => void =
  std.assertStringIncludes;
export const assertMatch: (actual: string, expected: RegExp, msg?: string) => void =
  std.assertMatch;
export const assertGreater: <T>(actual: T, expected: T, msg?: string) => void = std.assertGreater;
export const assertLessOrEqual: <T>(actual: T, expected: T, msg?: string) => void =
  std.assertLessOrEqual;
export const assertThrows: <E extends Error = Error>(
  fn: () => unknown,
  ErrorClass: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
) => E = std.assertThrows;
export const assertRejects: <E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
) => Promise<E> = std.assertRejects;
export const fail: (msg?: string) => never = std.fail;
