/**
 * Walks a parsed JSON value without recursion: for a depth limit (a value
 * nested thousands deep must not overflow the stack of whoever handles it
 * next) and for quickrpc's `{"__bytes": base64}` values.
 *
 * Internal to the dialects.
 *
 * @module
 */

import { decodeBase64 } from "./_base64.ts";

/** The deepest nesting of arrays and objects the Python dialects accept. */
export const MAX_DEPTH = 512;

/** A value nested deeper than the limit. */
export class TooDeep extends Error {
  constructor(limit: number) {
    super(`JSON nested more than ${limit} deep`);
    this.name = "TooDeep";
  }
}

/**
 * Checks `value` against `limit` levels of nesting, and replaces every
 * object `{"__bytes": <base64 string>}` with its `Uint8Array` when
 * `bytes` is set. Returns the (possibly replaced) value; throws
 * {@linkcode TooDeep}.
 */
export function walkJson(value: unknown, limit: number, bytes = false): unknown {
  if (value === null || typeof value !== "object") return value;
  const root = bytes ? revive(value) : value;
  if (root !== value || root instanceof Uint8Array) return root;
  // An explicit stack of [container, depth].
  const stack: [Record<string, unknown> | unknown[], number][] = [[value as object as never, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) throw new TooDeep(limit);
    const keys = Array.isArray(node) ? undefined : Object.keys(node);
    const length = keys === undefined ? (node as unknown[]).length : keys.length;
    for (let i = 0; i < length; i++) {
      const key = keys === undefined ? i : keys[i]!;
      const child = (node as Record<string | number, unknown>)[key];
      if (child === null || typeof child !== "object") continue;
      const revived = bytes ? revive(child) : child;
      if (revived !== child) {
        (node as Record<string | number, unknown>)[key] = revived;
        continue;
      }
      stack.push([child as Record<string, unknown> | unknown[], depth + 1]);
    }
  }
  return value;
}

/** `{"__bytes": base64}` (any object with a string `__bytes`, as quickrpc reads it) as bytes. */
function revive(value: object): unknown {
  if (Array.isArray(value)) return value;
  const encoded = (value as { __bytes?: unknown }).__bytes;
  if (typeof encoded !== "string") return value;
  try {
    return decodeBase64(encoded);
  } catch {
    return value;
  }
}
