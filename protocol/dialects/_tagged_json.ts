/**
 * Tagged JSON: values plain JSON cannot carry, written as one-member objects
 * that the other side turns back into the value.
 *
 * | value                     | on the wire                          |
 * | ------------------------- | ------------------------------------ |
 * | `123n`                    | `{"$bigint":"123"}` (at most 4300 digits) |
 * | `new Date(0)`             | `{"$date":"1970-01-01T00:00:00.000Z"}` (an invalid date: `null`) |
 * | `new Uint8Array([1,2])`   | `{"$bytes":"AQI="}` (standard base64) |
 * | `new Map([["a",1]])`      | `{"$map":[["a",1]]}`                 |
 * | `new Set([1])`            | `{"$set":[1]}`                       |
 * | `NaN`, `Infinity`, `-Infinity` | `{"$number":"NaN"}`, `"Infinity"`, `"-Infinity"` |
 * | `{"$date":"x"}` (a user object that looks like a tag) | `{"$escape":{"$date":"x"}}` |
 *
 * Map keys and values, Set members and the members of an escaped object are
 * tagged in turn. An object is a tag only when it has exactly one member and
 * its name is one of these; anything else (`{"$ref": 1}`, two members) is an
 * ordinary object. Values tagging cannot carry either (other typed arrays, an
 * `ArrayBuffer`, a `WeakMap`, a `RegExp`, an `Error`) are refused by name.
 *
 * Internal to the dialects.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { MAX_DEPTH } from "./_json_walk.ts";
import { ErrorCode, standardMessage } from "../wire/errors.ts";
import type { InvalidMessage, Message } from "../wire/message.ts";
import {
  describeValue,
  findNotJson,
  Found,
  notJsonInstance,
  notJsonMessage,
  notJsonPrimitive,
  UnsendableValue,
} from "./_json_values.ts";

/**
 * The most digits of a `$bigint`: reading a number is superlinear in its
 * length, so one frame of millions of digits would stall the reader (Python
 * caps int parsing at the same 4300 for the same reason).
 */
export const MAX_BIGINT_DIGITS = 4300;
const BIGINT = new RegExp(`^-?\\d{1,${MAX_BIGINT_DIGITS}}$`);

/** An ISO date (read as UTC) or date-time with its zone: what `toISOString` writes, and kin. */
const ISO_DATE =
  /^(?:[+-]\d{6}|\d{4})-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d))?$/;

const TAGS: ReadonlySet<string> = new Set([
  "$bigint",
  "$date",
  "$bytes",
  "$map",
  "$set",
  "$number",
  "$escape",
]);

/**
 * `value` with every value plain JSON cannot carry replaced by its tag; the
 * same reference when nothing needed one (nothing is copied then), or a
 * {@linkcode Found} naming what cannot be tagged.
 */
export function toTagged(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case "object":
      break;
    case "number":
      return value - value === 0 ? value : { $number: String(value) };
    case "bigint":
      return bigintTag(value);
    default:
      return value;
  }
  if (value === null) return value;
  if (depth >= MAX_DEPTH) {
    return new Found(value, `nested more than ${MAX_DEPTH} deep (or a cycle)`);
  }
  if (Array.isArray(value)) return tagArray(value, depth);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Date) {
      return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() };
    }
    if (value instanceof Uint8Array) return { $bytes: encodeBase64(value) };
    if (value instanceof Map) return tagMap(value, depth);
    if (value instanceof Set) {
      const members = tagArray([...value], depth);
      return members instanceof Found ? members : { $set: members };
    }
    if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
    if (notJsonInstance(value)) return new Found(value);
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  return tagObject(value as Record<string, unknown>, depth);
}

function bigintTag(value: bigint): unknown {
  const text = value.toString();
  return text.length - (value < 0n ? 1 : 0) > MAX_BIGINT_DIGITS
    ? new Found(value, `a BigInt of more than ${MAX_BIGINT_DIGITS} digits cannot be sent`)
    : { $bigint: text };
}

function tagArray(array: unknown[], depth: number): unknown[] | Found {
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (typeof item === "object" ? item === null : !notJsonPrimitive(item)) continue;
    const tagged = toTagged(item, depth + 1);
    if (tagged === item) continue;
    if (tagged instanceof Found) return tagged.at(i);
    copy ??= array.slice();
    copy[i] = tagged;
  }
  return copy ?? array;
}

