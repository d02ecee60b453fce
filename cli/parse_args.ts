/**
 * `parseArgs` from `@std/cli`, with a type. The import map points
 * `@std/cli/parse-args` at the npm build of the standard library, which has
 * no type declarations; this file is the typed boundary (switching the map to
 * `jsr:@std/cli@^1/parse-args` needs no change here).
 *
 * @module
 */

import * as std from "@std/cli/parse-args";

/** What `parseArgs` returns: flags by name, and the rest in `_`. */
export interface ParsedArgs {
  _: (string | number)[];
  [flag: string]: unknown;
}

/** Options of `parseArgs` that the CLI uses. */
export interface ParseOptions {
  string?: string[];
  boolean?: string[];
  alias?: Record<string, string>;
  /** Flags that may be given more than once: their values are collected in an array. */
  collect?: string[];
  default?: Record<string, unknown>;
  /** Called for each unknown flag; return false to drop it. */
  unknown?: (arg: string) => unknown;
  /** Everything from the first non-flag argument on stays in `_`. */
  stopEarly?: boolean;
}

/** Parses command-line arguments, as `@std/cli`'s `parseArgs`. */
export const parseArgs: (args: string[], options?: ParseOptions) => ParsedArgs = std.parseArgs;
