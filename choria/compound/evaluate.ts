/**
 * Evaluates a parsed compound expression against an environment, with expr's
 * semantics for the supported subset: unknown names are nil, `==` compares
 * numbers by value and arrays and maps deeply, `and`/`or` short-circuit and
 * want booleans, `in` looks in arrays and map keys (nil holds nothing), and
 * every other mismatch of types is a {@linkcode CompoundError}. Each run is
 * capped at {@linkcode MAX_STEPS} steps.
 *
 * @module
 */

import { CompoundError, MAX_STEPS } from "./error.ts";
import { type Node, PREDICATES } from "./parse.ts";
import { re2 } from "../validators.ts";

/** A value an expression works with (JSON's, plus functions and opaque values). */
export type Value =
  | null
  | boolean
  | number
  | string
  | Value[]
  | { [key: string]: Value }
  | Func
  | Opaque;

/** A function an expression may call. */
export class Func {
  /**
   * Makes a function value.
   *
   * @param name Its name, for messages.
   * @param arity How many arguments it takes (`undefined`: any).
   * @param call The implementation; a throw becomes a {@linkcode CompoundError} at the call.
   */
  constructor(
    readonly name: string,
    readonly arity: number | undefined,
    readonly call: (args: Value[], cost: Cost) => Value,
  ) {}
}

/** Work a function or comparison did beyond one step (values walked), charged to the budget. */
export interface Cost {
  /** Values looked at so far. */
  n: number;
}

/** A value an expression may name but not look into (go-choria's raw `facts`). */
export class Opaque {
  /**
   * Makes the value.
   *
   * @param type Its type, for messages.
   * @param hint Said when an expression tries to use it.
   */
  constructor(readonly type: string, readonly hint: string) {}
}

/** The names and values an expression sees. */
export type Env = ReadonlyMap<string, Value>;

/** expr builtins supported here, besides the predicate ones. */
const PLAIN_BUILTINS: Record<string, (args: Value[], fail: (m: string) => never) => Value> = {
  len: ([v], fail) => {
    if (typeof v === "string") return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    return fail(`invalid argument for len (type ${typeName(v!)})`);
  },
  lower: ([v], fail) => typeof v === "string" ? v.toLowerCase() : fail(wantString("lower", v!)),
  upper: ([v], fail) => typeof v === "string" ? v.toUpperCase() : fail(wantString("upper", v!)),
  trim: ([v], fail) => typeof v === "string" ? v.trim() : fail(wantString("trim", v!)),
  abs: ([v], fail) =>
    typeof v === "number" ? Math.abs(v) : fail(`invalid argument for abs (type ${typeName(v!)})`),
  keys: ([v], fail) => isMap(v) ? Object.keys(v) : fail(`cannot get keys from ${typeName(v!)}`),
  values: ([v], fail) =>
    isMap(v) ? Object.values(v) : fail(`cannot get values from ${typeName(v!)}`),
};

/** Names of the expr builtins this evaluator has. */
export const BUILTINS: ReadonlySet<string> = new Set([
  ...PREDICATES,
  ...Object.keys(PLAIN_BUILTINS),
]);

function wantString(fn: string, v: Value): string {
  return `invalid argument for ${fn} (type ${typeName(v)}), want string`;
}

/** A plain JSON object (not an array, function or opaque value). */
export function isMap(v: Value | undefined): v is { [key: string]: Value } {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Func) &&
    !(v instanceof Opaque);
}

/** expr's name for a value's type, for messages. */
export function typeName(v: Value): string {
  if (v === null) return "nil";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "string") return "string";
  if (Array.isArray(v)) return "array";
  if (v instanceof Func) return "func";
  if (v instanceof Opaque) return v.type;
  return "map";
}

/** expr's `==`: numbers by value, arrays and maps deeply. */
export function equal(a: Value, b: Value, cost?: Cost): boolean {
  if (cost !== undefined) cost.n++;
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]!, cost));
  }
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && equal(a[k]!, b[k]!, cost));
  }
  return false;
}

