/**
 * Finds where in a schema a keyword is used, so "unknown keyword" errors can
 * name the JSON Pointer of the place to fix. Walks only the places that hold
 * schemas (not `const`, `enum`, `default` or `examples` values, nor property
 * names), iteratively, so a deep schema cannot overflow the stack.
 *
 * @module
 */

/** Keywords whose value is one schema. */
const ONE = new Set([
  "items",
  "additionalItems",
  "additionalProperties",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contains",
  "propertyNames",
  "not",
  "if",
  "then",
  "else",
  "contentSchema",
]);
/** Keywords whose value is a list of schemas. */
const LIST = new Set(["allOf", "anyOf", "oneOf", "prefixItems", "items"]);
/** Keywords whose value maps names to schemas. */
const MAP = new Set([
  "properties",
  "patternProperties",
  "$defs",
  "definitions",
  "dependentSchemas",
  "dependencies",
]);

/** JSON Pointer escaping of one reference token. */
function escape(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The JSON Pointer of the first place `keyword` is used as a keyword in
 * `schema` (`/properties/a/foo`), or `undefined`.
 */
export function findKeyword(schema: unknown, keyword: string): string | undefined {
  const stack: [unknown, string][] = [[schema, ""]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (node === null || typeof node !== "object" || Array.isArray(node)) continue;
    const keywords = node as Record<string, unknown>;
    if (Object.hasOwn(keywords, keyword)) return `${path}/${escape(keyword)}`;
    const next: [unknown, string][] = [];
    for (const [name, value] of Object.entries(keywords)) {
      const at = `${path}/${escape(name)}`;
      if (LIST.has(name) && Array.isArray(value)) {
        value.forEach((item, i) => next.push([item, `${at}/${i}`]));
      } else if (ONE.has(name)) {
        next.push([value, at]);
      } else if (MAP.has(name) && value !== null && typeof value === "object") {
        for (const [key, item] of Object.entries(value)) next.push([item, `${at}/${escape(key)}`]);
      }
    }
    // In document order: the first pushed is taken first.
    for (let i = next.length - 1; i >= 0; i--) stack.push(next[i]!);
  }
  return undefined;
}