function tagMap(map: Map<unknown, unknown>, depth: number): unknown {
  const entries: unknown[] = [];
  let i = 0;
  for (const [key, item] of map) {
    const taggedKey = toTagged(key, depth + 2);
    if (taggedKey instanceof Found) return taggedKey.at(0).at(i);
    const tagged = toTagged(item, depth + 2);
    if (tagged instanceof Found) return tagged.at(1).at(i);
    entries.push([taggedKey, tagged]);
    i++;
  }
  return { $map: entries };
}

function tagObject(object: Record<string, unknown>, depth: number): unknown {
  let copy: Record<string, unknown> | undefined;
  let count = 0;
  let first = "";
  for (const key of Object.keys(object)) {
    if (count++ === 0) first = key;
    const item = object[key];
    if (typeof item === "object" ? item === null : !notJsonPrimitive(item)) continue;
    const tagged = toTagged(item, depth + 1);
    if (tagged === item) continue;
    if (tagged instanceof Found) return tagged.at(key);
    copy ??= { ...object };
    copy[key] = tagged;
  }
  const result = copy ?? object;
  return count === 1 && TAGS.has(first) ? { $escape: result } : result;
}

/** A tag that cannot be read, and where it is. */
export class BadTag extends Found {}

/**
 * `value` (parsed JSON, changed in place) with every tag replaced by its
 * value, or a {@linkcode BadTag} naming the first that cannot be read.
 */
export function fromTagged(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return new BadTag(value, `nested more than ${MAX_DEPTH} deep`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = fromTagged(value[i], depth + 1);
      if (item === value[i]) continue;
      if (item instanceof BadTag) return item.at(i);
      value[i] = item;
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  let count = 0;
  let first = "";
  for (const key in object) {
    if (count++ === 0) first = key;
    else break;
  }
  if (count === 1 && TAGS.has(first)) return untag(first, object[first], depth);
  return untagMembers(object, depth);
}

function untagMembers(object: Record<string, unknown>, depth: number): unknown {
  for (const key in object) {
    const item = fromTagged(object[key], depth + 1);
    if (item === object[key]) continue;
    if (item instanceof BadTag) return item.at(key);
    object[key] = item;
  }
  return object;
}

function untag(tag: string, body: unknown, depth: number): unknown {
  switch (tag) {
    case "$bigint":
      if (typeof body === "string" && BIGINT.test(body)) return BigInt(body);
      return bad(tag, body, `a decimal string of at most ${MAX_BIGINT_DIGITS} digits`);
    case "$date": {
      if (body === null) return new Date(NaN);
      // ISO only: Date's other forms are read in the reader's time zone, or guessed at.
      const date = typeof body === "string" && ISO_DATE.test(body) ? new Date(body) : undefined;
      return date === undefined || Number.isNaN(date.getTime())
        ? bad(tag, body, "an ISO date string or null")
        : date;
    }
    case "$bytes":
      if (typeof body === "string") {
        try {
          return decodeBase64(body);
        } catch {
          // reported below
        }
      }
      return bad(tag, body, "a base64 string");
    case "$number":
      if (body === "NaN") return NaN;
      if (body === "Infinity") return Infinity;
      if (body === "-Infinity") return -Infinity;
      return bad(tag, body, '"NaN", "Infinity" or "-Infinity"');
    case "$set": {
      const members = Array.isArray(body) ? fromTagged(body, depth + 1) : undefined;
      if (members instanceof BadTag) return members.at(tag);
      return members === undefined ? bad(tag, body, "an array") : new Set(members as unknown[]);
    }
    case "$map":
      return untagMap(body, depth);
    default: // $escape
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return bad(tag, body, "an object");
      }
      return untagMembers(body as Record<string, unknown>, depth + 1);
  }
}

function untagMap(body: unknown, depth: number): unknown {
  if (!Array.isArray(body)) return bad("$map", body, "an array of [key, value] pairs");
  const map = new Map<unknown, unknown>();
  for (let i = 0; i < body.length; i++) {
    const entry = body[i];
    if (!Array.isArray(entry) || entry.length !== 2) {
      return bad("$map", body, "an array of [key, value] pairs");
    }
    const pair = fromTagged(entry, depth + 2);
    if (pair instanceof BadTag) return pair.at(i).at("$map");
    map.set(entry[0], entry[1]);
  }
  return map;
}

