/**
 * Lexer and parser for the subset of expr-lang (the language go-choria's
 * compound filters are written in) that compound filters use: literals,
 * arrays, maps, member access, calls, predicates (`{# > 1}`), and expr's
 * operators with its precedence (`or`/`||` < `and`/`&&` < comparisons, `in`,
 * `matches`, `contains`, `startsWith`, `endsWith` < `..` < `+ -` < `* / %` <
 * unary `not ! - +` < `** ^` < `??`), `not in` style negation, chained
 * comparisons and the ternary `?:`.
 *
 * @module
 */

import { CompoundError, MAX_DEPTH, MAX_EXPRESSION_LENGTH } from "./error.ts";

/** A node of the syntax tree; `at` is its offset in the expression. */
export type Node =
  | { k: "lit"; at: number; v: null | boolean | number | string }
  | { k: "ident"; at: number; name: string }
  | { k: "pointer"; at: number }
  | { k: "unary"; at: number; op: string; x: Node }
  | { k: "binary"; at: number; op: string; l: Node; r: Node }
  | { k: "member"; at: number; obj: Node; prop: Node; optional: boolean }
  | { k: "slice"; at: number; obj: Node; from?: Node; to?: Node }
  | { k: "call"; at: number; name: string; args: Node[] }
  | { k: "closure"; at: number; body: Node }
  | { k: "array"; at: number; items: Node[] }
  | { k: "map"; at: number; entries: [Node, Node][] }
  | { k: "cond"; at: number; c: Node; a: Node; b: Node };

type TokenKind = "num" | "str" | "ident" | "op" | "bracket" | "eof";

interface Token {
  kind: TokenKind;
  value: string;
  at: number;
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
const NEGATABLE = new Set(["in", "matches", "contains", "startsWith", "endsWith"]);

const BINARY: Record<string, [precedence: number, right: boolean]> = {
  "or": [10, false],
  "||": [10, false],
  "and": [15, false],
  "&&": [15, false],
  "==": [20, false],
  "!=": [20, false],
  "<": [20, false],
  ">": [20, false],
  ">=": [20, false],
  "<=": [20, false],
  "in": [20, false],
  "matches": [20, false],
  "contains": [20, false],
  "startsWith": [20, false],
  "endsWith": [20, false],
  "..": [25, false],
  "+": [30, false],
  "-": [30, false],
  "*": [60, false],
  "/": [60, false],
  "%": [60, false],
  "**": [100, true],
  "^": [100, true],
  "??": [500, false],
};
const UNARY: Record<string, number> = { "not": 50, "!": 50, "-": 90, "+": 90 };
const COMPARISON = new Set(["<", ">", "<=", ">="]);
/** Builtins whose second argument is a predicate. */
export const PREDICATES: ReadonlySet<string> = new Set([
  "all",
  "any",
  "none",
  "one",
  "filter",
  "map",
  "count",
]);

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
const isDigit = (c: string) => c >= "0" && c <= "9";
const isIdentStart = (c: string) => /[\p{L}_$]/u.test(c);
const isIdentPart = (c: string) => /[\p{L}\p{Nd}_$]/u.test(c);

/** Splits an expression into tokens (comments `//` and `/* *\/` skipped). */
function lex(src: string): Token[] {
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

/** Parses an expression into a syntax tree, or throws a {@linkcode CompoundError}. */
export function parse(src: string): Node {
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw new CompoundError(
      `expression is ${src.length} characters long, over the limit of ${MAX_EXPRESSION_LENGTH}`,
      src,
      MAX_EXPRESSION_LENGTH,
    );
  }
  const root = new Parser(src, lex(src)).parseAll();
  checkDepth(root, src);
  return root;
}

/** The operands of a node. */
export function children(node: Node): Node[] {
  switch (node.k) {
    case "lit":
    case "ident":
    case "pointer":
      return [];
    case "unary":
      return [node.x];
    case "binary":
      return [node.l, node.r];
    case "member":
      return [node.obj, node.prop];
    case "slice":
      return [node.obj, ...(node.from ? [node.from] : []), ...(node.to ? [node.to] : [])];
    case "call":
      return node.args;
    case "closure":
      return [node.body];
    case "array":
      return node.items;
    case "map":
      return node.entries.flat();
    case "cond":
      return [node.c, node.a, node.b];
  }
}

/** Refuses trees deeper than {@linkcode MAX_DEPTH} (long chains such as `1+1+...` too), so evaluation cannot exhaust the stack. */
function checkDepth(root: Node, src: string): void {
  const stack: [Node, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) {
      throw new CompoundError(`expression nested deeper than ${MAX_DEPTH}`, src, node.at);
    }
    for (const child of children(node)) stack.push([child, depth + 1]);
  }
}

class Parser {
  #pos = 0;
  #depth = 0;
  #closures = 0;

  constructor(readonly src: string, readonly tokens: Token[]) {}

  get #cur(): Token {
    return this.tokens[this.#pos]!;
  }

