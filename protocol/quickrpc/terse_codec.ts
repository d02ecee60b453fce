/**
 * quickrpc's `terse` codec: one telegram per line, few punctuation marks.
 * See `quickrpc.ts` for the table of forms and the original's defects.
 *
 * @module
 */

import type { Codec } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_BYTES, type Dialect } from "../wire/dialect.ts";
import { ErrorCode } from "../wire/errors.ts";
import type { Id, InvalidMessage, Message } from "../wire/message.ts";
import { decodeBase64, encodeBase64 } from "../dialects/_base64.ts";
import { MAX_DEPTH } from "../dialects/_json_walk.ts";
import { quickRpcError } from "./quickrpc_codec.ts";

const NOTHING: readonly Message[] = Object.freeze([]);
const NO_FRAMES: readonly string[] = Object.freeze([]);
/** A name (method, parameter, map key) that reads back as itself. */
const NAME = /^[^\s:]*$/;
/** A method name ending in `/<digits>` would read back as a call with an id. */
const LOOKS_LIKE_ID = /\/\d+$/;
const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const DIGITS = /^\d+$/;

// ---------------------------------------------------------------- encoding

/**
 * `value` as Python's `b'%g' % value` writes it: six significant digits,
 * exponent form below 1e-4 and from 1e6 on (`1234567` gives `1.23457e+06`:
 * precision is lost), ties rounded to even, `nan`, `inf`, `-inf`, `-0`.
 *
 * @example Numbers as quickrpc's terse codec writes them
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { pythonG } from "@seed/rpc/quickrpc";
 * assertEquals([1234567, 0.5, 1e-5, 1234565].map(pythonG), ["1.23457e+06", "0.5", "1e-05", "1.23456e+06"]);
 * ```
 */
export function pythonG(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  // Whole numbers of up to six digits are written as they are.
  if (Number.isInteger(value) && value < 1e6 && value > -1e6) return String(value);
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  let [digits, exponent] = splitExponential(abs.toExponential(5));
  const seven = abs.toExponential(6);
  if (seven.charCodeAt(7) === 0x35 /* 5 */ && isExactly(abs, seven)) {
    // An exact tie: JavaScript rounds it up, Python to the even digit.
    const [tie, tieExponent] = splitExponential(seven);
    digits = tie.slice(0, 6);
    exponent = tieExponent;
    if ((digits.charCodeAt(5) - 48) % 2 === 1) {
      const up = String(Number(digits) + 1);
      if (up.length > 6) [digits, exponent] = ["100000", exponent + 1];
      else digits = up;
    }
  }
  if (exponent < -4 || exponent >= 6) {
    const fraction = digits.slice(1).replace(/0+$/, "");
    const e = Math.abs(exponent);
    return `${sign}${digits[0]}${fraction ? "." + fraction : ""}e${exponent < 0 ? "-" : "+"}${
      e < 10 ? "0" + e : e
    }`;
  }
  const whole = exponent >= 0 ? digits.slice(0, exponent + 1) : "0";
  const fraction = (exponent >= 0 ? digits.slice(exponent + 1) : "0".repeat(-exponent - 1) + digits)
    .replace(/0+$/, "");
  return `${sign}${whole}${fraction ? "." + fraction : ""}`;
}

/** `d.ddddde+x` -> [`dddddd`, x]. */
function splitExponential(text: string): [string, number] {
  const e = text.indexOf("e");
  return [text[0] + text.slice(2, e), Number(text.slice(e + 1))];
}

/** Whether the double `value` (> 0) equals the decimal `text` (`d.dddddde+x`) exactly. */
function isExactly(value: number, text: string): boolean {
  const [digits, exponent] = splitExponential(text);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const high = view.getUint32(0);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (biased !== 0) mantissa |= 1n << 52n;
  const twos = (biased === 0 ? 1 : biased) - 1075; // value = mantissa * 2^twos
  const tens = exponent - (digits.length - 1); // text = digits * 10^tens
  // Multiply both sides until every power is whole.
  const shiftTwo = BigInt(Math.max(0, -twos));
  const shiftTen = BigInt(Math.max(0, -tens));
  const left = (mantissa << (BigInt(twos) + shiftTwo)) * 10n ** shiftTen;
  const right = (BigInt(digits) * 10n ** (BigInt(tens) + shiftTen)) << shiftTwo;
  return left === right;
}

