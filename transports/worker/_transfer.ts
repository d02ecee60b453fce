/**
 * Which buffers `postMessage` transfers instead of copying, with
 * `transfer: true`: every `ArrayBuffer` in a call's params or a reply's
 * result, standing alone or under a typed array or `DataView`, found by a
 * walk through arrays, objects, `Map`s and `Set`s (64 levels deep at most).
 *
 * @module
 */

/** The buffers under `value`, each once; an empty list when there are none. */
export function transferables(value: unknown): Transferable[] {
  const found: Transferable[] = [];
  if (value !== null && typeof value === "object") collect(value, found, 0);
  return found;
}

/** Deeper than this, the walk stops (a cycle, or a pathological value). */
const MAX_DEPTH = 64;

function collect(value: object, found: Transferable[], depth: number): void {
  if (value instanceof ArrayBuffer) {
    add(value, found);
  } else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) add(value.buffer, found);
  } else if (depth < MAX_DEPTH) {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, found, depth);
    } else if (value instanceof Map) {
      for (const [key, item] of value) {
        visit(key, found, depth);
        visit(item, found, depth);
      }
    } else if (value instanceof Set) {
      for (const item of value) visit(item, found, depth);
    } else {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) visit(record[key], found, depth);
    }
  }
}

function visit(item: unknown, found: Transferable[], depth: number): void {
  if (item !== null && typeof item === "object") collect(item, found, depth + 1);
}

/** A buffer listed twice makes `postMessage` throw; an empty-length one is kept too. */
function add(buffer: ArrayBuffer, found: Transferable[]): void {
  if (!found.includes(buffer)) found.push(buffer);
}