  #fail(message: string, at = this.#cur.at): never {
    throw new CompoundError(message, this.src, at);
  }

  #unexpected(): never {
    const t = this.#cur;
    this.#fail(t.kind === "eof" ? "unexpected end of expression" : `unexpected token "${t.value}"`);
  }

  #is(kind: TokenKind, value?: string): boolean {
    const t = this.#cur;
    return t.kind === kind && (value === undefined || t.value === value);
  }

  #expect(kind: TokenKind, value: string): void {
    if (!this.#is(kind, value)) {
      if (this.#is("eof")) this.#fail(`expected "${value}" but the expression ended`);
      this.#fail(`expected "${value}" but found "${this.#cur.value}"`);
    }
    this.#pos++;
  }

  /** Between items of a list closed by `close`: a comma, or a clear error. */
  #separator(close: string): void {
    if (this.#is("op", ",")) {
      this.#pos++;
      return;
    }
    if (this.#is("eof")) this.#fail(`expected "${close}" but the expression ended`);
    this.#fail(`expected "," or "${close}" but found "${this.#cur.value}"`);
  }

  /** Guards the recursion: nesting past {@linkcode MAX_DEPTH} is refused. */
  #enter(): void {
    if (++this.#depth > MAX_DEPTH) this.#fail(`expression nested deeper than ${MAX_DEPTH}`);
  }

  parseAll(): Node {
    if (this.#is("eof")) this.#fail("empty expression");
    const node = this.#expression(0);
    if (!this.#is("eof")) this.#unexpected();
    return node;
  }

  #expression(precedence: number): Node {
    this.#enter();
    if (this.#is("op", "let")) this.#fail('"let" is not supported');
    let left = this.#primary();
    let previous = "";
    for (;;) {
      let op = this.#cur;
      let negate: Token | undefined;
      if (op.kind !== "op") break;
      if (op.value === "not") {
        const next = this.tokens[this.#pos + 1]!;
        if (next.kind !== "op" || !NEGATABLE.has(next.value)) {
          this.#fail(`unexpected token "${next.value || "end of expression"}"`, next.at);
        }
        if (BINARY[next.value]![0] < precedence) break;
        negate = op;
        this.#pos++;
        op = next;
      }
      const info = BINARY[op.value];
      if (info === undefined || info[0] < precedence) break;
      if (previous === "??" && op.value !== "??") {
        this.#fail(
          `operator (${op.value}) and coalesce expressions (??) cannot be mixed; wrap either in parentheses`,
          op.at,
        );
      }
      this.#pos++;
      if (COMPARISON.has(op.value)) {
        left = this.#comparison(left, op, info[0]);
      } else {
        const right = this.#expression(info[1] ? info[0] : info[0] + 1);
        left = { k: "binary", at: op.at, op: op.value, l: left, r: right };
        if (negate) left = { k: "unary", at: negate.at, op: "not", x: left };
      }
      previous = op.value;
    }
    if (precedence === 0 && this.#is("op", "?")) left = this.#conditional(left);
    this.#depth--;
    return left;
  }

  /** `a < b < c` is `a < b && b < c`, as in expr. */
  #comparison(left: Node, op: Token, precedence: number): Node {
    let root: Node | undefined;
    for (;;) {
      const right = this.#expression(precedence + 1);
      const cmp: Node = { k: "binary", at: op.at, op: op.value, l: left, r: right };
      root = root === undefined ? cmp : { k: "binary", at: op.at, op: "&&", l: root, r: cmp };
      left = right;
      if (!(this.#cur.kind === "op" && COMPARISON.has(this.#cur.value))) return root;
      op = this.#cur;
      this.#pos++;
    }
  }

  #conditional(cond: Node): Node {
    while (this.#is("op", "?")) {
      const at = this.#cur.at;
      this.#pos++;
      let a: Node;
      if (this.#is("op", ":")) {
        a = cond;
      } else {
        a = this.#expression(0);
      }
      this.#expect("op", ":");
      const b = this.#expression(0);
      cond = { k: "cond", at, c: cond, a, b };
    }
    return cond;
  }

  #primary(): Node {
    const t = this.#cur;
    if (t.kind === "op" && t.value in UNARY) {
      this.#pos++;
      const x = this.#expression(UNARY[t.value]!);
      return this.#postfix({ k: "unary", at: t.at, op: t.value, x });
    }
    if (t.kind === "bracket" && t.value === "(") {
      this.#pos++;
      this.#enter();
      const inner = this.#expression(0);
      this.#depth--;
      this.#expect("bracket", ")");
      return this.#postfix(inner);
    }
    if (this.#closures > 0 && t.kind === "op" && (t.value === "#" || t.value === ".")) {
      if (t.value === "#") this.#pos++;
      if (this.#is("ident")) this.#fail('named pointers ("#name") are not supported');
      return this.#postfix({ k: "pointer", at: t.at }); // `.field` is `#.field`
    }
    return this.#secondary();
  }

  #secondary(): Node {
    const t = this.#cur;
    switch (t.kind) {
      case "ident": {
        this.#pos++;
        if (t.value === "true" || t.value === "false") {
          return this.#postfix({ k: "lit", at: t.at, v: t.value === "true" });
        }
        if (t.value === "nil") return this.#postfix({ k: "lit", at: t.at, v: null });
        if (t.value === "if" || t.value === "else") {
          this.#fail(`"${t.value}" is not supported`, t.at);
        }
        if (this.#is("bracket", "(")) {
          return this.#postfix({
            k: "call",
            at: t.at,
            name: t.value,
            args: this.#arguments(t.value),
          });
        }
        return this.#postfix({ k: "ident", at: t.at, name: t.value });
      }
      case "num":
        this.#pos++;
        return this.#postfix({ k: "lit", at: t.at, v: t.num! });
      case "str":
        this.#pos++;
        return this.#postfix({ k: "lit", at: t.at, v: t.value });
      case "bracket":
        if (t.value === "[") return this.#postfix(this.#array());
        if (t.value === "{") return this.#postfix(this.#map());
    }
    if (t.kind === "op" && t.value === "#") this.#fail('"#" is only allowed inside a predicate');
    this.#unexpected();
  }

  /** `(a, b, ...)`; the second argument of a predicate builtin is a predicate. */
  #arguments(name: string): Node[] {
    this.#enter();
    this.#expect("bracket", "(");
    const args: Node[] = [];
    while (!this.#is("bracket", ")")) {
      if (args.length > 0) {
        this.#separator(")");
        if (this.#is("bracket", ")")) break;
      }
      args.push(
        args.length === 1 && PREDICATES.has(name) ? this.#predicate() : this.#expression(0),
      );
    }
    this.#pos++;
    this.#depth--;
    return args;
  }

  /** `{ body }` or a bare body, where `#` is the element. */
  #predicate(): Node {
    const at = this.#cur.at;
    this.#closures++;
    let body: Node;
    if (this.#is("bracket", "{")) {
      this.#pos++;
      body = this.#expression(0);
      this.#expect("bracket", "}");
    } else {
      body = this.#expression(0);
    }
    this.#closures--;
    return { k: "closure", at, body };
  }

  #array(): Node {
    const at = this.#cur.at;
    this.#enter();
    this.#pos++;
    const items: Node[] = [];
    while (!this.#is("bracket", "]")) {
      if (items.length > 0) {
        this.#separator("]");
        if (this.#is("bracket", "]")) break;
      }
      items.push(this.#expression(0));
    }
    this.#pos++;
    this.#depth--;
    return { k: "array", at, items };
  }

  #map(): Node {
    const at = this.#cur.at;
    this.#enter();
    this.#pos++;
    const entries: [Node, Node][] = [];
    while (!this.#is("bracket", "}")) {
      if (entries.length > 0) {
        this.#separator("}");
        if (this.#is("bracket", "}")) break;
      }
      const t = this.#cur;
      let key: Node;
      if (t.kind === "ident" || t.kind === "str" || t.kind === "num") {
        this.#pos++;
        key = { k: "lit", at: t.at, v: t.kind === "num" ? t.num! : t.value };
      } else if (t.kind === "bracket" && t.value === "(") {
        this.#pos++;
        key = this.#expression(0);
        this.#expect("bracket", ")");
      } else {
        this.#fail("a map key must be a name, a string, a number or (expression)");
      }
      this.#expect("op", ":");
      entries.push([key, this.#expression(0)]);
    }
    this.#pos++;
    this.#depth--;
    return { k: "map", at, entries };
  }

  /** Member access `.name` / `?.name`, index `[i]`, slice `[a:b]`. */
  #postfix(node: Node): Node {
    for (;;) {
      const t = this.#cur;
      if (t.kind === "op" && (t.value === "." || t.value === "?.")) {
        this.#pos++;
        const optional = t.value === "?.";
        if (optional && this.#is("bracket", "[")) {
          node = this.#index(node, true);
          continue;
        }
        const name = this.#cur;
        if (name.kind !== "ident" && !(name.kind === "op" && /^[A-Za-z]+$/.test(name.value))) {
          this.#fail('expected a name after "."', name.at);
        }
        this.#pos++;
        if (this.#is("bracket", "(")) this.#fail("method calls are not supported", name.at);
        node = {
          k: "member",
          at: name.at,
          obj: node,
          prop: { k: "lit", at: name.at, v: name.value },
          optional,
        };
      } else if (t.kind === "bracket" && t.value === "[") {
        node = this.#index(node, false);
      } else {
        return node;
      }
    }
  }

  #index(obj: Node, optional: boolean): Node {
    const at = this.#cur.at;
    this.#enter();
    this.#pos++;
    let node: Node;
    if (this.#is("op", ":")) {
      this.#pos++;
      const to = this.#is("bracket", "]") ? undefined : this.#expression(0);
      node = { k: "slice", at, obj, to };
    } else {
      const from = this.#expression(0);
      if (this.#is("op", ":")) {
        this.#pos++;
        const to = this.#is("bracket", "]") ? undefined : this.#expression(0);
        node = { k: "slice", at, obj, from, to };
      } else {
        node = { k: "member", at, obj, prop: from, optional };
      }
    }
    this.#expect("bracket", "]");
    this.#depth--;
    return node;
  }
}