/** A name checked to read back as itself. */
function name(text: string, what: string): string {
  // In a map, a key starting with `}` would read back as the map's end.
  if (!NAME.test(text) || (what === "map key" && text.startsWith("}"))) {
    throw new TypeError(`terse cannot carry the ${what} ${JSON.stringify(text)}`);
  }
  return text;
}

/** A Python-escaped string: only `\`, `"` and newline are escaped, as the original does. */
function quote(text: string): string {
  return `"${text.replace(/[\\"\n]/g, escapeChar)}"`;
}

function escapeChar(c: string): string {
  return c === "\n" ? "\\n" : `\\${c}`;
}

/** One value; throws a `TypeError` for what terse cannot carry. */
function encodeValue(value: unknown, depth: number): string {
  switch (typeof value) {
    case "number":
      return pythonG(value);
    case "boolean":
      return value ? "1" : "0"; // Python's bool is an int: %g writes 1 and 0.
    case "bigint":
      return pythonG(Number(value));
    case "string":
      return quote(value);
    case "undefined":
      return "None";
    case "object": {
      if (value === null) return "None";
      if (depth >= MAX_DEPTH) throw new TypeError(`terse: nested deeper than ${MAX_DEPTH}`);
      if (value instanceof Uint8Array) return `'${encodeBase64(value)}'`;
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += " ";
          out += encodeValue(value[i], depth + 1);
        }
        return out + "]";
      }
      return `{${encodePairs(value as Record<string, unknown>, depth + 1, "map key")}}`;
    }
    default:
      throw new TypeError(`terse cannot carry a ${typeof value}`);
  }
}

/** `k:v k:v`, leaving out keys whose value is `undefined` (as JSON does). */
function encodePairs(object: Record<string, unknown>, depth: number, what: string): string {
  let out = "";
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue;
    if (out !== "") out += " ";
    out += `${name(key, what)}:${encodeValue(value, depth)}`;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/** An id terse can write (`%d`): a non-negative safe integer. */
function wireId(id: Id | null): number | undefined {
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

// ---------------------------------------------------------------- decoding

/** Why a telegram cannot be read. */
class Unreadable extends Error {}

/** Reads the telegrams of one frame. */
class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** Skips spaces, tabs and CRs (not newlines). */
  skipSpace(): void {
    const text = this.text;
    let c = text.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x09 || c === 0x0d) c = text.charCodeAt(++this.pos);
  }

  /** At a newline or the end: the telegram ends. */
  atLineEnd(): boolean {
    return this.pos >= this.text.length || this.text.charCodeAt(this.pos) === 0x0a;
  }

  fail(what: string): never {
    throw new Unreadable(`${what} at position ${this.pos}`);
  }

  /** A name: up to a space, tab, CR, `:` or newline. */
  name(): string {
    const text = this.text;
    const start = this.pos;
    let c = text.charCodeAt(this.pos);
    while (
      this.pos < text.length && c !== 0x20 && c !== 0x3a && c !== 0x0a && c !== 0x0d &&
      c !== 0x09
    ) {
      c = text.charCodeAt(++this.pos);
    }
    return text.slice(start, this.pos);
  }

  /** Whether a `name:` pair starts here (the lookahead that ends an error telegram). */
  pairAhead(): boolean {
    const start = this.pos;
    this.name();
    this.skipSpace();
    const ahead = this.text.charCodeAt(this.pos) === 0x3a;
    this.pos = start;
    return ahead;
  }

  /**
   * `name:value` pairs up to a newline, the end of the text or `closing`
   * (`}` in a map); with `lookahead`, also up to the first word not followed
   * by `:`.
   */
  pairs(depth: number, closing: number, lookahead: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (;;) {
      this.skipSpace();
      if (this.atLineEnd() || this.text.charCodeAt(this.pos) === closing) return out;
      if (lookahead && !this.pairAhead()) return out;
      const key = this.name();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail(`expected ':' after '${key}'`);
      this.pos++;
      const value = this.value(depth);
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true });
      } else {
        out[key] = value;
      }
    }
  }

  value(depth: number): unknown {
    if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    switch (c) {
      case 0x22: // "
        return this.string();
      case 0x27: { // '
        const end = text.indexOf("'", this.pos + 1);
        const base64 = end === -1 ? "\n" : text.slice(this.pos + 1, end);
        if (base64.includes("\n")) this.fail("unterminated bytes");
        let bytes: Uint8Array;
        try {
          bytes = decodeBase64(base64);
        } catch {
          this.fail("invalid base64");
        }
        this.pos = end + 1;
        return bytes;
      }
      case 0x5b: { // [
        this.pos++;
        const list: unknown[] = [];
        for (;;) {
          this.skipSpace();
          if (this.atLineEnd()) this.fail("unterminated list");
          if (text.charCodeAt(this.pos) === 0x5d) break;
          list.push(this.value(depth + 1));
        }
        this.pos++;
        return list;
      }
      case 0x7b: { // {
        this.pos++;
        const map = this.pairs(depth + 1, 0x7d, false);
        if (text.charCodeAt(this.pos) !== 0x7d) this.fail("unterminated map");
        this.pos++;
        return map;
      }
    }
    return this.word();
  }

  /** A number, `nan`, `inf`, `-inf`, or `None` (ours). */
  word(): unknown {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c === 0x4e || c === 0x6e || c === 0x69 || c === 0x2d) { // N n i -
      for (const [word, value] of WORDS) {
        if (text.startsWith(word, this.pos)) {
          this.pos += word.length;
          return value;
        }
      }
    }
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(text);
    if (match === null) this.fail("unsupported value");
    this.pos = NUMBER.lastIndex;
    return Number(match[0]);
  }

  /** A string: `\n`, `\"` and `\\` are escapes; any other backslash stays. */
  string(): string {
    const text = this.text;
    let out = "";
    let from = ++this.pos;
    for (;;) {
      const c = text.charCodeAt(this.pos);
      if (this.pos >= text.length || c === 0x0a) this.fail("unterminated string");
      if (c === 0x22) break;
      if (c === 0x5c) {
        const next = text.charCodeAt(this.pos + 1);
        if (next === 0x6e || next === 0x22 || next === 0x5c) {
          out += text.slice(from, this.pos) + (next === 0x6e ? "\n" : text[this.pos + 1]);
          this.pos += 2;
          from = this.pos;
          continue;
        }
      }
      this.pos++;
    }
    out += text.slice(from, this.pos++);
    return out;
  }

  /** `[id]`, as a number. */
  idNumber(): number {
    const close = this.text.indexOf("]", this.pos);
    const digits = close === -1 ? "" : this.text.slice(this.pos + 1, close);
    if (!DIGITS.test(digits) || !Number.isSafeInteger(Number(digits))) this.fail("expected [id]");
    this.pos = close + 1;
    return Number(digits);
  }
}

