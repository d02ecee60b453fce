/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default
 * settings, for dialects whose peers are Python programs (simplerpc,
 * quickrpc) and whose bytes we match:
 *
 * - separators `", "` and `": "`;
 * - `ensure_ascii`: every character outside `' '..'~'` is escaped, as
 *   `\uXXXX` in lowercase hex (astral characters as surrogate pairs), except
 *   `\n \r \t \b \f` and `\" \\`;
 * - floats as Python's `repr`: exponent form below 1e-4 or from 1e16 on,
 *   with at least two exponent digits (`1e-05`, `1e+16`); `NaN`,
 *   `Infinity`, `-Infinity` as Python writes them;
 * - whole numbers below 1e21 as integers (JavaScript cannot tell `2` from
 *   `2.0`; Python clients send integers far more often).
 *
 * @module
 */

/** Turns a value that JSON cannot carry (a `Uint8Array`) into one it can, or returns it. */
export type PythonJsonHook = (value: unknown) => unknown;

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** A string literal as Python's json module writes it. */
export function pythonString(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) {
      out += text[i];
    } else {
      out += ESCAPES[text[i]!] ?? `\\u${c.toString(16).padStart(4, "0")}`;
    }
  }
  return out + '"';
}

/** A number as Python's json module writes it (see the module docs). */
export function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Object.is(n, -0) ? "0" : String(n);
  const abs = Math.abs(n);
  if (abs >= 1e-4 && abs < 1e16) return String(n);
  // Shortest round-trip digits, Python's exponent style.
  const [mantissa, exponent] = n.toExponential().split("e") as [string, string];
  const sign = exponent[0] === "-" ? "-" : "+";
  const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
  return `${mantissa}e${sign}${digits}`;
}

/**
 * Serialises `value` as Python's `json.dumps` does. `hook` may replace
 * values JSON cannot carry; `undefined` members are left out (as in
 * `JSON.stringify`), and `toJSON` is honoured. Throws a `TypeError` on a
 * `BigInt`, a function, or a cycle.
 */
export function pythonJson(value: unknown, hook?: PythonJsonHook): string {
  return write(value, hook, undefined);
}

/** `ancestors`: the objects being written around `value` (made at the first object). */
function write(
  value: unknown,
  hook: PythonJsonHook | undefined,
  ancestors: object[] | undefined,
): string {
  if (hook !== undefined) value = hook(value);
  switch (typeof value) {
    case "string":
      return pythonString(value);
    case "number":
      return pythonNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "null";
    case "bigint":
      throw new TypeError("Do not know how to serialize a BigInt");
    case "function":
    case "symbol":
      throw new TypeError(`Do not know how to serialize a ${typeof value}`);
  }
  if (value === null) return "null";
  const object = value as Record<string, unknown> & { toJSON?: () => unknown };
  if (typeof object.toJSON === "function") return write(object.toJSON(), hook, ancestors);
  if (ancestors === undefined) ancestors = [];
  else if (ancestors.includes(object)) {
    throw new TypeError("Converting circular structure to JSON");
  }
  ancestors.push(object);
  // Built in place, no array of parts to join (this writer is on nuropb's hot path).
  let out: string;
  if (Array.isArray(object)) {
    out = `[${object.map((item) => write(item, hook, ancestors)).join(", ")}]`;
  } else {
    out = "{";
    for (const key of Object.keys(object)) {
      const member = object[key];
      if (member === undefined || typeof member === "function") continue;
      out += (out.length === 1 ? "" : ", ") + pythonString(key) + ": " +
        write(member, hook, ancestors);
    }
    out += "}";
  }
  ancestors.pop();
  return out;
}
