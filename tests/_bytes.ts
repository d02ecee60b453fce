// `concat` from `@std/bytes`, with a type. `@std/bytes/concat` is mapped to the
// npm build of the Deno standard library, which ships no declarations; this
// file is the typed boundary (as tests/_assert.ts is for the assertions), for
// the tests and the fuzzers.

import * as std from "@std/bytes/concat";

/** The byte slices one after another, in a new array. */
export const concat: (buffers: Uint8Array[]) => Uint8Array = std.concat;