const WORDS: readonly (readonly [string, unknown])[] = [
  ["None", null],
  ["nan", NaN],
  ["inf", Infinity],
  ["-inf", -Infinity],
];

function dropped(reason: string): InvalidMessage {
  return {
    kind: "invalid",
    id: null,
    error: { code: ErrorCode.ParseError, message: reason },
    answer: false,
  };
}

/**
 * quickrpc's terse codec, one per connection ({@linkcode quickRpcTerse}
 * makes it). A frame is one line; a frame holding several (a datagram) gives
 * them all, and a reply the original wrote without its newline, glued to the
 * next telegram, is split off where its value closes.
 *
 * @example Encoding as quickrpc's terse codec does
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { QuickRpcTerseCodec } from "@seed/rpc/quickrpc";
 * const codec = new QuickRpcTerseCodec();
 * assertEquals(
 *   codec.encode({ kind: "request", id: 5, method: "add", params: { a: 1, b: 1234567 } }),
 *   ["add/5 a:1 b:1.23457e+06"],
 * );
 * assertEquals(codec.decode("[5]:3"), { kind: "result", id: 5, result: 3 });
 * ```
 */
export class QuickRpcTerseCodec implements Codec<string> {
  /** `"quickrpc-terse"`. */
  readonly name: string = "quickrpc-terse";
  /** The method of each call being answered, for quickrpc's error wording. */
  #methods = new Map<Id, string>();

  /** One telegram (without its newline); nothing for what terse cannot address. */
  encode(message: Message): readonly string[] {
    switch (message.kind) {
      case "request":
      case "notification": {
        const params = message.params ?? {};
        if (!isObject(params)) {
          throw new TypeError(
            `quickrpc takes named params only (an object); '${message.method}' got other`,
          );
        }
        const method = name(message.method, "method");
        if (method === "" || method.startsWith("[") || LOOKS_LIKE_ID.test(method)) {
          throw new TypeError(`terse cannot carry the method ${JSON.stringify(method)}`);
        }
        let head = method;
        if (message.kind === "request" && message.id !== 0 && message.id !== null) {
          const id = wireId(message.id);
          if (id === undefined) throw new TypeError(`terse ids are integers, not ${message.id}`);
          head += `/${id}`;
        }
        // The original writes the space even when there are no params: `ping \n`.
        return [`${head} ${encodePairs(params, 1, "parameter")}`];
      }
      case "result": {
        const id = this.#answered(message.id);
        if (id === undefined) return NO_FRAMES;
        return [`[${id}]:${encodeValue(message.result ?? null, 0)}`];
      }
      case "error": {
        const method = message.id === null ? undefined : this.#methods.get(message.id);
        const id = this.#answered(message.id);
        // The original answers an error only to a call with a nonzero id.
        if (id === undefined || id === 0) return NO_FRAMES;
        const { text, detail } = quickRpcError(message.error, method);
        return [`[${id}]! message:${quote(text)} details:${quote(detail)}`];
      }
      default:
        return NO_FRAMES;
    }
  }

