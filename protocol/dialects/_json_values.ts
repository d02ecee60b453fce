/**
 * What plain JSON cannot carry faithfully, found before anything is sent.
 *
 * `JSON.stringify` changes some values without a word: a `Date` becomes a
 * string, a `Map`, `Set` or `RegExp` becomes `{}`, `NaN` and `±Infinity`
 * become `null`, a typed array an object of indices. A `BigInt` makes it
 * throw. {@linkcode findNotJson} finds the first such value and where it is,
 * so the JSON-RPC codec can refuse the call, or answer a reply's caller with
 * an error saying so, instead of sending a changed value.
 *
 * Counted (refused): `BigInt` (unless `BigInt.prototype.toJSON` is defined), `NaN`, `±Infinity`, `Date`, `Map`, `Set`,
 * `WeakMap`, `WeakSet`, `RegExp`, `Error`, `Promise`, `ArrayBuffer`,
 * `SharedArrayBuffer`, typed arrays and `DataView`.
 * Kept (JSON's own rules): an object with its own `toJSON` (the user's
 * choice, even on an `Error` or `Map` subclass), class instances (their own enumerable fields), `undefined`,
 * functions and symbols (left out of objects, `null` in arrays), `-0` (`0`).
 *
 * The walk is recursive, allocates nothing on clean values and stops at
 * `CHECK_DEPTH` (512): a deeper value (or a cycle) is left to
 * `JSON.stringify`, which throws on cycles.
 *
 * Internal to the dialects.
 *
 * @module
 */

import { ErrorCode } from "../wire/errors.ts";
import type { ErrorMessage, Id, Message } from "../wire/message.ts";

/** How deep the check looks; past it the value is left to `JSON.stringify`. */
const CHECK_DEPTH = 512;

/** A value found in a walk, and the keys leading to it (innermost first). */
export class Found {
  /** The keys from the value up to the root, innermost first. */
  readonly keys: (string | number)[] = [];
  /**
   * Records a value (or, with `reason`, a problem that is not one value).
   *
   * @param value The value.
   * @param reason What is wrong, when not the value's type.
   */
  constructor(readonly value: unknown, readonly reason?: string) {}

  /** Adds the key of the container one level up; returns itself. */
  at(key: string | number): Found {
    if (this !== GAVE_UP) this.keys.push(key);
    return this;
  }

  /** The path from `root`: `params.when`, `result[2]["a b"]`. */
  path(root: string): string {
    let path = root;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const key = this.keys[i]!;
      if (typeof key === "number") path += `[${key}]`;
      else if (key.length > 64) path += `[${JSON.stringify(key.slice(0, 64))}...]`;
      else path += IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
    return path;
  }
}

/** The walk went past `CHECK_DEPTH`: the value is left to `JSON.stringify`. */
const GAVE_UP = new Found(undefined);

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const DATE_TO_JSON = Date.prototype.toJSON;

/**
 * The first value in `value` that plain JSON would change or refuse, or
 * `undefined` when there is none.
 */
export function findNotJson(value: unknown): Found | undefined {
  if (typeof value !== "object") return refusedPrimitive(value) ? new Found(value) : undefined;
  const found = value === null ? undefined : checkObject(value, 0);
  return found === GAVE_UP ? undefined : found;
}

/** `NaN`, `±Infinity` or a `BigInt`. */
export function notJsonPrimitive(value: unknown): boolean {
  return typeof value === "number" ? value - value !== 0 : typeof value === "bigint";
}

/** {@linkcode notJsonPrimitive}, except a `BigInt` once `BigInt.prototype.toJSON` is defined (as JSON.stringify does). */
function refusedPrimitive(value: unknown): boolean {
  return typeof value === "number"
    ? value - value !== 0
    : typeof value === "bigint" && typeof (value as { toJSON?: unknown }).toJSON !== "function";
}

