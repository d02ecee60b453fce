/**
 * OpenRPC: a JSON description of a service's methods, their params and
 * results, that tools (and the `rpc describe` command) read. A contract
 * makes one with {@linkcode Contract.openrpc}; a peer serves it on request,
 * as the method `rpc.discover`, when given it in its `discover` option.
 * Nothing is served unless asked for.
 *
 * How a contract's params map to OpenRPC's list of params: an object schema
 * with `properties` gives one param per property (`paramStructure`
 * `"either"`, since the contract also takes them by position, in order); a
 * tuple (`prefixItems`) gives one param per item, by position. Any other
 * params schema (simplerpc's bare values) is kept whole in the method's
 * `x-params-schema`.
 *
 * @example Serve a description and read it back
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DISCOVER_METHOD, memoryPair, type OpenRpcDocument, Peer } from "@seed/rpc";
 * import { defineContract } from "@seed/rpc/contract";
 *
 * const Api = defineContract({
 *   name: "calculator",
 *   incoming: {
 *     add: {
 *       description: "Adds two numbers",
 *       params: {
 *         type: "object",
 *         properties: { a: { type: "number" }, b: { type: "number" } },
 *         required: ["a", "b"],
 *       },
 *       result: { type: "number" },
 *     },
 *   },
 * });
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { discover: Api.openrpc({ version: "1.2.0" }) });
 * Api.implement(server, { add: ({ a, b }) => a + b });
 * const client = new Peer(b);
 * const doc = await client.call<OpenRpcDocument>(DISCOVER_METHOD);
 * assertEquals(doc.info, { title: "calculator", version: "1.2.0" });
 * assertEquals(doc.methods[0]!.params.map((p) => [p.name, p.required]), [["a", true], ["b", true]]);
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { JsonSchema } from "./schema.ts";

/** The method a peer answers with its `discover` document. */
export const DISCOVER_METHOD = "rpc.discover";

/** The OpenRPC version of the documents made here. */
export const OPENRPC_VERSION = "1.3.2";

/**
 * A param or result in an OpenRPC document.
 */
export interface ContentDescriptor {
  /** The param's name (or `result`). */
  name: string;
  /** Its JSON Schema. */
  schema: JsonSchema;
  /** Whether a call must give it. */
  required?: boolean;
  /** What it is. */
  description?: string;
}

/**
 * One method in an OpenRPC document. A method without `result` is a
 * notification.
 */
export interface OpenRpcMethod {
  /** The method's name. */
  name: string;
  /** What it does. */
  description?: string;
  /** Its params, in order. */
  params: ContentDescriptor[];
  /** Its result; absent for a notification. */
  result?: ContentDescriptor;
  /** How params are passed: by name, by position, or either. */
  paramStructure: "by-name" | "by-position" | "either";
  /** The params schema when it is not an object or a tuple (kept whole). */
  "x-params-schema"?: JsonSchema;
  /**
   * A stream method's items (OpenRPC has no streams: an extension). `result`
   * is then what the stream ends with.
   */
  "x-stream"?: ContentDescriptor;
}

/**
 * An OpenRPC document (the parts this library writes and reads).
 */
export interface OpenRpcDocument {
  /** The OpenRPC version. */
  openrpc: string;
  /** The service's title, version and description. */
  info: { title: string; version: string; description?: string };
  /** Its methods. */
  methods: OpenRpcMethod[];
}

/**
 * What {@linkcode Contract.openrpc} puts in `info`.
 */
export interface OpenRpcInfo {
  /**
   * The service's title.
   *
   * @default {the contract's name}
   */
  title?: string;
  /**
   * The service's version.
   *
   * @default {"0.0.0"}
   */
  version?: string;
  /** What the service is for. */
  description?: string;
}

/**
 * A method as a contract declares it, for {@linkcode openRpcMethod}.
 */
export interface DescribedMethod {
  /** The params schema; left out for none. */
  readonly params?: JsonSchema;
  /** The result schema; left out, any result. */
  readonly result?: JsonSchema;
  /** Whether it is only ever notified. */
  readonly notification?: boolean;
  /** A stream method's item schema. */
  readonly stream?: JsonSchema;
  /** What it does. */
  readonly description?: string;
}

/**
 * The OpenRPC method for a contract's method spec.
 *
 * @example A tuple's params go by position
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openRpcMethod } from "@seed/rpc";
 * const method = openRpcMethod("move", {
 *   params: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }] },
 * });
 * assertEquals([method.paramStructure, method.params.map((p) => p.name)], ["by-position", ["0", "1"]]);
 * assertEquals(method.result, { name: "result", schema: true });
 * ```
 */
export function openRpcMethod(name: string, spec: DescribedMethod): OpenRpcMethod {
  const method: OpenRpcMethod = { name, params: [], paramStructure: "either" };
  if (spec.description !== undefined) method.description = spec.description;
  const params = spec.params;
  if (params !== undefined && params !== true) {
    const tuple = typeof params === "object" ? tupleItems(params) : undefined;
    const properties = typeof params === "object" ? params.properties : undefined;
    if (isRecord(properties)) {
      const required = new Set(
        Array.isArray((params as { required?: unknown }).required)
          ? (params as { required: unknown[] }).required
          : [],
      );
      for (const [key, schema] of Object.entries(properties)) {
        method.params.push(descriptor(key, schema as JsonSchema, required.has(key)));
      }
    } else if (tuple !== undefined) {
      method.paramStructure = "by-position";
      const minItems = (params as { minItems?: unknown }).minItems;
      const needed = typeof minItems === "number" ? minItems : 0;
      tuple.forEach((schema, i) => method.params.push(descriptor(String(i), schema, i < needed)));
    } else {
      method["x-params-schema"] = params;
    }
  }
  if (spec.notification !== true) method.result = { name: "result", schema: spec.result ?? true };
  if (spec.stream !== undefined && spec.notification !== true) {
    method["x-stream"] = { name: "item", schema: spec.stream };
  }
  return method;
}

function descriptor(name: string, schema: JsonSchema, required: boolean): ContentDescriptor {
  const described: ContentDescriptor = { name, schema, required };
  const description = typeof schema === "object" ? schema.description : undefined;
  if (typeof description === "string") described.description = description;
  return described;
}

/** The item schemas of a tuple (`prefixItems`, or a draft-07 `items` list). */
function tupleItems(schema: { readonly [keyword: string]: unknown }): JsonSchema[] | undefined {
  const items = schema.prefixItems ?? schema.items;
  return Array.isArray(items) ? items as JsonSchema[] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
