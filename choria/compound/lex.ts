/**
 * The lexer of the compound filter language (expr's tokens): numbers
 * (`1_000`, `0x1f`, `0o17`, `0b11`, `1.5e3`), strings (`"..."`, `'...'` with
 * Go's escapes, raw in backquotes), names, word operators (`and`, `in`,
 * `matches`, ...), operators and brackets; `//` and `/* *\/` comments are
 * skipped.
 *
 * @module
 */

import { CompoundError } from "./error.ts";

/** What a token is. */
export type TokenKind = "num" | "str" | "ident" | "op" | "bracket" | "eof";

/** One token: its kind, text (a string's value), offset, and a number's value. */
export interface Token {
  /** What it is. */
  kind: TokenKind;
  /** Its text; for a string, the decoded value. */
  value: string;
  /** Its 0-based offset in the expression. */
  at: number;
  /** A number's value. */
  num?: number;
}

const WORD_OPERATORS = new Set([
  "in",
  "or",
  "and",
  "not",
  "matches",
  "contains",
  "startsWith",
  "endsWith",
  "let",
]);

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
const isDigit = (c: string) => c >= "0" && c <= "9";
const isIdentStart = (c: string) => /[\p{L}_$]/u.test(c);
const isIdentPart = (c: string) => /[\p{L}\p{Nd}_$]/u.test(c);

/** Splits an expression into tokens (comments `//` and `/* *\/` skipped). */
export function lex(src: string): Token[] {
  const tokens: Token[] = [];
  const fail = (message: string, at: number): never => {
    throw new CompoundError(message, src, at);
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const start = i;
    if (isSpace(c)) {
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("unclosed comment", start);
      i = end + 2;
    } else if (c === '"' || c === "'") {
      const [value, next] = readString(src, i, fail);
      tokens.push({ kind: "str", value, at: start });
      i = next;
    } else if (c === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) fail("literal not terminated", start);
      tokens.push({ kind: "str", value: src.slice(i + 1, end), at: start });
      i = end + 1;
    } else if (isDigit(c) || (c === "." && isDigit(src[i + 1] ?? ""))) {
      const m =
        /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)/
          .exec(src.slice(i))!;
      const text = m[0];
      const after = src[i + text.length] ?? "";
      if (text === "" || isIdentPart(after)) fail(`bad number syntax: "${text}${after}"`, start);
      const clean = text.replaceAll("_", "");
      const lower = clean.toLowerCase();
      const num = lower.startsWith("0o")
        ? parseInt(clean.slice(2), 8)
        : lower.startsWith("0b")
        ? parseInt(clean.slice(2), 2)
        : Number(clean);
      if (!Number.isFinite(num)) fail(`invalid number literal "${text}"`, start);
      tokens.push({ kind: "num", value: text, at: start, num });
      i += text.length;
    } else if (isIdentStart(c)) {
      while (i < src.length && isIdentPart(src[i]!)) i++;
      const word = src.slice(start, i);
      tokens.push({ kind: WORD_OPERATORS.has(word) ? "op" : "ident", value: word, at: start });
    } else if ("([{)]}".includes(c)) {
      tokens.push({ kind: "bracket", value: c, at: start });
      i++;
    } else {
      const op = ["**", "==", "!=", "<=", ">=", "&&", "||", "..", "?.", "??"].find((o) =>
        src.startsWith(o, i)
      ) ?? (",;:+-*/%^!<>.?#|".includes(c) ? c : undefined);
      if (op === undefined || op === ";" || op === "|") {
        const shown = op ?? JSON.stringify(c).slice(1, -1);
        fail(
          op === undefined ? `unrecognized character "${shown}"` : `"${op}" is not supported`,
          start,
        );
      }
      tokens.push({ kind: "op", value: op!, at: start });
      i += op!.length;
    }
  }
  tokens.push({ kind: "eof", value: "", at: src.length });
  return tokens;
}

/** Reads a quoted string with Go's escapes; returns its value and the next offset. */
function readString(
  src: string,
  start: number,
  fail: (message: string, at: number) => never,
): [string, number] {
  const quote = src[start]!;
  let out = "";
  let i = start + 1;
  for (;;) {
    if (i >= src.length) return fail("literal not terminated", start);
    const c = src[i]!;
    if (c === quote) return [out, i + 1];
    if (c === "\n") fail("literal not terminated", start);
    if (c !== "\\") {
      out += c;
      i++;
      continue;
    }
    const e = src[i + 1] ?? "";
    const simple: Record<string, string> = {
      a: "\x07",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "\\": "\\",
      "'": "'",
      '"': '"',
    };
    if (e in simple) {
      out += simple[e];
      i += 2;
      continue;
    }
    const hex = { x: 2, u: 4, U: 8 }[e as "x" | "u" | "U"];
    const digits = hex !== undefined ? src.slice(i + 2, i + 2 + hex) : src.slice(i + 1, i + 4);
    const valid = hex !== undefined
      ? new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)
      : /^[0-7]{3}$/.test(digits);
    if (!valid) fail("invalid char escape", i);
    const code = parseInt(digits, hex !== undefined ? 16 : 8);
    if (
      code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || (hex === undefined && code > 255)
    ) {
      fail("invalid char escape", i);
    }
    out += String.fromCodePoint(code);
    i += hex !== undefined ? 2 + hex : 4;
  }
}
