/**
 * `@seed/rpc/contract`: typed API contracts. Declare a service's methods
 * once, each with a JSON Schema for its params and result; implement it on
 * one side and call it through a typed proxy on the other. Schemas are
 * compiled once with ajv, which only this entrypoint loads: the core
 * (`@seed/rpc`) stays free of dependencies.
 *
 * @example A typed contract over the in-memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { defineContract } from "@seed/rpc/contract";
 *
 * const Calculator = defineContract({
 *   incoming: {
 *     add: {
 *       params: {
 *         type: "object",
 *         properties: { a: { type: "number" }, b: { type: "number" } },
 *         required: ["a", "b"],
 *       },
 *       result: { type: "number" },
 *     },
 *   },
 * });
 *
 * const [serverEnd, clientEnd] = memoryPair();
 * const server = new Peer(serverEnd);
 * Calculator.implement(server, { add: ({ a, b }) => a + b });
 *
 * const client = new Peer(clientEnd);
 * const calculator = Calculator.invert().remote(client);
 * assertEquals(await calculator.add({ a: 1, b: 2 }), 3);
 *
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

export {
  type Broadcast,
  Contract,
  type ContractDefinition,
  type ContractOptions,
  defineContract,
  type Implementation,
  type IncomingOf,
  type ItemOf,
  type MethodSpec,
  type MethodSpecs,
  type NotificationSpec,
  type OutgoingOf,
  type ParamsOf,
  type Remote,
  type ResultOf,
} from "./protocol/contract/contract.ts";
export type {
  Infer,
  InferAll,
  InferArray,
  InferObject,
  InferTuple,
  InferType,
  JsonSchema,
} from "./protocol/contract/schema.ts";
export {
  formatIssues,
  SchemaCompiler,
  type SchemaCompilerOptions,
  type SchemaDraft,
  type Validate,
  type ValidationIssue,
} from "./protocol/contract/validator.ts";
