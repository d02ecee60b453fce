/**
 * The string validators Choria's DDL `validation` names: `shellsafe`,
 * `ipv4address`, `ipv6address`, `ipaddress`, and a regular expression
 * (Go RE2, searched unanchored). Messages are go-choria's, word for word.
 *
 * @module
 */

const SHELL_UNSAFE = ["`", "$", ";", "|", "&&", ">", "<"];

/**
 * `shellsafe`: refuses the characters a shell would act on, reporting the
 * first of `` ` `` `$` `;` `|` `&&` `>` `<` that the value holds.
 *
 * @example Shell-safe strings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { shellSafe } from "@seed/rpc/choria";
 * assertEquals(shellSafe("rm -rf / ; echo"), "may not contain ';'");
 * assertEquals(shellSafe("plain words"), undefined);
 * ```
 */
export function shellSafe(value: string): string | undefined {
  const bad = SHELL_UNSAFE.find((c) => value.includes(c));
  return bad === undefined ? undefined : `may not contain '${bad}'`;
}

/** The bytes of a dotted-quad IPv4 address (no leading zeros, as Go ≥ 1.17), or undefined. */
function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part[0] === "0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/**
 * The 16 bytes of an IPv6 address, with Go's rules: hex groups of 1 to 4
 * digits, at most one `::` standing for at least one zero group, an optional
 * dotted IPv4 tail, no zone (`%eth0`). Undefined when it is not one.
 */
function parseIPv6(text: string): number[] | undefined {
  if (text.includes("%")) return undefined;
  let body = text;
  let tail: number[] = [];
  if (text.includes(".")) {
    const colon = text.lastIndexOf(":");
    const v4 = colon === -1 ? undefined : parseIPv4(text.slice(colon + 1));
    if (v4 === undefined) return undefined;
    tail = v4;
    body = text.slice(0, colon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const groups = 8 - tail.length / 2;
  const ellipsis = body.indexOf("::");
  if (ellipsis !== body.lastIndexOf("::")) return undefined;
  const split = (part: string) => part === "" ? [] : part.split(":");
  let words: string[];
  if (ellipsis === -1) {
    words = split(body);
    if (words.length !== groups) return undefined;
  } else {
    const left = split(body.slice(0, ellipsis));
    const right = split(body.slice(ellipsis + 2));
    if (left.length + right.length >= groups) return undefined;
    words = [...left, ...Array<string>(groups - left.length - right.length).fill("0"), ...right];
  }
  const bytes: number[] = [];
  for (const word of words) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(word)) return undefined;
    const n = parseInt(word, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return [...bytes, ...tail];
}

/**
 * An IP address as Go's `net.ParseIP` reads it: `v4` when it is IPv4 or an
 * IPv4-mapped IPv6 address (`::ffff:1.2.3.4`), `v6` otherwise; undefined when
 * it is not an address.
 *
 * @example IPv4 and IPv6 addresses
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseIP } from "@seed/rpc/choria";
 * assertEquals(parseIP("10.0.0.1"), "v4");
 * assertEquals(parseIP("::ffff:10.0.0.1"), "v4");
 * assertEquals(parseIP("fe80::1"), "v6");
 * assertEquals(parseIP("fe80::1%eth0"), undefined);
 * ```
 */
export function parseIP(text: string): "v4" | "v6" | undefined {
  if (parseIPv4(text) !== undefined) return "v4";
  const bytes = parseIPv6(text);
  if (bytes === undefined) return undefined;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
  return mapped ? "v4" : "v6";
}

/**
 * Translates a Go RE2 pattern into a JavaScript `RegExp`: `(?P<name>` groups,
 * leading `(?i)`, `(?s)`, `(?m)` flags, `\A`, `\z` and POSIX classes. Throws
 * a `SyntaxError` when the pattern is not valid.
 *
 * @example RE2 flags in a pattern
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { re2 } from "@seed/rpc/choria";
 * assertEquals(re2("(?i)^web\\d+$").test("WEB01"), true);
 * ```
 */
export function re2(pattern: string): RegExp {
  let source = pattern;
  let flags = "u";
  const leading = source.match(/^\(\?([imsU]+)\)/);
  if (leading !== null) {
    for (const flag of leading[1]!) if (flag !== "U" && !flags.includes(flag)) flags += flag;
    source = source.slice(leading[0].length);
  }
  source = source
    .replaceAll("(?P<", "(?<")
    .replaceAll("\\A", "^")
    .replaceAll("\\z", "$")
    .replace(
      /\[:(alpha|digit|alnum|space|upper|lower|punct|xdigit|word|blank|cntrl|print|graph):\]/g,
      (_, name) => POSIX[name as keyof typeof POSIX],
    );
  try {
    return new RegExp(source, flags);
  } catch {
    // Some RE2 escapes are invalid only in JavaScript's unicode mode.
    return new RegExp(source, flags.replace("u", ""));
  }
}

const POSIX = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "0-9A-Za-z",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  lower: "a-z",
  punct: "!-\\/:-@\\[-`{-~",
  xdigit: "0-9A-Fa-f",
  word: "0-9A-Za-z_",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  print: " -~",
  graph: "!-~",
} as const;

/**
 * Applies a DDL `validation` to a string value, as go-choria does. Returns
 * the error message, or `undefined` when the value passes; an unknown named
 * validator (a name starting with a lowercase letter) passes with a
 * warning.
 *
 * @example Named and pattern validations
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { validateString } from "@seed/rpc/choria";
 * assertEquals(validateString("ipv4address", "300.1.1.1").error, "300.1.1.1 is not an IPv4 address");
 * assertEquals(validateString("^\\d+$", "12").error, undefined);
 * assertEquals(validateString("hostname", "x").warning, "Unsupported validator 'hostname'");
 * ```
 */
export function validateString(
  validation: string,
  value: string,
): { error?: string; warning?: string } {
  switch (validation) {
    case "shellsafe": {
      const error = shellSafe(value);
      return error === undefined ? {} : { error };
    }
    case "ipv4address":
      return parseIP(value) === "v4" ? {} : { error: `${value} is not an IPv4 address` };
    case "ipv6address":
      return parseIP(value) === "v6" ? {} : { error: `${value} is not an IPv6 address` };
    case "ipaddress":
      return parseIP(value) !== undefined ? {} : { error: `${value} is not an IP address` };
  }
  if (/^[a-z]/.test(validation)) return { warning: `Unsupported validator '${validation}'` };
  let regex: RegExp;
  try {
    regex = re2(validation);
  } catch {
    return { error: `invalid regex '${validation}'` };
  }
  return regex.test(value) ? {} : { error: `input does not match '${validation}'` };
}
