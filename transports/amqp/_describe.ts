// A service's description as nuropb's `nuropb_describe` answers it, made
// from a contract's JSON Schemas (or from handler names alone).

import type { JsonSchema } from "../../protocol/contract/schema.ts";

/**
 * One method in a description.
 */
export interface MethodDescription {
  /** What the method does. */
  description: string;
  /** Whether callers must encrypt calls to it. */
  requires_encryption: boolean;
  /** Its named parameters; `properties` is a list of `[name, spec]` pairs, as nuropb writes it. */
  parameters: {
    type: "object";
    properties: Array<[string, { type: string; description: string; default: unknown }]>;
    required: string[];
  };
}

/**
 * What `nuropb_describe` answers.
 */
export interface ServiceDescription {
  /** The service's name. */
  service_name: string;
  /** Its version. */
  service_version: string;
  /** What it does. */
  description: string;
  /** Anything a caller should know. */
  warnings: string[];
  /** Whether any method requires encryption. */
  encrypted_methods: boolean;
  /** PEM SubjectPublicKeyInfo to encrypt calls with, or `null`. */
  public_key: string | null;
  /** Its methods by name. */
  methods: Record<string, MethodDescription>;
}

/**
 * The method specs of a contract, as far as describing needs them (a
 * `Contract`'s `incoming` fits).
 */
export interface DescribableSpecs {
  /** A method's params schema and description, by method name (its result and kind are not described). */
  readonly [name: string]: {
    readonly params?: JsonSchema;
    readonly description?: string;
    readonly result?: JsonSchema;
    readonly notification?: boolean;
  };
}

const PYTHON_TYPES: Record<string, string> = {
  string: "str",
  integer: "int",
  number: "float",
  boolean: "bool",
  array: "list",
  object: "dict",
  null: "None",
};

function typeName(schema: unknown): string {
  if (typeof schema !== "object" || schema === null) return "Any";
  const type = (schema as { type?: unknown }).type;
  if (typeof type === "string") return PYTHON_TYPES[type] ?? type;
  if (Array.isArray(type)) return type.map((t) => PYTHON_TYPES[String(t)] ?? String(t)).join(" | ");
  return "Any";
}

function parametersOf(schema: JsonSchema | undefined): MethodDescription["parameters"] {
  const properties: MethodDescription["parameters"]["properties"] = [];
  const object = typeof schema === "object" && schema !== null
    ? schema as { properties?: Record<string, unknown>; required?: unknown }
    : {};
  for (const [name, spec] of Object.entries(object.properties ?? {})) {
    const described = typeof spec === "object" && spec !== null
      ? spec as { description?: unknown; default?: unknown }
      : {};
    properties.push([name, {
      type: typeName(spec),
      description: typeof described.description === "string" ? described.description : "",
      default: described.default ?? "",
    }]);
  }
  const required = Array.isArray(object.required) ? object.required.map(String) : [];
  return { type: "object", properties, required };
}

/** Builds the description nuropb callers expect. */
export function describeService(
  service: string,
  methods: readonly string[],
  info: {
    specs?: DescribableSpecs;
    description?: string;
    version?: string;
    encryptedMethods?: readonly string[];
    publicKey?: string | null;
  },
): ServiceDescription {
  const described: Record<string, MethodDescription> = {};
  const encrypted = new Set(info.encryptedMethods ?? []);
  for (const name of methods) {
    const spec = info.specs?.[name];
    described[name] = {
      description: spec?.description ?? "",
      requires_encryption: encrypted.has(name),
      parameters: parametersOf(spec?.params),
    };
  }
  return {
    service_name: service,
    service_version: info.version ?? "",
    description: info.description ?? "",
    warnings: [],
    encrypted_methods: encrypted.size > 0,
    public_key: info.publicKey ?? null,
    methods: described,
  };
}

/**
 * Whether `topic` matches an AMQP topic `pattern` (`*` one word, `#` any number).
 *
 * @example Which events a subscription to `orders.#` gets
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { topicMatches } from "@seed/rpc/amqp";
 * assertEquals(topicMatches("orders.#", "orders.created.eu"), true);
 * assertEquals(topicMatches("orders.*", "orders.created.eu"), false);
 * assertEquals(topicMatches("*.created", "orders.created"), true);
 * ```
 */
export function topicMatches(pattern: string, topic: string): boolean {
  return matchWords(pattern.split("."), 0, topic.split("."), 0);
}

function matchWords(pattern: string[], p: number, words: string[], w: number): boolean {
  while (p < pattern.length) {
    const part = pattern[p]!;
    if (part === "#") {
      for (let skip = w; skip <= words.length; skip++) {
        if (matchWords(pattern, p + 1, words, skip)) return true;
      }
      return false;
    }
    if (w >= words.length || (part !== "*" && part !== words[w])) return false;
    p++;
    w++;
  }
  return w === words.length;
}