function bad(tag: string, body: unknown, wanted: string): BadTag {
  return new BadTag(body, `a ${tag} tag needs ${wanted}, not ${describeBody(body)}`);
}

function describeBody(body: unknown): string {
  if (body === null) return "null";
  if (Array.isArray(body)) return "an array";
  if (typeof body === "string") return body.length > 40 ? "a string" : JSON.stringify(body);
  return typeof body === "object" ? "an object" : describeValue(body);
}

/** The message for a value tagging cannot carry, found at `root`. */
export function notTaggableMessage(found: Found, root: string): string {
  if (found.reason !== undefined) return `${found.path(root)}: ${found.reason}`;
  return `${found.path(root)}: ${
    describeValue(found.value)
  } cannot be sent, even tagged (tagged JSON carries BigInt, Date, Uint8Array, Map, Set, NaN and ±Infinity)`;
}

/** The message for a tag that cannot be read, found at `root`. */
export function badTagMessage(found: BadTag, root: string): string {
  return `${found.path(root)}: ${found.reason}`;
}

/**
 * `message` with its values tagged (itself when none needed a tag); throws
 * {@linkcode UnsendableValue} naming a value that cannot be tagged.
 */
export function taggedMessage(message: Message): Message {
  let tagged: unknown;
  switch (message.kind) {
    case "request":
    case "notification": {
      // Meta is not tagged: it must be plain JSON.
      const found = message.meta === undefined ? undefined : findNotJson(message.meta);
      if (found !== undefined) throw new UnsendableValue(notJsonMessage(found, "meta"));
      tagged = toTagged(message.params);
      if (tagged === message.params) return message;
      if (tagged instanceof Found) {
        throw new UnsendableValue(notTaggableMessage(tagged, "params"));
      }
      return { ...message, params: tagged };
    }
    case "result":
      tagged = toTagged(message.result);
      if (tagged === message.result) return message;
      if (tagged instanceof Found) {
        throw new UnsendableValue(notTaggableMessage(tagged, "result"));
      }
      return { ...message, result: tagged };
    case "error":
      tagged = toTagged(message.error.data);
      if (tagged === message.error.data) return message;
      if (tagged instanceof Found) {
        throw new UnsendableValue(notTaggableMessage(tagged, "error.data"));
      }
      return { ...message, error: { ...message.error, data: tagged } };
    default:
      return message;
  }
}

/**
 * A decoded `message` with its tags turned back into values (in place). A
 * tag that cannot be read makes a request an Invalid params message, a
 * notification one that is logged, and a reply an error for its caller.
 */
export function untaggedMessage(message: Message): Message {
  let value: unknown;
  switch (message.kind) {
    case "request":
    case "notification":
      value = fromTagged(message.params);
      if (!(value instanceof BadTag)) {
        if (value === message.params) return message;
        // A tag for the whole params must still give an array or an object, as JSON-RPC's params are.
        if (value === null || typeof value !== "object") {
          return invalidParams(message, `params: ${describeValue(value)} cannot be the params`);
        }
        message.params = value;
        return message;
      }
      return invalidParams(message, badTagMessage(value, "params"));
    case "result":
      value = fromTagged(message.result);
      if (!(value instanceof BadTag)) {
        if (value !== message.result) message.result = value;
        return message;
      }
      return {
        kind: "error",
        id: message.id,
        error: {
          code: ErrorCode.ParseError,
          message: standardMessage(ErrorCode.ParseError),
          data: badTagMessage(value, "result"),
        },
      };
    case "error":
      value = fromTagged(message.error.data);
      if (!(value instanceof BadTag)) {
        if (value !== message.error.data) message.error.data = value;
        return message;
      }
      return {
        kind: "error",
        id: message.id,
        error: { ...message.error, data: badTagMessage(value, "error.data") },
      };
    default:
      return message;
  }
}

function invalidParams(
  message: { readonly kind: "request" | "notification"; readonly id?: unknown },
  why: string,
): InvalidMessage {
  const request = message.kind === "request";
  return {
    kind: "invalid",
    id: request ? message.id as InvalidMessage["id"] : null,
    error: {
      code: ErrorCode.InvalidParams,
      message: standardMessage(ErrorCode.InvalidParams),
      data: why,
    },
    answer: request,
  };
}