// Primitives are checked in the loops, not in a call each: most of a value is
// primitives, and this runs on every message.
function checkObject(value: object, depth: number): Found | undefined {
  if (depth >= CHECK_DEPTH) return GAVE_UP;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object") {
        if (item === null) continue;
        const found = checkObject(item, depth + 1);
        if (found !== undefined) return found.at(i);
      } else if (refusedPrimitive(item)) return new Found(item).at(i);
    }
    return undefined;
  }
  // `constructor` first: a cheaper test than the prototype for most objects.
  const proto = (value as { constructor?: unknown }).constructor === Object
    ? Object.prototype
    : Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // Its own toJSON first (an Error subclass's, say), but not the one every Date has.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function" && toJSON !== DATE_TO_JSON) return undefined;
    if (notJsonInstance(value)) return new Found(value);
    // A class instance: its own fields (for...in would see its prototype's too).
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const found = findNotJsonAt(value, keys[i]!, depth);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "object") {
      if (item === null) continue;
      const found = checkObject(item, depth + 1);
      if (found !== undefined) return found.at(key);
    } else if (refusedPrimitive(item)) return new Found(item).at(key);
  }
  return undefined;
}

function findNotJsonAt(object: object, key: string, depth: number): Found | undefined {
  const item = (object as Record<string, unknown>)[key];
  if (typeof item !== "object") return refusedPrimitive(item) ? new Found(item).at(key) : undefined;
  return item === null ? undefined : checkObject(item, depth + 1)?.at(key);
}

/** Whether `value` (an object that is not plain) is one JSON changes without a word. */
export function notJsonInstance(value: object): boolean {
  return value instanceof Date || value instanceof Map || value instanceof Set ||
    ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp ||
    value instanceof Error || value instanceof WeakMap || value instanceof WeakSet ||
    value instanceof Promise ||
    (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer);
}

/** `a Date`, `NaN`, `a BigInt`, `an ArrayBuffer`: how a message names `value`. */
export function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return "a BigInt";
  const name = (value as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (typeof name !== "string" || name === "") return "an object";
  return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** What plain JSON would do to `value` instead of carrying it. */
function fate(value: unknown): string {
  if (typeof value === "number") return "it would arrive as null";
  if (typeof value === "bigint") return "JSON has no BigInt";
  if (value instanceof Date) return "it would arrive as a string";
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return "it would arrive as an object of indices";
  }
  return "it would arrive as {}";
}

/**
 * The message for a value plain JSON-RPC cannot carry, found at `root`
 * (`params`, `result`, `error.data`).
 */
export function notJsonMessage(found: Found, root: string): string {
  return `${found.path(root)}: ${describeValue(found.value)} cannot be sent as plain JSON (${
    fate(found.value)
  }); convert it${
    root === "meta" ? "" : ', or use values: "tagged" (the jsonRpcTagged dialect) on both sides'
  }`;
}

/** A value the codec cannot send; its message says which and where. */
export class UnsendableValue extends TypeError {
  /**
   * Makes the error.
   *
   * @param message Which value, where, and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "UnsendableValue";
  }
}

/**
 * `message` itself when plain JSON carries its values; throws
 * {@linkcode UnsendableValue} naming the first value it would not.
 */
export function plainMessage(message: Message): Message {
  let found: Found | undefined;
  switch (message.kind) {
    case "request":
    case "notification":
      found = findNotJson(message.params);
      if (found !== undefined) throw new UnsendableValue(notJsonMessage(found, "params"));
      // Meta is JSON too (never tagged): a Date there would arrive as a string.
      found = message.meta === undefined ? undefined : findNotJson(message.meta);
      if (found !== undefined) throw new UnsendableValue(notJsonMessage(found, "meta"));
      return message;
    case "result":
      found = findNotJson(message.result);
      if (found !== undefined) throw new UnsendableValue(notJsonMessage(found, "result"));
      return message;
    case "error":
      found = findNotJson(message.error.data);
      if (found !== undefined) throw new UnsendableValue(notJsonMessage(found, "error.data"));
      return message;
    default:
      return message;
  }
}

/**
 * The error reply sent instead of a reply the codec could not encode:
 * -32603, whose `data` says which value and where when the codec said so
 * (an {@linkcode UnsendableValue}); anything else (a cycle) stays vague.
 */
export function unsendableReply(reply: { readonly id: Id | null }, error: unknown): ErrorMessage {
  return {
    kind: "error",
    id: reply.id,
    error: {
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: error instanceof UnsendableValue ? error.message : "the result could not be serialised",
    },
  };
}
