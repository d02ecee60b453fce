/**
 * Parser for the subset of expr-lang (the language go-choria's
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
import { lex, type Token, type TokenKind } from "./lex.ts";

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
