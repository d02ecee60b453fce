/**
 * The parts of Go's standard library whose exact behaviour go-choria's fact
 * matching depends on: `strconv.ParseBool`, `Atoi` and `ParseFloat`,
 * `fmt`'s `%.4f`, and `strings.EqualFold`, `ToLower`, `TrimSpace` and string
 * ordering.
 *
 * @module
 */

/** Go's `strconv.NumError`: a text that is no number of the kind wanted. */
export class NumError extends Error {
  /**
   * Makes the error.
   *
   * @param message Go's message (`strconv.Atoi: parsing "x": invalid syntax`).
   */
  constructor(message: string) {
    super(message);
    this.name = "NumError";
  }
}

/** Go's `strconv.ParseBool` reading true. */
export function truthy(value: string): boolean {
  return value === "1" || value === "t" || value === "T" || value === "TRUE" ||
    value === "true" || value === "True";
}

/** Go's smallest int64. */
export const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's `strconv.Atoi` (64-bit): an optionally signed run of ASCII digits. */
export function atoi(value: string): bigint {
  if (!/^[+-]?[0-9]+$/.test(value)) {
    throw new NumError(`strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  // Past 19 significant digits it is out of range: no BigInt of a megabyte of digits per node.
  const n = value.replace(/^[+-]?0*/, "").length > 19 ? INT64_MAX + 1n : BigInt(value);
  if (n < INT64_MIN || n > INT64_MAX) {
    throw new NumError(`strconv.Atoi: parsing ${JSON.stringify(value)}: value out of range`);
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
export function parseFloat64(value: string): number {
  const bad = (why: string) =>
    new NumError(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: ${why}`);
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

/** Go's `fmt.Sprintf("%.4f", f)`: the exact binary value rounded half to even. */
export function formatFixed4(x: number): string {
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
export function equalFold(a: string, b: string): boolean {
  if (a === b) return true;
  const x = [...a], y = [...b];
  if (x.length !== y.length) return false;
  return x.every((c, i) => c === y[i] || foldKey(c) === foldKey(y[i]!));
}

/** Go's `strings.ToLower`: each code point's own lower case (İ is i; no final-sigma rule). */
export function toLower(text: string): string {
  let out = "";
  for (const c of text) {
    const lower = c === "\u0130" ? "i" : c.toLowerCase();
    out += [...lower].length === 1 ? lower : c;
  }
  return out;
}

/** Compares as Go compares strings: by UTF-8 bytes, which is code point order. */
export function compareStrings(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Go's `unicode.IsSpace`, for `strings.TrimSpace`. */
const SPACE =
  "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const TRIM = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/** Go's `strings.TrimSpace`. */
export function trimSpace(text: string): string {
  return text.replace(TRIM, "");
}
