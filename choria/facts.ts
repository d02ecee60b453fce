/**
 * go-choria's fact matching (`filter/facts`): one `fact operator value`
 * filter against a node's facts, with go-choria's rules for each JSON type,
 * and `ParseFactFilterString`'s reading of `fact=value` text.
 *
 * @module
 */

import { gjsonGet } from "./compound/gjson.ts";
import type { Value } from "./compound/evaluate.ts";
import { re2 } from "./validators.ts";

/** One fact filter: `fact operator value`. */
export interface FactFilter {
  /** The fact's GJSON path; dots reach into nested facts (`os.family`). */
  fact: string;
  /** `==`, `!=`, `<`, `>`, `<=`, `>=` or `=~` (a regex). */
  operator: string;
  /** The value to compare with. */
  value: string;
}

/** A fact filter go-choria cannot evaluate (it logs a warning and the node does not match). */
export class FactMatchError extends Error {
  /**
   * Makes the error.
   *
   * @param message Why the filter cannot be evaluated.
   */
  constructor(message: string) {
    super(message);
    this.name = "FactMatchError";
  }
}

/** GJSON's type of a fact's value, by its name in go-choria's errors. */
function gjsonType(value: unknown): "String" | "Number" | "True" | "False" | "Null" | "JSON" {
  switch (typeof value) {
    case "string":
      return "String";
    case "number":
      return "Number";
    case "boolean":
      return value ? "True" : "False";
    case "object":
      return value === null ? "Null" : "JSON";
  }
  throw new FactMatchError(`do not know how to evaluate data of type ${typeof value}`);
}

// --- Go's strconv, as the matchers use it ---

