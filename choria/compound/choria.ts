/**
 * go-choria's compound filters (`filter.compound`, `[[{"expr": "..."}]]`):
 * the environment an expression sees (`agents`, `classes`, `facts`, and
 * `with()`, `fact()`, `include()`, `semver()`, plus any data functions the
 * program supplies) and how several expressions combine, as go-choria's
 * `filter/compound` package defines them.
 *
 * @module
 */

import { CompoundError } from "./error.ts";
import {
  BUILTINS,
  type Cost,
  equal,
  Evaluation,
  Func,
  Opaque,
  typeName,
  type Value,
} from "./evaluate.ts";
import { gjsonGet } from "./gjson.ts";
import { children, type Node, parse } from "./parse.ts";
import { semverCheck } from "./semver.ts";
import { type FactFilter, parseFactFilter } from "../facts.ts";
import { re2 } from "../validators.ts";

/** What an expression is evaluated against. */
export interface CompoundSubject {
  /** The node's facts. */
  facts: Record<string, unknown>;
  /** Its configuration-management classes. */
  classes: readonly string[];
  /** Its agents. */
  agents: readonly string[];
}

/** A data function (go-choria's data providers, e.g. `scout("check")`): called with the expression's arguments, answers synchronously with JSON-like data. */
export type DataFunction = (...args: unknown[]) => unknown;

/** Compiled compound filters: one parsed expression per outer entry. */
export interface CompiledCompound {
  /** Each expression's text and tree. */
  readonly expressions: readonly { src: string; ast: Node }[];
  /** The data function names it was compiled with. */
  readonly functions: string;
}

const CHORIA_FUNCTIONS = ["with", "fact", "include", "semver"];

function slashed(pattern: string): string | undefined {
  return pattern.startsWith("/") && pattern.endsWith("/")
    ? pattern.replace(/^\//, "").replace(/\/$/, "") // TrimPrefix, TrimSuffix: one slash each
    : undefined;
}

function anyMatches(pattern: string, list: readonly string[], ignoreCase: boolean): boolean {
  let re: RegExp;
  try {
    re = re2(ignoreCase ? `(?i)${pattern}` : pattern);
  } catch {
    return false; // go-choria ignores a bad pattern here: no match
  }
  return list.some((item) => re.test(item));
}

/** go-choria's class match: a lower-cased exact name, or a case-blind `/regex/`. */
export function hasClass(needle: string, classes: readonly string[]): boolean {
  const re = slashed(needle);
  if (re !== undefined) return anyMatches(re, classes, true);
  const lower = needle.toLowerCase();
  return classes.includes(lower);
}

/** go-choria's agent match: an exact name, or a `/regex/`. */
export function hasAgent(needle: string, agents: readonly string[]): boolean {
  const re = slashed(needle);
  return re !== undefined ? anyMatches(re, agents, false) : agents.includes(needle);
}

const FACTS = new Opaque(
  "raw JSON",
  'facts is raw JSON in go-choria and cannot be looked into: use fact("path")',
);

const INCLUDE = new Func("include", 2, ([hay, needle], cost) => {
  if (hay === null) return false;
  if (!Array.isArray(hay)) {
    throw new Error(`want an array as the first argument, got ${typeName(hay!)}`);
  }
  return hay.some((item) => equal(item, needle!, cost));
});

const SEMVER = new Func("semver", 2, ([value, constraint]) => {
  if (typeof value !== "string" || typeof constraint !== "string") {
    throw new Error(`want two strings, got ${typeName(value!)} and ${typeName(constraint!)}`);
  }
  return semverCheck(value, constraint);
});

/** A data function's answer as a value: undefined is nil; a promise is refused. */
function dataResult(result: unknown): Value {
  if (result instanceof Promise) throw new Error("data functions must answer synchronously");
  return (result ?? null) as Value;
}

/** Charges `cost` for what looking `path` up walks (a wildcard can walk every fact); matchFact reports a bad path. */
function chargeLookup(facts: Record<string, unknown>, path: string, cost: Cost): void {
  try {
    gjsonGet(facts as Value, path, cost);
  } catch {
    // matchFact says why the path is bad
  }
}

function stringArg(v: Value | undefined): string {
  if (typeof v !== "string") throw new Error(`want a string argument, got ${typeName(v!)}`);
  return v;
}

/**
 * Compiles `filter.compound`: every entry must be `[{"expr": "..."}]`; each
 * expression is parsed and every function it calls must exist. Throws a
 * {@linkcode CompoundError} (or a TypeError for a malformed entry).
 */
export function compileCompound(
  compound: readonly unknown[],
  functions: Readonly<Record<string, DataFunction>> = {},
): CompiledCompound {
  const known = new Set([...CHORIA_FUNCTIONS, ...Object.keys(functions), ...BUILTINS]);
  const expressions = compound.map((entry, i) => {
    const item = Array.isArray(entry) && entry.length === 1 ? entry[0] : undefined;
    const src = item !== null && typeof item === "object"
      ? (item as { expr?: unknown }).expr
      : undefined;
    if (typeof src !== "string") {
      throw new TypeError(`compound filter ${i + 1} is not [{"expr": "..."}]`);
    }
    const ast = parse(src);
    checkCalls(ast, src, known);
    return { src, ast };
  });
  return { expressions, functions: Object.keys(functions).sort().join(",") };
}

/** Rejects calls of functions that do not exist, before any node is seen. */
function checkCalls(root: Node, src: string, known: ReadonlySet<string>): void {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.k === "call" && !known.has(node.name)) {
      throw new CompoundError(`unknown function ${node.name}()`, src, node.at);
    }
    stack.push(...children(node));
  }
}