/** Compiled `matches` patterns, shared by evaluations (bounded). */
const REGEXPS = new Map<string, RegExp>();
const MAX_CACHED_REGEXPS = 256;

/** One evaluation: the expression, its environment, and the step budget. */
export class Evaluation {
  #steps = 0;
  #pointers: Value[] = [];
  /** What the last comparison or call walked, charged after it. */
  #cost: Cost = { n: 0 };

  /**
   * Prepares to evaluate.
   *
   * @param src The expression (for error positions).
   * @param env What names mean.
   */
  constructor(readonly src: string, readonly env: Env) {}

  #fail(message: string, at: number): never {
    throw new CompoundError(message, this.src, at);
  }

  #step(at: number, n = 1): void {
    this.#steps += n;
    if (this.#steps > MAX_STEPS) this.#fail(`evaluation took more than ${MAX_STEPS} steps`, at);
  }

  /** `==` charged for the values it compared (deep arrays and maps are not one step). */
  #equal(l: Value, r: Value, at: number): boolean {
    this.#cost.n = 0;
    const same = equal(l, r, this.#cost);
    this.#step(at, this.#cost.n);
    return same;
  }

  /** Evaluates a node. */
  run(node: Node): Value {
    this.#step(node.at);
    switch (node.k) {
      case "lit":
        return node.v;
      case "ident":
        return this.env.get(node.name) ?? null;
      case "pointer":
        if (this.#pointers.length === 0) {
          this.#fail('"#" is only allowed inside a predicate', node.at);
        }
        return this.#pointers[this.#pointers.length - 1]!;
      case "unary":
        return this.#unary(node.op, this.run(node.x), node.at);
      case "binary":
        return this.#binary(node);
      case "member":
        return this.#member(node.obj, node.prop, node.optional, node.at);
      case "slice":
        return this.#slice(node);
      case "call":
        return this.#call(node.name, node.args, node.at);
      case "closure":
        return this.#fail(
          "a predicate is only allowed as an argument of all, any, none, one, filter, map or count",
          node.at,
        );
      case "array": {
        const out: Value[] = [];
        for (const item of node.items) out.push(this.run(item));
        return out;
      }
      case "map": {
        const out: { [key: string]: Value } = {};
        for (const [k, v] of node.entries) {
          const key = this.run(k);
          if (typeof key !== "string" && typeof key !== "number") {
            this.#fail(`a map key must be a string, not ${typeName(key)}`, k.at);
          }
          // defineProperty: a "__proto__" key is a key, not the object's prototype.
          Object.defineProperty(out, String(key), {
            value: this.run(v),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      case "cond": {
        const c = this.run(node.c);
        if (typeof c !== "boolean") {
          this.#fail(`non-bool ${typeName(c)} used as condition`, node.at);
        }
        return this.run(c ? node.a : node.b);
      }
    }
  }

  #bool(v: Value, op: string, at: number): boolean {
    if (typeof v !== "boolean") {
      this.#fail(`invalid operation: ${op} on ${typeName(v)}, want bool`, at);
    }
    return v;
  }

  #unary(op: string, v: Value, at: number): Value {
    if (op === "not" || op === "!") return !this.#bool(v, op, at);
    if (typeof v !== "number") this.#fail(`invalid operation: ${op}${typeName(v)}`, at);
    return op === "-" ? -v : v;
  }

  #binary(node: Extract<Node, { k: "binary" }>): Value {
    const { op, at } = node;
    if (op === "&&" || op === "and") {
      return this.#bool(this.run(node.l), op, at) && this.#bool(this.run(node.r), op, at);
    }
    if (op === "||" || op === "or") {
      return this.#bool(this.run(node.l), op, at) || this.#bool(this.run(node.r), op, at);
    }
    if (op === "??") {
      const l = this.run(node.l);
      return l !== null ? l : this.run(node.r);
    }
    const l = this.run(node.l);
    const r = this.run(node.r);
    const mismatch = (): never =>
      this.#fail(
        `invalid operation: ${op} (mismatched types ${typeName(l)} and ${typeName(r)})`,
        at,
      );
    switch (op) {
      case "==":
        return this.#equal(l, r, at);
      case "!=":
        return !this.#equal(l, r, at);
      case "<":
      case ">":
      case "<=":
      case ">=": {
        if (
          !((typeof l === "number" && typeof r === "number") ||
            (typeof l === "string" && typeof r === "string"))
        ) {
          mismatch();
        }
        const a = l as number | string, b = r as number | string;
        return op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b;
      }
      case "in":
        if (r === null) return false;
        if (Array.isArray(r)) {
          this.#step(at, r.length);
          return r.some((x) => this.#equal(x, l, at));
        }
        if (isMap(r)) {
          if (typeof l !== "string") mismatch();
          return Object.hasOwn(r, l as string);
        }
        return mismatch();
      case "matches": {
        if (typeof l !== "string" || typeof r !== "string") mismatch();
        this.#step(at, (l as string).length >> 6);
        return this.#regexp(r as string, node.r.at).test(l as string);
      }
      case "contains":
      case "startsWith":
      case "endsWith": {
        if (typeof l !== "string" || typeof r !== "string") mismatch();
        const s = l as string, t = r as string;
        this.#step(at, s.length >> 6);
        return op === "contains"
          ? s.includes(t)
          : op === "startsWith"
          ? s.startsWith(t)
          : s.endsWith(t);
      }
      case "+":
        if (typeof l === "string" && typeof r === "string") {
          this.#step(at, (l.length + r.length) >> 6);
          return l + r;
        }
        if (typeof l === "number" && typeof r === "number") return l + r;
        return mismatch();
      case "..": {
        if (!Number.isInteger(l) || !Number.isInteger(r)) mismatch();
        const from = l as number, to = r as number;
        const count = Math.max(0, to - from + 1);
        this.#step(at, count);
        return Array.from({ length: count }, (_, i) => from + i);
      }
    }
    if (typeof l !== "number" || typeof r !== "number") return mismatch();
    switch (op) {
      case "-":
        return l - r;
      case "*":
        return l * r;
      case "/":
        return l / r;
      case "%":
        if (!Number.isInteger(l) || !Number.isInteger(r)) return mismatch();
        if (r === 0) this.#fail("integer divide by zero", at);
        return l % r;
      default: // ** and ^
        return l ** r;
    }
  }

  #regexp(pattern: string, at: number): RegExp {
    let re = REGEXPS.get(pattern);
    if (re === undefined) {
      try {
        re = re2(pattern);
      } catch (error) {
        this.#fail(
          `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`,
          at,
        );
      }
      if (REGEXPS.size >= MAX_CACHED_REGEXPS) REGEXPS.clear();
      REGEXPS.set(pattern, re);
    }
    return re;
  }

  #member(objNode: Node, propNode: Node, optional: boolean, at: number): Value {
    const obj = this.run(objNode);
    if (obj === null && optional) return null;
    const prop = this.run(propNode);
    if (obj instanceof Opaque) this.#fail(obj.hint, at);
    if (isMap(obj)) {
      if (typeof prop !== "string") {
        this.#fail(`cannot use ${typeName(prop)} as a map key`, propNode.at);
      }
      return Object.hasOwn(obj, prop) ? obj[prop]! : null;
    }
    if (Array.isArray(obj) || typeof obj === "string") {
      if (typeof obj === "string") this.#step(at, obj.length >> 6);
      const items = typeof obj === "string" ? [...obj] : obj;
      if (!Number.isInteger(prop)) {
        this.#fail(`cannot use ${typeName(prop)} as an index of ${typeName(obj)}`, propNode.at);
      }
      const i = (prop as number) < 0 ? items.length + (prop as number) : prop as number;
      if (i < 0 || i >= items.length) {
        this.#fail(`index out of range: ${prop} (array length is ${items.length})`, at);
      }
      return items[i]!;
    }
    return this.#fail(`cannot fetch ${JSON.stringify(prop)} from ${typeName(obj)}`, at);
  }

  #slice(node: Extract<Node, { k: "slice" }>): Value {
    const obj = this.run(node.obj);
    if (!Array.isArray(obj) && typeof obj !== "string") {
      this.#fail(`cannot slice ${typeName(obj)}`, node.at);
    }
    if (typeof obj === "string") this.#step(node.at, obj.length >> 6);
    const items = typeof obj === "string" ? [...obj] : obj;
    const bound = (n: Node | undefined, fallback: number): number => {
      if (n === undefined) return fallback;
      const v = this.run(n);
      if (!Number.isInteger(v)) this.#fail(`cannot use ${typeName(v)} as a slice bound`, n.at);
      const i = (v as number) < 0 ? items.length + (v as number) : v as number;
      return Math.min(Math.max(i, 0), items.length);
    };
    const from = bound(node.from, 0);
    const to = Math.max(from, bound(node.to, items.length));
    this.#step(node.at, to - from);
    const part = items.slice(from, to);
    return typeof obj === "string" ? part.join("") : part;
  }

  #call(name: string, argNodes: Node[], at: number): Value {
    const fn = this.env.get(name);
    if (fn !== undefined) {
      if (!(fn instanceof Func)) this.#fail(`${name} is not callable (it is ${typeName(fn)})`, at);
      const args = this.#args(name, argNodes, fn.arity, at);
      const cost = this.#cost;
      cost.n = 0;
      try {
        const result = fn.call(args, cost);
        this.#step(at, cost.n);
        return result;
      } catch (error) {
        if (error instanceof CompoundError) throw error;
        this.#fail(`${name}(): ${(error as Error).message}`, at);
      }
    }
    if (PREDICATES.has(name)) return this.#predicate(name, argNodes, at);
    const builtin = PLAIN_BUILTINS[name];
    if (builtin === undefined) this.#fail(`unknown function ${name}()`, at);
    const args = this.#args(name, argNodes, 1, at);
    const v = args[0];
    // Strings are walked whole (lower, len...), maps' keys listed.
    if (typeof v === "string") this.#step(at, v.length >> 6);
    else if (isMap(v)) this.#step(at, Object.keys(v).length);
    return builtin(args, (m) => this.#fail(m, at));
  }

  #args(name: string, argNodes: Node[], arity: number | undefined, at: number): Value[] {
    if (arity !== undefined && argNodes.length !== arity) {
      this.#fail(
        `${
          argNodes.length < arity ? "not enough" : "too many"
        } arguments to call ${name} (want ${arity})`,
        at,
      );
    }
    return argNodes.map((n) => this.run(n));
  }

  #predicate(name: string, argNodes: Node[], at: number): Value {
    if (argNodes.length !== 2) {
      this.#fail(
        `${name} takes 2 arguments (an array and a predicate), not ${argNodes.length}`,
        at,
      );
    }
    const items = this.run(argNodes[0]!);
    if (!Array.isArray(items)) {
      this.#fail(`cannot iterate ${typeName(items)} in ${name}()`, argNodes[0]!.at);
    }
    const p = argNodes[1]!;
    const body = p.k === "closure" ? p.body : p;
    const test = (item: Value): Value => {
      this.#pointers.push(item);
      try {
        return this.run(body);
      } finally {
        this.#pointers.pop();
      }
    };
    const truth = (item: Value): boolean => {
      const v = test(item);
      if (typeof v !== "boolean") {
        this.#fail(`predicate of ${name}() gave ${typeName(v)}, want bool`, body.at);
      }
      return v;
    };
    switch (name) {
      case "all":
        return items.every(truth);
      case "any":
        return items.some(truth);
      case "none":
        return !items.some(truth);
      case "one":
        return items.filter(truth).length === 1;
      case "filter":
        return items.filter(truth);
      case "count":
        return items.filter(truth).length;
      default: // map
        return items.map(test);
    }
  }
}