  #answered(id: Id | null): number | undefined {
    if (id !== null) this.#methods.delete(id);
    return wireId(id);
  }

  /** Every telegram of `frame`; unreadable ones become `invalid` messages. */
  decode(frame: string): Message | readonly Message[] {
    const reader = new Reader(frame);
    let first: Message | undefined;
    let more: Message[] | undefined;
    for (;;) {
      const text = reader.text;
      let c = text.charCodeAt(reader.pos);
      while (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) {
        c = text.charCodeAt(++reader.pos);
      }
      if (reader.atEnd) break;
      const message = this.#telegram(reader);
      if (first === undefined) first = message;
      else (more ??= [first]).push(message);
    }
    return more ?? first ?? NOTHING;
  }

  /** One telegram from `reader.pos`; on failure, skips to the next line. */
  #telegram(reader: Reader): Message {
    let id: number | undefined;
    let method: string | undefined;
    try {
      if (reader.text.charCodeAt(reader.pos) === 0x5b) return this.#reply(reader);
      const head = reader.name();
      const slash = head.lastIndexOf("/");
      method = head;
      if (slash !== -1 && DIGITS.test(head.slice(slash + 1))) {
        method = head.slice(0, slash);
        const n = Number(head.slice(slash + 1));
        if (!Number.isSafeInteger(n)) reader.fail("id too large");
        id = n;
      }
      if (method === "") reader.fail("expected a method name");
      const params = reader.pairs(1, -1, false);
      reader.skipSpace();
      if (!reader.atLineEnd()) reader.fail("expected a newline");
      if (id === undefined || id === 0) return { kind: "notification", method, params };
      this.#methods.set(id, method);
      return { kind: "request", id, method, params };
    } catch (error) {
      if (!(error instanceof Unreadable)) throw error;
      const end = reader.text.indexOf("\n", reader.pos);
      reader.pos = end === -1 ? reader.text.length : end + 1;
      if (id === undefined || id === 0 || method === undefined || method === "") {
        return dropped(error.message);
      }
      // The id is readable: the caller is told, not left to time out.
      this.#methods.set(id, method);
      return {
        kind: "invalid",
        id,
        error: { code: ErrorCode.InvalidParams, message: error.message },
        answer: true,
      };
    }
  }

  /**
   * `[id]:value` or `[id]! message:… details:…`. The original writes no
   * newline after them, so a reply ends where its value closes; what follows
   * on the same line is the next telegram.
   */
  #reply(reader: Reader): Message {
    const id = reader.idNumber();
    const mark = reader.text.charCodeAt(reader.pos++);
    if (mark === 0x3a) {
      const result = reader.value(0);
      reader.skipSpace();
      return { kind: "result", id, result };
    }
    if (mark !== 0x21) reader.fail("expected ':' or '!' after [id]");
    const fields = reader.pairs(1, -1, true);
    const message = typeof fields.message === "string" ? fields.message : "Unknown error";
    const data = typeof fields.details === "string" ? fields.details : "";
    return { kind: "error", id, error: { code: 0, message, data } };
  }
}

/**
 * quickrpc's `terse` codec as a dialect: one telegram per line on byte
 * streams (`\n`-ended), one per message on message wires.
 *
 * @example Decoding a notification the original sent
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quickRpcTerse } from "@seed/rpc/quickrpc";
 * assertEquals(quickRpcTerse.server().decode('echo text:"hi there"'), {
 *   kind: "notification",
 *   method: "echo",
 *   params: { text: "hi there" },
 * });
 * ```
 */
export const quickRpcTerse: Dialect = Object.freeze({
  name: "quickrpc-terse",
  delimiter: "\n",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  client: (): Codec<string> => new QuickRpcTerseCodec(),
  server: (): Codec<string> => new QuickRpcTerseCodec(),
});
