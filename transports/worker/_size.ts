/**
 * {@linkcode cloneSize}: about how many bytes a structured-clone value
 * holds, to bound what a port's inbox keeps (a port has no backpressure,
 * and no byte count comes with a message). Strings count their length,
 * buffers their byte length, every other value 8; a walk visits at most
 * {@linkcode MAX_NODES} values and no deeper than 64 levels, and the entries
 * of an array, object, `Map` or `Set` left unvisited count as the average
 * of those visited (so a long array of long strings counts in full). An
 * object met twice (shared, or a cycle) counts once, as a clone keeps it.
 *
 * @module
 */

/** Values visited per estimate. */
export const MAX_NODES = 4096;
const MAX_DEPTH = 64;

let budget = 0;
/** Objects counted in this estimate: a clone keeps shared and cyclic references shared. */
const seen = new Set<object>();

/** About how many bytes `value` holds (see the module doc). */
export function cloneSize(value: unknown): number {
  budget = MAX_NODES;
  try {
    return sizeOf(value, 0);
  } finally {
    seen.clear();
  }
}

function sizeOf(value: unknown, depth: number): number {
  budget--;
  if (typeof value === "string") return value.length;
  if (value === null || typeof value !== "object") return 8;
  if (depth >= MAX_DEPTH || seen.has(value)) return 8;
  seen.add(value);
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (Array.isArray(value)) {
    let size = 0;
    let i = 0;
    for (; i < value.length && budget > 0; i++) size += sizeOf(value[i], depth + 1);
    return 8 + size + rest(value.length - i, size, i);
  }
  let size = 0;
  let visited = 0;
  let left = 0;
  if (value instanceof Map || value instanceof Set) {
    for (const entry of value) {
      if (budget <= 0) {
        left = value.size - visited;
        break;
      }
      size += sizeOf(entry, depth + 1);
      visited++;
    }
    return 8 + size + rest(left, size, visited);
  }
  for (const key in value) {
    if (budget > 0) {
      size += key.length + sizeOf((value as Record<string, unknown>)[key], depth + 1);
      visited++;
    } else left++;
  }
  return 8 + size + rest(left, size, visited);
}

/** The entries not visited, each taken as large as the average of those visited (8 at least). */
function rest(left: number, size: number, visited: number): number {
  return left === 0 ? 0 : left * Math.max(8, visited === 0 ? 8 : size / visited);
}
