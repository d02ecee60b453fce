/**
 * Agent DDLs (JSON): their shape, loading and checking them against
 * `mcorpc.ddl.v1.agent.json`, validating a request's inputs exactly as
 * Choria's server does, and filling output defaults.
 *
 * @example Validate inputs as the Choria server would
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseDdl, validateInputs } from "@seed/rpc/choria";
 *
 * const ddl = parseDdl(JSON.stringify({
 *   metadata: {
 *     name: "parrot", description: "Repeats", author: "me", license: "MIT",
 *     version: "1.0.0", url: "https://example.net", timeout: 10, provider: "external",
 *   },
 *   actions: [{
 *     action: "echo", description: "Echoes", display: "always", output: {},
 *     input: {
 *       message: {
 *         prompt: "Message", description: "What to say", type: "string",
 *         optional: false, validation: "shellsafe", maxlength: 4096,
 *       },
 *     },
 *   }],
 * }));
 * const echo = ddl.actions.find((a) => a.action === "echo")!;
 * assertEquals(validateInputs(echo, { message: "hi" }).problem, undefined);
 * assertEquals(validateInputs(echo, { message: "a; b" }).problem, {
 *   kind: "invalid",
 *   message: "validation failed for input 'message': may not contain ';'",
 * });
 * ```
 *
 * @module
 */

import { formatIssues } from "./_core.ts";
import { choriaSchema } from "./schemas.ts";
import { validateString } from "./validators.ts";

/**
 * One input of an action.
 */
export interface DdlInput {
  /** The prompt a user interface shows. */
  prompt: string;
  /** What the input is. */
  description: string;
  /** `string`, `integer`, `number`, `float`, `boolean`, `list`, `hash`, `array`. */
  type: string;
  /** Whether it may be left out. */
  optional: boolean;
  /** The value clients fill in when it is left out (the server does not). */
  default?: unknown;
  /** For strings: `shellsafe`, `ipv4address`, `ipv6address`, `ipaddress`, or a regex. */
  validation?: string;
  /** For strings: the most UTF-8 bytes; 0 or absent skips every string check. */
  maxlength?: number;
  /** For lists: the allowed values. */
  list?: string[];
}

/**
 * One output of an action.
 */
export interface DdlOutput {
  /** What the output is. */
  description: string;
  /** Its label in displays. */
  display_as: string;
  /** Filled in by the server when the reply leaves it out (`null` fills nothing). */
  default?: unknown;
  /** Its type, for displays. */
  type?: string;
}

/**
 * One action of an agent.
 */
export interface DdlAction {
  /** The action's name. */
  action: string;
  /** What it does. */
  description: string;
  /**
   * Which replies the CLI shows: `ok`, `failed` or `always`.
   *
   * @default {"failed"}
   */
  display?: "ok" | "failed" | "always";
  /** Inputs by name. */
  input: Record<string, DdlInput>;
  /** Outputs by name. */
  output: Record<string, DdlOutput>;
  /** Client-side summaries. */
  aggregate?: { function: string; args?: unknown }[];
}

/**
 * An agent's metadata.
 */
export interface DdlMetadata {
  /** The agent's name (what Choria calls it by). */
  name: string;
  /** What the agent does. */
  description: string;
  /** Who maintains it. */
  author: string;
  /** Its licence. */
  license: string;
  /** Its version (`1`, `1.0` or `1.0.0`). */
  version: string;
  /** Where to learn more. */
  url: string;
  /** Seconds an action may run before it is killed (at least 2). */
  timeout: number;
  /** `external` for an external agent. */
  provider?: string;
  /** Run as a service. */
  service?: boolean;
}

/**
 * An agent DDL.
 */
export interface Ddl {
  /** `https://choria.io/schemas/mcorpc/ddl/v1/agent.json`. */
  $schema?: string;
  /** The agent. */
  metadata: DdlMetadata;
  /** Its actions. */
  actions: DdlAction[];
}

/** The `$schema` of an agent DDL. */
export const DDL_SCHEMA_URL = "https://choria.io/schemas/mcorpc/ddl/v1/agent.json";

/**
 * Checks a value against Choria's DDL schema; `undefined` when it is a
 * valid DDL, or a one-line description of the first problem.
 *
 * @example Checking a DDL against Choria's schema
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { checkDdl } from "@seed/rpc/choria";
 * assertEquals(checkDdl({ metadata: {}, actions: [] }), "/metadata/name is required");
 * ```
 */
export function checkDdl(value: unknown): string | undefined {
  const issues = choriaSchema("mcorpc.ddl.v1.agent")(value);
  return issues === undefined ? undefined : formatIssues(issues);
}

/**
 * Parses a DDL's JSON text and checks it against the DDL schema; throws a
 * `TypeError` that says what is wrong.
 *
 * @example Parsing refuses text that is not JSON
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { parseDdl } from "@seed/rpc/choria";
 * assertThrows(() => parseDdl("{"), TypeError, "not JSON");
 * ```
 */
export function parseDdl(text: string): Ddl {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`The DDL is not JSON: ${(error as Error).message}`);
  }
  const problem = checkDdl(value);
  if (problem !== undefined) throw new TypeError(`The DDL is not valid: ${problem}`);
  return value as Ddl;
}

/**
 * Why a request's inputs were refused: `missing` (status 3 in an agent) or
 * `invalid` (status 4); Choria's server reports both as status 1
 * `Validation failed: <message>`.
 */
export interface InputProblem {
  /** Which way the inputs failed. */
  kind: "missing" | "invalid";
  /** go-choria's words for it. */
  message: string;
}

const encoder = new TextEncoder();

