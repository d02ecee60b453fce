/**
 * Validation issues, independent of the validator that found them (so code
 * that only reports issues never loads ajv).
 *
 * @module
 */

/**
 * One reason a value failed its schema.
 */
export interface ValidationIssue {
  /** JSON Pointer to the offending value (`""` is the value itself). */
  path: string;
  /** What is wrong, in ajv's words (`must be number`, `is required`). */
  message: string;
  /** The schema keyword that failed (`type`, `required`, ...). */
  keyword: string;
}

/**
 * A compiled schema: returns `undefined` when the value is valid, or the
 * issues found (the first one, as ajv stops there).
 *
 * @example A compiled schema
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler, type Validate } from "@seed/rpc/contract";
 * const isString: Validate = new SchemaCompiler().compile({ type: "string" });
 * assertEquals(isString(1)?.[0]?.message, "must be string");
 * ```
 */
export type Validate = (value: unknown) => readonly ValidationIssue[] | undefined;

/**
 * Formats issues as one line: `/b must be number; /c is not allowed`.
 *
 * @example Issues as one line
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { formatIssues } from "@seed/rpc/contract";
 * assertEquals(formatIssues([{ path: "/b", message: "must be number", keyword: "type" }]), "/b must be number");
 * ```
 */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path === "" ? "(value)" : i.path} ${i.message}`).join("; ");
}

/** An error object as ajv reports it. */
export interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

function pointerToken(name: unknown): string {
  return String(name).replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Our issues for ajv's errors: `required` and `additionalProperties` point at
 * the property concerned.
 */
export function issuesFromAjv(errors: readonly AjvError[] | null | undefined): ValidationIssue[] {
  if (!errors || errors.length === 0) return [{ path: "", message: "is invalid", keyword: "" }];
  return errors.map((e) => {
    if (e.keyword === "required") {
      return {
        path: `${e.instancePath}/${pointerToken(e.params.missingProperty)}`,
        message: "is required",
        keyword: e.keyword,
      };
    }
    if (e.keyword === "additionalProperties") {
      return {
        path: `${e.instancePath}/${pointerToken(e.params.additionalProperty)}`,
        message: "is not allowed",
        keyword: e.keyword,
      };
    }
    return { path: e.instancePath, message: e.message ?? "is invalid", keyword: e.keyword };
  });
}
