/**
 * Schema validation with ajv, compiled once per schema. The rest of the
 * library sees only {@linkcode Validate} and {@linkcode ValidationIssue}; no
 * ajv type crosses the public API.
 *
 * @example Compiling and checking a schema
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
import { Ajv2020 } from "ajv/dist/2020";
import { fullFormats } from "ajv-formats/dist/formats";
import { findKeyword } from "./_schema_walk.ts";
import type { Logger } from "../shared/logger.ts";
import { consoleLogger } from "../shared/logger.ts";
import type { JsonSchema } from "./schema.ts";
import { type AjvError, issuesFromAjv, type Validate, type ValidationIssue } from "./issues.ts";

export { formatIssues, type Validate, type ValidationIssue } from "./issues.ts";

/**
 * Options for a {@linkcode SchemaCompiler}.
 *
 * @example A compiler with a named format
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
 * const compiler = new SchemaCompiler({ formats: { sku: /^[A-Z]-\d+$/ } });
 * assertEquals(compiler.compile({ type: "string", format: "sku" })("A-1"), undefined);
 * ```
 *
 * @example The common formats are built in
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
 * const when = new SchemaCompiler().compile({ type: "string", format: "date-time" });
 * assertEquals(when("2024-02-29T12:30:00Z"), undefined);
 * assertEquals(when("2023-02-29T12:30:00Z"), [
 *   { path: "", message: 'must match format "date-time"', keyword: "format" },
 * ]);
 * ```
 */
export interface SchemaCompilerOptions {
  /**
   * Extra `format` names, or replacements for built-in ones. JSON Schema's
   * common formats are built in (ajv-formats, full mode): `date-time`,
   * `date`, `time`, `duration`, `email`, `hostname`, `ipv4`, `ipv6`, `uri`,
   * `uri-reference`, `uri-template`, `url`, `uuid`, `json-pointer`,
   * `relative-json-pointer`, `regex`, and OpenAPI's `byte`, `int32`,
   * `int64`, `float`, `double`, `password`, `binary`. A schema naming an
   * unknown format fails to compile (so a format is never silently skipped).
   *
   * @default {{}}
   */
  formats?: Readonly<Record<string, RegExp | ((value: string) => boolean)>>;
  /**
   * Where ajv's schema warnings go.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * Refuse schemas with unknown keywords. Turn it off for schemas written
   * for other drafts, such as Choria's (`id`).
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * The JSON Schema draft of schemas that do not say (a root `$schema`
   * naming draft-07 or 2020-12 chooses for its schema). Tuples are
   * `prefixItems` in 2020-12 and `items: [...]` in draft-07.
   *
   * @default {"2020-12"}
   */
  draft?: SchemaDraft;
}

/**
 * The JSON Schema drafts a {@linkcode SchemaCompiler} understands.
 *
 * @example A draft-07 tuple
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler, type SchemaDraft } from "@seed/rpc/contract";
 * const draft: SchemaDraft = "07";
 * const validate = new SchemaCompiler({ draft }).compile({ type: "array", items: [{ type: "string" }] });
 * assertEquals(validate(["a"]), undefined);
 * ```
 */
export type SchemaDraft = "2020-12" | "07";

/** `$schema` values, without a trailing `#`, by draft. */
const DRAFT_URIS: Readonly<Record<string, SchemaDraft>> = {
  "https://json-schema.org/draft/2020-12/schema": "2020-12",
  "http://json-schema.org/draft-07/schema": "07",
};

/**
 * Compiles JSON Schemas (draft-07) into {@linkcode Validate} functions. Each
 * compiler has its own ajv instance, so `$id`s of different contracts never
 * collide.
 *
 * @example A failed check's issues
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { SchemaCompiler } from "@seed/rpc/contract";
 * const validate = new SchemaCompiler().compile({ type: "integer", minimum: 1 });
 * assertEquals(validate(0), [{ path: "", message: "must be >= 1", keyword: "minimum" }]);
 * ```
 */
export class SchemaCompiler {
  #options: SchemaCompilerOptions;
  #draft: SchemaDraft;
  #ajv: Partial<Record<SchemaDraft, Ajv>> = {};
  #compiled = new WeakMap<object, Validate>();