/** The UTF-8 length of `text`, in bytes. */
function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Checks one value against one input, as go-choria's `ValidateValue`: the
 * error message (without the input's name), or `undefined`; `warning` for an
 * unknown named validator.
 *
 * @example Checking one value against its input
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { validateInputValue } from "@seed/rpc/choria";
 * const count = { prompt: "n", description: "n", type: "integer", optional: false };
 * assertEquals(validateInputValue(count, 1.0).error, undefined);
 * assertEquals(validateInputValue(count, 1.5).error, "is not an integer");
 * ```
 */
export function validateInputValue(
  input: DdlInput,
  value: unknown,
): { error?: string; warning?: string } {
  const type = String(input.type ?? "");
  switch (type.toLowerCase()) {
    case "integer":
    case "int":
      return typeof value === "number" && Number.isInteger(value)
        ? {}
        : { error: "is not an integer" };
    case "number":
      return typeof value === "number" ? {} : { error: "is not a number" };
    case "float":
      return typeof value === "number" ? {} : { error: "is not a float" };
    case "string": {
      if (typeof value !== "string") return { error: "is not a string" };
      const max = input.maxlength ?? 0;
      if (max === 0) return {};
      if (utf8Length(value) > max) return { error: `is longer than ${max} characters` };
      return input.validation ? validateString(input.validation, value) : {};
    }
    case "boolean":
      return typeof value === "boolean" ? {} : { error: "is not a boolean" };
    case "list": {
      const list = input.list ?? [];
      if (list.length === 0) {
        return { error: "input type of list without a valid list of items in DDL" };
      }
      if (typeof value !== "string") return { error: "should be a string" };
      return list.includes(value) ? {} : { error: `should be one of ${list.join(", ")}` };
    }
    case "hash":
      return value !== null && typeof value === "object" && !Array.isArray(value)
        ? {}
        : { error: "is not a hash map" };
    case "array":
      return Array.isArray(value) ? {} : { error: "is not an array" };
    default:
      return { error: `unsupported input type '${type}'` };
  }
}

/**
 * Validates a request's `data` against an action's inputs exactly as
 * go-choria's server does (`ValidateRequestData`): `process_results` is
 * ignored; inputs are checked in name order (a missing required input fails
 * even when it has a default); then data for an action without inputs, then
 * undeclared inputs, are refused. Warnings (unknown named validators) are
 * returned too.
 *
 * @example Checking a request's inputs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { validateInputs } from "@seed/rpc/choria";
 * const action = { action: "go", description: "go", input: {}, output: {} };
 * assertEquals(validateInputs(action, { x: 1 }).problem?.message, "request contains inputs while none are declared in the DDL");
 * ```
 */
export function validateInputs(
  action: DdlAction,
  data: Record<string, unknown>,
): { problem?: InputProblem; warnings: string[] } {
  const warnings: string[] = [];
  const names = Object.keys(action.input ?? {}).sort();
  const given = Object.keys(data).filter((key) => key !== "process_results");
  for (const name of names) {
    const input = action.input[name]!;
    if (!Object.hasOwn(data, name)) {
      if (!input.optional) {
        return { problem: { kind: "missing", message: `input '${name}' is required` }, warnings };
      }
      continue;
    }
    const { error, warning } = validateInputValue(input, data[name]);
    if (warning !== undefined) warnings.push(warning);
    if (error !== undefined) {
      return {
        problem: { kind: "invalid", message: `validation failed for input '${name}': ${error}` },
        warnings,
      };
    }
  }
  if (names.length === 0 && given.length > 0) {
    return {
      problem: {
        kind: "invalid",
        message: "request contains inputs while none are declared in the DDL",
      },
      warnings,
    };
  }
  const undeclared = given.find((key) => !names.includes(key));
  if (undeclared !== undefined) {
    return {
      problem: {
        kind: "invalid",
        message:
          `request contains an input '${undeclared}' that is not declared in the DDL. Valid inputs are: ${
            names.join(", ")
          }`,
      },
      warnings,
    };
  }
  return { warnings };
}

/**
 * Fills in, in place, every declared output missing from `data` whose
 * default is not `null`, as Choria's server does after an agent replies
 * (whatever the status). A key present with `null` is kept.
 *
 * @example Filling in output defaults
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setOutputDefaults } from "@seed/rpc/choria";
 * const action = {
 *   action: "a", description: "a", input: {},
 *   output: { n: { description: "n", display_as: "N", default: 0 }, s: { description: "s", display_as: "S", default: null } },
 * };
 * const data: Record<string, unknown> = {};
 * setOutputDefaults(action, data);
 * assertEquals(data, { n: 0 });
 * ```
 */
export function setOutputDefaults(action: DdlAction, data: Record<string, unknown>): void {
  for (const name of Object.keys(action.output ?? {}).sort()) {
    if (Object.hasOwn(data, name)) continue;
    const fallback = action.output[name]!.default;
    if (fallback !== null && fallback !== undefined) data[name] = structuredClone(fallback);
  }
}

/**
 * Fills in, in place, the defaults of inputs a request left out, as Choria's
 * clients do (the server does not). Agents built with this library do it
 * for their handlers.
 *
 * @example Filling in input defaults
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { setInputDefaults } from "@seed/rpc/choria";
 * const action = {
 *   action: "ping", description: "ping", output: {},
 *   input: { message: { prompt: "m", description: "m", type: "string", optional: true, default: "ping" } },
 * };
 * const data: Record<string, unknown> = {};
 * setInputDefaults(action, data);
 * assertEquals(data, { message: "ping" });
 * ```
 */
export function setInputDefaults(action: DdlAction, data: Record<string, unknown>): void {
  for (const name of Object.keys(action.input ?? {}).sort()) {
    if (Object.hasOwn(data, name)) continue;
    const fallback = action.input[name]!.default;
    if (fallback !== null && fallback !== undefined) data[name] = structuredClone(fallback);
  }
}