/** Go's `strconv.ParseBool` reading true. */
function truthy(value: string): boolean {
  return value === "1" || value === "t" || value === "T" || value === "TRUE" ||
    value === "true" || value === "True";
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's `strconv.Atoi` (64-bit): an optionally signed run of ASCII digits. */
function atoi(value: string): bigint {
  if (!/^[+-]?[0-9]+$/.test(value)) {
    throw new FactMatchError(`strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  const n = BigInt(value);
  if (n < INT64_MIN || n > INT64_MAX) {
    throw new FactMatchError(`strconv.Atoi: parsing ${JSON.stringify(value)}: value out of range`);
  }
  return n;
}

/** Go's underscoreOK: `_` only between digits (or right after a base prefix). */
function underscoresOk(text: string): boolean {
  let s = text.replace(/^[+-]/, "");
  let saw = "^";
  let hex = false;
  if (/^0[bBoOxX]/.test(s)) {
    hex = /^0[xX]/.test(s);
    s = s.slice(2);
    saw = "0";
  }
  for (const c of s) {
    if (/[0-9]/.test(c) || (hex && /[a-fA-F]/.test(c))) saw = "0";
    else if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
    } else if (saw === "_") return false;
    else saw = "!";
  }
  return saw !== "_";
}

const DECIMAL_FLOAT = /^[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9][0-9_]*)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F_]*)\.?([0-9a-fA-F_]*)[pP]([+-]?[0-9][0-9_]*)$/;

/**
 * Go's `strconv.ParseFloat(value, 64)` for the values the matchers give it
 * (they hold a `.`): decimal or hexadecimal (`0x1.8p1`) syntax, `_` between
 * digits, an error past float64's range.
 */
function parseFloat64(value: string): number {
  const bad = (why: string) =>
    new FactMatchError(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: ${why}`);
  let n: number;
  const hex = HEX_FLOAT.exec(value);
  if (hex !== null && /[0-9a-fA-F]/.test(hex[2]! + hex[3]!) && underscoresOk(value)) {
    const [, sign, whole, fraction, exponent] = hex;
    const digits = (whole! + fraction!).replaceAll("_", "");
    const power = Number(exponent!.replaceAll("_", "")) - 4 * fraction!.replaceAll("_", "").length;
    n = Number(BigInt(`0x${digits}`)) * 2 ** power;
    if (sign === "-") n = -n;
  } else if (DECIMAL_FLOAT.test(value) && /[0-9]/.test(value) && underscoresOk(value)) {
    n = Number(value.replaceAll("_", ""));
  } else {
    throw bad("invalid syntax");
  }
  if (!Number.isFinite(n)) throw bad("value out of range");
  return n;
}

const MAX_SAFE = 9007199254740991;

/**
 * `int(gjson.Result.Int())` of a number fact: truncated toward zero; past
 * 2^53 the nearest whole number, and past int64 Go's overflowed conversion.
 */
function factInt(n: number): bigint {
  if (n >= -MAX_SAFE && n <= MAX_SAFE) return BigInt(Math.trunc(n));
  if (Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63) return BigInt(n);
  return INT64_MIN; // int64(f) of an out-of-range float on amd64
}

/** Go's `fmt.Sprintf("%.4f", f)`: the exact binary value rounded half to even. */
function formatFixed4(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent = -1074;
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  let scaled: bigint; // |x| * 10^4, rounded
  if (exponent >= 0) scaled = (mantissa << BigInt(exponent)) * 10000n;
  else {
    const numerator = mantissa * 10000n, denominator = 1n << BigInt(-exponent);
    scaled = numerator / denominator;
    const twice = (numerator % denominator) * 2n;
    if (twice > denominator || (twice === denominator && scaled % 2n === 1n)) scaled++;
  }
  const digits = scaled.toString().padStart(5, "0");
  return `${bits >> 63n === 1n ? "-" : ""}${digits.slice(0, -4)}.${digits.slice(-4)}`;
}

// --- Go's strings, as the matchers use them ---

/** A code point's key under Go's simple case folding, as JavaScript's case mapping gives it. */
function foldKey(c: string): string {
  if (c === "\u0130" || c === "\u0131") return c; // dotted İ and dotless ı fold with nothing
  const upper = c.toUpperCase();
  if ([...upper].length === 1) {
    const lower = upper.toLowerCase();
    if ([...lower].length === 1) return lower;
  }
  const lower = c.toLowerCase();
  return [...lower].length === 1 ? lower : c;
}

/** Go's `strings.EqualFold`: equal under Unicode case folding, code point by code point. */
function equalFold(a: string, b: string): boolean {
  if (a === b) return true;
  const x = [...a], y = [...b];
  if (x.length !== y.length) return false;
  return x.every((c, i) => c === y[i] || foldKey(c) === foldKey(y[i]!));
}

/** Go's `strings.ToLower`: each code point's own lower case (İ is i; no final-sigma rule). */
function toLower(text: string): string {
  let out = "";
  for (const c of text) {
    const lower = c === "\u0130" ? "i" : c.toLowerCase();
    out += [...lower].length === 1 ? lower : c;
  }
  return out;
}

/** Compares as Go compares strings: by UTF-8 bytes, which is code point order. */
function compareStrings(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** go-choria's regexMatch: slashes trimmed from both ends, case ignored, Go syntax. */
function regexMatch(text: string, pattern: string): boolean {
  let source = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  let flags = "i";
  for (let m = /^\(\?([imsU]+)\)/.exec(source); m !== null; m = /^\(\?([imsU]+)\)/.exec(source)) {
    flags += m[1];
    source = source.slice(m[0].length);
  }
  let re: RegExp;
  try {
    re = re2(`(?${[...new Set(flags)].join("")})${source}`);
  } catch (error) {
    throw new FactMatchError(`error parsing regexp: ${(error as Error).message}`);
  }
  return re.test(text);
}

// --- the matchers ---

type Ordering = "<" | ">" | "<=" | ">=";

function ordered(operator: Ordering, d: number): boolean {
  switch (operator) {
    case "<":
      return d < 0;
    case ">":
      return d > 0;
    case "<=":
      return d <= 0;
    case ">=":
      return d >= 0;
  }
}

function sign(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function equalMatch(fact: unknown, value: string): boolean {
  switch (gjsonType(fact)) {
    case "String":
      return equalFold(fact as string, value);
    case "Number":
      return value.includes(".")
        ? fact === parseFloat64(value)
        : factInt(fact as number).toString() === value;
    case "True":
      return truthy(value);
    case "False":
      return !truthy(value);
    default:
      return false;
  }
}

function notEqualMatch(fact: unknown, value: string): boolean {
  switch (gjsonType(fact)) {
    case "String":
      return !equalFold(fact as string, value);
    case "Number":
      return value.includes(".")
        ? fact !== parseFloat64(value)
        : factInt(fact as number).toString() !== value;
    case "True":
      return !truthy(toLower(value));
    case "False":
      return !truthy(toLower(value)); // go-choria's: a false fact is != "false" too
    default:
      return false;
  }
}

function regexFactMatch(fact: unknown, value: string): boolean {
  switch (gjsonType(fact)) {
    case "String":
      return regexMatch(fact as string, value);
    case "Number":
      return regexMatch(
        value.includes(".") ? formatFixed4(fact as number) : factInt(fact as number).toString(),
        value,
      );
    case "True":
      return truthy(toLower(value));
    case "False":
      return !truthy(toLower(value));
    default:
      return false;
  }
}

function orderMatch(fact: unknown, operator: Ordering, value: string): boolean {
  const type = gjsonType(fact);
  if (type === "String") {
    return ordered(operator, compareStrings(toLower(fact as string), toLower(value)));
  }
  if (type !== "Number") {
    throw new FactMatchError(`do not know how to evaluate data of type ${type}`);
  }
  if (!value.includes(".")) {
    return ordered(operator, sign(factInt(fact as number), atoi(value)));
  }
  // go-choria's > on a float value is >=.
  return ordered(operator === ">" ? ">=" : operator, sign(fact as number, parseFloat64(value)));
}

/**
 * go-choria's `HasFactJSON`: whether `facts` satisfy `filter`. A missing fact
 * is false; a filter that cannot be evaluated throws a {@linkcode FactMatchError}.
 */
export function hasFact(facts: Readonly<Record<string, unknown>>, filter: FactFilter): boolean {
  const { fact: path, operator, value } = filter;
  let fact: unknown;
  try {
    fact = gjsonGet(facts as Value, path);
  } catch (error) {
    throw new FactMatchError((error as Error).message);
  }
  if (fact === undefined) return false;
  switch (operator) {
    case "==":
      return equalMatch(fact, value);
    case "!=":
      return notEqualMatch(fact, value);
    case "=~":
      return regexFactMatch(fact, value);
    case "<":
    case ">":
    case "<=":
    case ">=":
      return orderMatch(fact, operator, value);
  }
  throw new FactMatchError(
    `unknown fact matching operator ${operator} while looking for fact ${path}`,
  );
}

const OPERATORS = /<=|>=|=>|=<|<|>|!=|=~|={1,2}/g;
/** Go's `unicode.IsSpace`, for `strings.TrimSpace`. */
const SPACE =
  "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const TRIM = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/**
 * go-choria's `ParseFactFilterString`: `fact=value`, `fact>=1`, `fact=/re/`
 * (the rightmost operator splits; `=` is `==`, `=<` is `<=`, `=>` is `>=`, a
 * `/.../` value is `=~`), or `undefined` when the text is no fact filter.
 */
export function parseFactFilter(text: string): FactFilter | undefined {
  const found = [...text.matchAll(OPERATORS)];
  const last = found[found.length - 1];
  if (last === undefined) return undefined;
  let operator = last[0];
  const fact = text.slice(0, last.index).replace(TRIM, "");
  const value = text.slice(last.index + operator.length).replace(TRIM, "");
  if (fact === "" || value === "") return undefined;
  if ("<>=".includes(fact[0]!) || "<>=".includes(value[value.length - 1]!)) return undefined;
  operator = { "=": "==", "=<": "<=", "=>": ">=" }[operator] ?? operator;
  if (value.startsWith("/") && value.endsWith("/")) operator = "=~";
  return { fact, operator, value };
}
