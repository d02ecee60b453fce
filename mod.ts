/**
 * `@seed/rpc`: call and serve remote procedures over any wire with one API.
 *
 * This entrypoint is the core: the message model, the {@linkcode Codec}
 * interface and the JSON-RPC 2.0 codec, the bidirectional {@linkcode Peer},
 * typed contracts, the error model, and the in-memory wire. Each network wire
 * has its own entrypoint (`@seed/rpc/tcp`, ...), so importing this one never
 * loads a socket or broker client.
 *
 * @example A typed contract over the in-memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { defineContract, jsonRpc, memoryPair, Peer } from "@seed/rpc";
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
 * const server = new Peer(serverEnd, { codec: jsonRpc });
 * Calculator.implement(server, { add: ({ a, b }) => a + b });
 *
 * const client = new Peer(clientEnd, { codec: jsonRpc });
 * const calculator = Calculator.invert().remote(client);
 * assertEquals(await calculator.add({ a: 1, b: 2 }), 3);
 *
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

export type {
  CloseMessage,
  ErrorMessage,
  ErrorObject,
  HeartbeatMessage,
  Id,
  InvalidMessage,
  Message,
  Meta,
  NotificationMessage,
  RequestMessage,
  ResultMessage,
} from "./protocol/message.ts";
export type { Codec } from "./protocol/codec.ts";
export { CANCEL_METHOD, jsonRpc, JsonRpcCodec } from "./protocol/jsonrpc.ts";
export {
  CallTimeout,
  ConnectionClosed,
  ErrorCode,
  FrameTooLarge,
  RemoteError,
  RpcError,
  standardMessage,
  TooManyCalls,
} from "./protocol/errors.ts";
export { consoleLogger, type Logger, silentLogger } from "./protocol/logger.ts";
export type { CallContext } from "./protocol/context.ts";
export {
  type CallOptions,
  type Handler,
  type NotifyOptions,
  Peer,
  type PeerOptions,
  type PeerStats,
} from "./protocol/peer.ts";
export type {
  Infer,
  InferAll,
  InferArray,
  InferObject,
  InferType,
  JsonSchema,
} from "./protocol/schema.ts";
export {
  formatIssues,
  SchemaCompiler,
  type SchemaCompilerOptions,
  type Validate,
  type ValidationIssue,
} from "./protocol/validator.ts";
export {
  Contract,
  type ContractDefinition,
  type ContractOptions,
  defineContract,
  type Implementation,
  type IncomingOf,
  type MethodSpec,
  type MethodSpecs,
  type NotificationSpec,
  type OutgoingOf,
  type ParamsOf,
  type Remote,
  type ResultOf,
} from "./protocol/contract.ts";
export {
  type Connection,
  type Recipients,
  Server,
  type ServerOptions,
  type ShutdownOptions,
} from "./protocol/server.ts";
export type { Listener, Transport } from "./transports/transport.ts";
export { memoryPair, type MemoryPairOptions, MemoryTransport } from "./transports/memory.ts";
