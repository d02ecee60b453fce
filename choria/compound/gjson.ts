/**
 * The part of GJSON's path syntax that go-choria's `fact()` is used with:
 * `a.b.c`, `\.` for a dot inside a key, array indexes (`list.0`), `#` (an
 * array's length) and `list.#.field` (that field of every element), and the
 * `*` / `?` wildcards in a key (the first matching key under which the rest
 * of the path exists, as GJSON does).
 * Queries (`#(...)`), modifiers (`@reverse`), multipaths and pipes are
 * refused with an error rather than guessed at.
 *
 * @module
 */

import { type Cost, isMap, type Value } from "./evaluate.ts";

/** One key of a path; `pattern` is set when it has wildcards. */
interface Part {
  key: string;
  wild: boolean;
  pattern: (string | 0 | 1)[];
}

/** Wildcard match (0 is `*`, 1 is `?`), backtracking only to the last `*`. */
function glob(pattern: (string | 0 | 1)[], text: string): boolean {
  const chars = [...text];
  let p = 0, t = 0, star = -1, mark = 0;
  while (t < chars.length) {
    const want = pattern[p];
    if (p < pattern.length && want !== 0 && (want === 1 || want === chars[t])) {
      p++;
      t++;
    } else if (p < pattern.length && want === 0) {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === 0) p++;
  return p === pattern.length;
}

/** Splits a path on unescaped dots; each part keeps whether it had a wildcard. */
function components(path: string): Part[] {
  const out: Part[] = [];
  let key = "", wild = false;
  let pattern: (string | 0 | 1)[] = []; // 0 is a "*", 1 a "?"
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && i + 1 < path.length) {
      key += path[++i];
      pattern.push(path[i]!);
    } else if (c === ".") {
      out.push({ key, wild, pattern });
      key = "";
      pattern = [];
      wild = false;
    } else {
      if (key === "" && "@[{!".includes(c)) {
        throw new Error(`GJSON path ${JSON.stringify(path)}: "${c}" paths are not supported`);
      }
      if (c === "|" || (c === "(" && key === "#")) {
        throw new Error(
          `GJSON path ${JSON.stringify(path)}: "${c === "|" ? "|" : "#("}" is not supported`,
        );
      }
      key += c;
      if (c === "*" || c === "?") wild = true;
      pattern.push(c === "*" ? 0 : c === "?" ? 1 : c);
    }
  }
  out.push({ key, wild, pattern });
  return out;
}

/**
 * Looks `path` up in `data` as GJSON does; `undefined` when nothing is there.
 * `cost.n` counts the values looked at (wildcards and `#` can walk them all).
 */
export function gjsonGet(data: Value, path: string, cost: Cost = { n: 0 }): Value | undefined {
  if (path === "") return undefined;
  return walk(data, components(path), 0, cost);
}

function walk(
  value: Value,
  parts: Part[],
  from: number,
  cost: Cost,
): Value | undefined {
  let current: Value = value;
  for (let i = from; i < parts.length; i++) {
    cost.n++;
    const { key, wild, pattern } = parts[i]!;
    if (Array.isArray(current)) {
      if (key === "#") {
        if (i === parts.length - 1) return current.length;
        const out: Value[] = [];
        for (const item of current) {
          const found = walk(item, parts, i + 1, cost);
          if (found !== undefined) out.push(found);
        }
        return out;
      }
      if (!/^\d+$/.test(key)) return undefined;
      const index = Number(key);
      if (index >= current.length) return undefined;
      current = current[index]!;
    } else if (isMap(current)) {
      if (wild) {
        // As GJSON: the first matching key whose value has the rest of the path.
        for (const [k, v] of Object.entries(current)) {
          cost.n++;
          if (!glob(pattern, k)) continue;
          const found = walk(v, parts, i + 1, cost);
          if (found !== undefined) return found;
        }
        return undefined;
      } else {
        if (!Object.hasOwn(current, key)) return undefined;
        current = current[key]!;
      }
    } else {
      return undefined;
    }
  }
  return current;
}
