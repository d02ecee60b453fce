/**
 * go-choria's fact matching (`filter/facts`): one `fact operator value`
 * filter against a node's facts, with go-choria's rules for each JSON type,
 * and `ParseFactFilterString`'s reading of `fact=value` text.
 *
 * @module
 */

import { gjsonGet } from "./compound/gjson.ts";
import type { Value } from "./compound/evaluate.ts";
import {
  atoi,
  compareStrings,
  equalFold,
  formatFixed4,
  INT64_MIN,
  NumError,
  parseFloat64,
  toLower,
  trimSpace,
  truthy,
} from "./_go.ts";
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
  try {
    return matchOperator(fact, path, operator, value);
  } catch (error) {
    throw error instanceof NumError ? new FactMatchError(error.message) : error;
  }
}

function matchOperator(fact: unknown, path: string, operator: string, value: string): boolean {
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
  const fact = trimSpace(text.slice(0, last.index));
  const value = trimSpace(text.slice(last.index + operator.length));
  if (fact === "" || value === "") return undefined;
  if ("<>=".includes(fact[0]!) || "<>=".includes(value[value.length - 1]!)) return undefined;
  operator = { "=": "==", "=<": "<=", "=>": ">=" }[operator] ?? operator;
  if (value.startsWith("/") && value.endsWith("/")) operator = "=~";
  return { fact, operator, value };
}
