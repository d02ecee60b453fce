/**
 * Which buffers `postMessage` transfers instead of copying, with
 * `transfer: true`: every `ArrayBuffer` in a call's params or a reply's
 * result, standing alone or under a typed array or `DataView`, found by a
 * walk through arrays, objects, `Map`s and `Set`s. Each object is visited
 * once (a value received from a port may share one object many times over),
 * and no deeper than 64 levels.
 *
 * @module
 */

/** Deeper than this, the walk stops. */
const MAX_DEPTH = 64;

/** The buffers under `value`, each once; an empty list when there are none. */
export function transferables(value: unknown): Transferable[] {
  const found: Transferable[] = [];
  if (value !== null && typeof value === "object") {
    new Walk(found).visit(value, 0);
  }
  return found;
}

class Walk {
  #found: Transferable[];
  #seen = new Set<object>();

  constructor(found: Transferable[]) {
    this.#found = found;
  }

  visit(value: object, depth: number): void {
    if (value instanceof ArrayBuffer) {
      this.#add(value);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      if (value.buffer instanceof ArrayBuffer) this.#add(value.buffer);
      return;
    }
    if (depth >= MAX_DEPTH || this.#seen.has(value)) return;
    this.#seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) this.#item(item, depth);
    } else if (value instanceof Map) {
      for (const [key, item] of value) {
        this.#item(key, depth);
        this.#item(item, depth);
      }
    } else if (value instanceof Set) {
      for (const item of value) this.#item(item, depth);
    } else {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) this.#item(record[key], depth);
    }
  }

  #item(item: unknown, depth: number): void {
    if (item !== null && typeof item === "object") this.visit(item, depth + 1);
  }

  /** A buffer listed twice makes `postMessage` throw. */
  #add(buffer: ArrayBuffer): void {
    if (!this.#seen.has(buffer)) {
      this.#seen.add(buffer);
      this.#found.push(buffer);
    }
  }
}
