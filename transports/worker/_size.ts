/**
 * {@linkcode cloneSize}: about how many bytes a structured-clone value
 * holds, to bound what a port's inbox keeps (a port has no backpressure,
 * and no byte count comes with a message). Strings count their length,
 * buffers their byte length, every other value 8; a walk visits at most
 * {@linkcode MAX_NODES} values and no deeper than 64 levels, and the rest of
 * a long array counts 8 bytes an entry unvisited. No allocation per call.
 *
 * @module
 */

/** Values visited per estimate. */
export const MAX_NODES = 4096;
const MAX_DEPTH = 64;

let budget = 0;

/** About how many bytes `value` holds (see the module doc). */
export function cloneSize(value: unknown): number {
  budget = MAX_NODES;
  return sizeOf(value, 0);
}

function sizeOf(value: unknown, depth: number): number {
  budget--;
  if (typeof value === "string") return value.length;
  if (value === null || typeof value !== "object") return 8;
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (depth >= MAX_DEPTH) return 8;
  let size = 8;
  if (Array.isArray(value)) {
    let i = 0;
    for (; i < value.length && budget > 0; i++) size += sizeOf(value[i], depth + 1);
    return size + (value.length - i) * 8;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (budget <= 0) return size + (value.size * 16);
      size += sizeOf(key, depth + 1) + sizeOf(item, depth + 1);
    }
    return size;
  }
  if (value instanceof Set) {
    for (const item of value) {
      if (budget <= 0) return size + value.size * 8;
      size += sizeOf(item, depth + 1);
    }
    return size;
  }
  for (const key in value) {
    if (budget <= 0) break;
    size += key.length + sizeOf((value as Record<string, unknown>)[key], depth + 1);
  }
  return size;
}