  /**
   * Makes a compiler with its own ajv instances.
   *
   * @param options Extra formats, the default draft, strictness and a logger for schema warnings.
   */
  constructor(options: SchemaCompilerOptions = {}) {
    const draft = options.draft ?? "2020-12";
    if (draft !== "2020-12" && draft !== "07") {
      throw new TypeError(`draft must be "2020-12" or "07", got ${JSON.stringify(draft)}`);
    }
    this.#options = options;
    this.#draft = draft;
  }

  /**
   * Compiles `schema`; the same schema object is compiled only once. Throws
   * a `TypeError` naming the problem, and where it is, when the schema
   * itself is invalid or uses a keyword the draft does not have.
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
    const draft = this.#draftOf(schema);
    let check: ReturnType<Ajv["compile"]>;
    try {
      check = this.#ajvFor(draft).compile(schema as Record<string, unknown>);
    } catch (error) {
      throw new TypeError(`Invalid schema: ${explain((error as Error).message, schema, draft)}`);
    }
    return (value: unknown) =>
      check(value) ? undefined : issuesFromAjv(check.errors as AjvError[] | null | undefined);
  }

  #draftOf(schema: Exclude<JsonSchema, boolean>): SchemaDraft {
    const uri = schema.$schema;
    if (uri === undefined) return this.#draft;
    const draft = typeof uri === "string" ? DRAFT_URIS[uri.replace(/#$/, "")] : undefined;
    if (draft === undefined) {
      throw new TypeError(
        `Invalid schema: $schema ${JSON.stringify(uri)} is not a draft this library supports ` +
          `(${Object.keys(DRAFT_URIS).join(", ")})`,
      );
    }
    return draft;
  }

  /** The ajv instance for `draft`, made on first use. */
  #ajvFor(draft: SchemaDraft): Ajv {
    const made = this.#ajv[draft];
    if (made !== undefined) return made;
    const options = this.#options;
    const logger = options.logger ?? consoleLogger;
    const settings = {
      allErrors: false,
      strict: options.strict ?? true,
      // A tuple without minItems is a valid schema: it accepts shorter arrays.
      strictTuples: false,
      logger: {
        log: (...args: unknown[]) => logger.debug(args.map(String).join(" ")),
        warn: (...args: unknown[]) => logger.warn(args.map(String).join(" ")),
        error: (...args: unknown[]) => logger.error(args.map(String).join(" ")),
      },
    };
    const ajv = draft === "2020-12" ? new Ajv2020(settings) as unknown as Ajv : new Ajv(settings);
    // JSON Schema's common formats, then the caller's (which may replace them).
    for (const [name, format] of Object.entries(fullFormats)) ajv.addFormat(name, format);
    for (const [name, format] of Object.entries(options.formats ?? {})) {
      ajv.addFormat(name, format);
    }
    return this.#ajv[draft] = ajv;
  }
}

/** ajv's message, with where the keyword is and what to do about a draft mismatch. */
function explain(message: string, schema: object, draft: SchemaDraft): string {
  const unknown = /unknown keyword: "([^"]+)"/.exec(message);
  if (unknown !== null) {
    const keyword = unknown[1]!;
    const at = findKeyword(schema, keyword);
    const hint = keyword === "prefixItems" && draft === "07"
      ? " (prefixItems is 2020-12: drop the draft-07 $schema or the draft option)"
      : "";
    return `unknown keyword "${keyword}"${at === undefined ? "" : ` at ${at}`}${hint}`;
  }
  if (draft === "2020-12" && /items must be object,boolean/.test(message)) {
    return `${message} (a tuple is prefixItems in JSON Schema 2020-12; for draft-07 ` +
      `schemas, set $schema to http://json-schema.org/draft-07/schema# or the draft option)`;
  }
  return message;
}

const acceptAll: Validate = () => undefined;
const REJECTED: readonly ValidationIssue[] = Object.freeze([
  { path: "", message: "is not allowed (the schema is false)", keyword: "false schema" },
]);
const rejectAll: Validate = () => REJECTED;
