/**
 * Choria External agents and discovery programs in TypeScript, and the
 * protocol pieces they are made of. The harness that runs them as Choria
 * does is `@seed/rpc/choria/testing`.
 *
 * - {@linkcode defineAgent}, {@linkcode action}, {@linkcode runAgent}: an
 *   agent, its typed actions, and the one call its executable makes.
 * - {@linkcode parseDdl}, {@linkcode validateInputs},
 *   {@linkcode setOutputDefaults}, {@linkcode generateDdl}: DDLs, validated
 *   exactly as Choria's server validates.
 * - {@linkcode runDiscovery}, {@linkcode matchesFilter}: discovery programs.
 * - {@linkcode readConfig}, {@linkcode readFacts}, {@linkcode AgentLog}:
 *   configuration, facts and logging as Choria provides them.
 *
 * Build a single binary per platform with `deno compile`, and place it where
 * Choria looks (see the README, "Choria External").
 *
 * @example An agent answering one request
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, defineAgent, respond } from "@seed/rpc/choria";
 *
 * const clock = defineAgent({
 *   metadata: { name: "clock", description: "Tells the time", author: "ops", license: "MIT", version: "1.0.0", url: "https://example.net", timeout: 2 },
 *   actions: { now: action({ description: "The time", output: { epoch: { description: "Seconds", type: "integer" } }, run: () => ({ epoch: 1700000000 }) }) },
 * });
 * const request = JSON.stringify({
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "clock", action: "now", requestid: "1", senderid: "s", callerid: "c",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: {},
 * });
 * assertEquals(JSON.parse(await respond(clock, { request })).data, { epoch: 1700000000 });
 * ```
 *
 * @module
 */

export {
  action,
  type ActionCall,
  type ActionContext,
  ActionFailure,
  type ActionInterceptor,
  type ActionSpec,
  type ActivationContext,
  Agent,
  type AgentAction,
  type AgentDefinition,
  type AgentMetadata,
  defineAgent,
  generateDdl,
  type InputsOf,
  type InputSpec,
  type InputType,
  type InputValue,
  type OutputsOf,
  type OutputSpec,
} from "./agent.ts";
export { type Invocation, respond, runAgent, type RunAgentOptions } from "./run.ts";
export {
  checkDdl,
  type Ddl,
  DDL_SCHEMA_URL,
  type DdlAction,
  type DdlInput,
  type DdlMetadata,
  type DdlOutput,
  type InputProblem,
  parseDdl,
  setInputDefaults,
  setOutputDefaults,
  validateInputs,
  validateInputValue,
} from "./ddl.ts";
export {
  type DataFunction,
  type Discover,
  DiscoveryError,
  type DiscoveryFilter,
  type DiscoveryRequest,
  type FactFilter,
  matchesFilter,
  matchFact,
  type MatchOptions,
  type NodeInfo,
  respondDiscovery,
  runDiscovery,
} from "./discovery.ts";
export { configCandidates, parseConfig, readConfig, readFacts } from "./config.ts";
export { AgentLog, clampLine, MAX_LOG_LINE_BYTES } from "./log.ts";
export {
  ACTIVATION_REQUEST,
  type ActivationRequest,
  DISCOVERY_REPLY,
  DISCOVERY_REQUEST,
  goJson,
  RPC_REQUEST,
  type RpcReply,
  type RpcRequest,
  SCHEMA_URLS,
  StatusCode,
} from "./protocol.ts";
export { choriaSchema } from "./schemas.ts";
export { parseIP, re2, shellSafe, validateString } from "./validators.ts";
// The core library's types the Choria API refers to.
export {
  type ErrorObject,
  type LatencySummary,
  type PeerStats,
  RpcError,
  type Validate,
  type ValidationIssue,
} from "./_core.ts";