/**
 * Whether a node matches compiled compound filters, as go-choria decides
 * (`MatchExprString`): each expression must give a boolean; a true one counts
 * +1 and a false one -1, and the node matches when the sum is above zero (so
 * one expression decides alone, two must both hold). An expression that fails
 * on this node (a type error, a non-boolean result, a data function's error,
 * the step limit) is given to `failed` and the node does not match.
 */
export function matchCompound(
  compiled: CompiledCompound,
  subject: CompoundSubject,
  matchFact: (facts: Record<string, unknown>, filter: FactFilter) => boolean,
  functions: Readonly<Record<string, DataFunction>> = {},
  failed: (error: CompoundError) => void = () => {},
): boolean {
  const facts = subject.facts;
  const env = new Map<string, Value>([
    ["agents", subject.agents as string[]],
    ["classes", subject.classes as string[]],
    ["facts", FACTS],
    [
      "with",
      new Func("with", 1, ([query], cost) => {
        const q = stringArg(query);
        const filter = parseFactFilter(q);
        if (filter !== undefined) {
          chargeLookup(facts, filter.fact, cost);
          return matchFact(facts, filter);
        }
        cost.n += subject.classes.length + subject.agents.length;
        return hasClass(q, subject.classes) || hasAgent(q, subject.agents);
      }),
    ],
    [
      "fact",
      new Func(
        "fact",
        1,
        ([query], cost) => (gjsonGet(facts as Value, stringArg(query), cost) ?? null),
      ),
    ],
    ["include", INCLUDE],
    ["semver", SEMVER],
  ]);
  for (const [name, fn] of Object.entries(functions)) {
    if (!env.has(name)) env.set(name, new Func(name, undefined, (args) => dataResult(fn(...args))));
  }
  let matched = 0, failures = 0;
  for (const { src, ast } of compiled.expressions) {
    try {
      const result = new Evaluation(src, env).run(ast);
      if (typeof result !== "boolean") {
        throw new CompoundError(`the expression gave ${typeName(result)}, want bool`, src, 0);
      }
      matched += result ? 1 : -1;
    } catch (thrown) {
      // A RangeError (facts nested too deep to compare, a string too long) fails this node only.
      const error = thrown instanceof RangeError
        ? new CompoundError(thrown.message, src, 0)
        : thrown;
      if (!(error instanceof CompoundError)) throw error;
      failed(error);
      failures++; // as go-choria: the rest still run (and log), but the node fails
    }
  }
  return failures === 0 && matched > 0;
}
