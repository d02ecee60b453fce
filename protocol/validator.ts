/**
 * Schema validation with ajv, compiled once per schema. The rest of the
 * library sees only {@linkcode Validate} and {@linkcode ValidationIssue}; no
 * ajv type crosses the public API.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
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
import { type AjvError, issuesFromAjv, type Validate, type ValidationIssue } from "./issues.ts";

export { formatIssues, type Validate, type ValidationIssue } from "./issues.ts";

/**
 * Options for a {@linkcode SchemaCompiler}.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
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
  /**
   * Refuse schemas with unknown keywords (default true). Turn it off for
   * schemas written for other drafts, such as Choria's (`id`).
   */
  strict?: boolean;
}

/**
 * Compiles JSON Schemas (draft-07) into {@linkcode Validate} functions. Each
 * compiler has its own ajv instance, so `$id`s of different contracts never
 * collide.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
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
      strict: options.strict ?? true,
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
    return (value: unknown) =>
      check(value) ? undefined : issuesFromAjv(check.errors as AjvError[] | null | undefined);
  }
}

const acceptAll: Validate = () => undefined;
const REJECTED: readonly ValidationIssue[] = Object.freeze([
  { path: "", message: "is not allowed (the schema is false)", keyword: "false schema" },
]);
const rejectAll: Validate = () => REJECTED;
