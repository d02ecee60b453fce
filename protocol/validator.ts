/**
 * Schema validation with ajv, compiled once per schema. The rest of the
 * library sees only {@linkcode Validate} and {@linkcode ValidationIssue}; no
 * ajv type crosses the public API.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc";
 *
 * const compiler = new SchemaCompiler();
 * const validate = compiler.compile({
 *   type: "object",
 *   properties: { a: { type: "number" } },
 *   required: ["a"],
 * });
 * assertEquals(validate({ a: 1 }), undefined);
 * assertEquals(validate({}), [{ path: "/a", message: "is required", keyword: "required" }]);
 * ```
 *
 * @module
 */

import { Ajv } from "ajv";
import type { Logger } from "./logger.ts";
import { consoleLogger } from "./logger.ts";
import type { JsonSchema } from "./schema.ts";

/**
 * One reason a value failed its schema.
 *
 * @example
 * ```ts
 * import type { ValidationIssue } from "@seed/rpc";
 * const issue: ValidationIssue = { path: "/b", message: "must be number", keyword: "type" };
 * console.log(`${issue.path} ${issue.message}`);
 * ```
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
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler, type Validate } from "@seed/rpc";
 * const isString: Validate = new SchemaCompiler().compile({ type: "string" });
 * assertEquals(isString(1)?.[0]?.message, "must be string");
 * ```
 */
export type Validate = (value: unknown) => readonly ValidationIssue[] | undefined;

/**
 * Options for a {@linkcode SchemaCompiler}.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc";
 * const compiler = new SchemaCompiler({ formats: { sku: /^[A-Z]-\d+$/ } });
 * assertEquals(compiler.compile({ type: "string", format: "sku" })("A-1"), undefined);
 * ```
 */
export interface SchemaCompilerOptions {
  /**
   * Extra `format` names. No format is built in, and a schema naming an
   * unknown one fails to compile (so a format is never silently skipped).
   */
  formats?: Readonly<Record<string, RegExp | ((value: string) => boolean)>>;
  /** Where ajv's schema warnings go. */
  logger?: Logger;
}

/**
 * Compiles JSON Schemas (draft-07) into {@linkcode Validate} functions. Each
 * compiler has its own ajv instance, so `$id`s of different contracts never
 * collide.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc";
 * const validate = new SchemaCompiler().compile({ type: "integer", minimum: 1 });
 * assertEquals(validate(0), [{ path: "", message: "must be >= 1", keyword: "minimum" }]);
 * ```
 */
export class SchemaCompiler {
  #ajv: Ajv;
  #compiled = new WeakMap<object, Validate>();

  /**
   * Makes a compiler with its own ajv instance.
   *
   * @param options Extra formats and a logger for schema warnings.
   */
  constructor(options: SchemaCompilerOptions = {}) {
    const logger = options.logger ?? consoleLogger;
    this.#ajv = new Ajv({
      allErrors: false,
      logger: {
        log: (...args: unknown[]) => logger.debug(args.map(String).join(" ")),
        warn: (...args: unknown[]) => logger.warn(args.map(String).join(" ")),
        error: (...args: unknown[]) => logger.error(args.map(String).join(" ")),
      },
    });
    for (const [name, format] of Object.entries(options.formats ?? {})) {
      this.#ajv.addFormat(name, format);
    }
  }

  /**
   * Compiles `schema`; the same schema object is compiled only once. Throws
   * a `TypeError` naming the problem when the schema itself is invalid.
   */
  compile(schema: JsonSchema): Validate {
    if (typeof schema === "boolean") return schema ? acceptAll : rejectAll;
    let validate = this.#compiled.get(schema);
    if (validate === undefined) {
      validate = this.#compile(schema);
      this.#compiled.set(schema, validate);
    }
    return validate;
  }

  #compile(schema: Exclude<JsonSchema, boolean>): Validate {
    let check: ReturnType<Ajv["compile"]>;
    try {
      check = this.#ajv.compile(schema as Record<string, unknown>);
    } catch (error) {
      throw new TypeError(`Invalid schema: ${(error as Error).message}`);
    }
    return (value: unknown) => check(value) ? undefined : toIssues(check.errors);
  }
}

const acceptAll: Validate = () => undefined;
const REJECTED: readonly ValidationIssue[] = Object.freeze([
  { path: "", message: "is not allowed (the schema is false)", keyword: "false schema" },
]);
const rejectAll: Validate = () => REJECTED;

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

function toIssues(errors: readonly AjvError[] | null | undefined): ValidationIssue[] {
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

function pointerToken(name: unknown): string {
  return String(name).replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Formats issues as one line: `/b must be number; /c is not allowed`.
 *
 * @example
 * ```ts
 * import { formatIssues } from "@seed/rpc";
 * console.log(formatIssues([{ path: "/b", message: "must be number", keyword: "type" }]));
 * ```
 */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path === "" ? "(value)" : i.path} ${i.message}`).join("; ");
}
