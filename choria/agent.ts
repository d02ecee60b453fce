/**
 * External agents in TypeScript: define the agent (its metadata, its actions
 * with typed inputs and outputs, an optional activation check), and run it
 * with one call from the executable's entry. The DDL is generated from the
 * definition, and inputs are validated against it exactly as Choria's server
 * does.
 *
 * What {@linkcode runAgent} does, following the protocol (and not the
 * helper libraries' slips):
 *
 * - The message type comes from `CHORIA_EXTERNAL_PROTOCOL` (Choria passes
 *   the RPC protocol in argv[3] even for activation checks), else from the
 *   request's `protocol`.
 * - The request comes from `CHORIA_EXTERNAL_REQUEST`, else argv[1], else
 *   stdin; the reply goes to `CHORIA_EXTERNAL_REPLY` (the existing file,
 *   truncated), else argv[2], else stdout. Exactly one reply, then exit 0.
 * - Requests are checked against the protocol's schema (ajv, compiled once).
 * - Status codes: unknown action 2, missing input 3, invalid input 4,
 *   handler exception 5 (its message kept), `ctx.abort()` 1; success writes
 *   `statusmsg: "OK"` and always a `data` object, with output defaults.
 * - An activation request is answered `{"activate": bool}`; an inactive
 *   agent refuses RPC with status 1 and says so.
 * - Half a second before the DDL timeout, `ctx.signal` aborts and the agent
 *   replies with status 1, rather than being killed without a reply.
 * - The invocation is one delivery on the library's one dispatch path (a
 *   {@linkcode Peer} over a one-request channel): the agent's interceptors,
 *   its fallback and latency stats apply as on any wire, and the DDL's
 *   validation runs as a contract's does, inside the interceptors.
 *
 * @example An agent in one file (run it as `#!/usr/bin/env -S deno run ...`)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, defineAgent, runAgent } from "@seed/rpc/choria";
 *
 * export const greeter = defineAgent({
 *   metadata: {
 *     name: "greeter",
 *     description: "Greets",
 *     author: "ops@example.net",
 *     license: "MIT",
 *     version: "1.0.0",
 *     url: "https://example.net",
 *     timeout: 5,
 *   },
 *   actions: {
 *     hello: action({
 *       description: "Says hello",
 *       input: { name: { description: "Who", type: "string", maxlength: 64, validation: "^\\w+$" } },
 *       output: { greeting: { description: "The greeting" } },
 *       run: ({ name }) => ({ greeting: `hello ${name}` }),
 *     }),
 *   },
 * });
 *
 * if (import.meta.main) await runAgent(greeter);
 *
 * // The DDL Choria reads from it:
 * assertEquals(greeter.ddl.actions.map((a) => a.action), ["hello"]);
 * ```
 *
 * @module
 */

import type { CallContext } from "../protocol/context.ts";
import type { Handler } from "../protocol/dispatch.ts";
import { RpcError } from "../protocol/errors.ts";
import type { Interceptor } from "../protocol/intercept.ts";
import type { Logger } from "../protocol/logger.ts";
import { Peer, type PeerStats } from "../protocol/peer.ts";
import { ACTIVATE_METHOD, ChoriaCodec } from "./_codec.ts";
import { InvocationChannel } from "./_invocation.ts";
import { getEnv, readRequest, writeReply } from "./_io.ts";
import { readConfig, readFacts } from "./config.ts";
import {
  checkDdl,
  type Ddl,
  DDL_SCHEMA_URL,
  type DdlAction,
  type DdlInput,
  type DdlMetadata,
  type DdlOutput,
  setInputDefaults,
  setOutputDefaults,
  validateInputs,
} from "./ddl.ts";
import { AgentLog } from "./log.ts";
import { type ActivationRequest, type RpcRequest, StatusCode } from "./protocol.ts";

/**
 * The types a DDL input or output may have.
 *
 * @example An input's type
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { InputType } from "@seed/rpc/choria";
 * const type: InputType = "integer";
 * assertEquals(type, "integer");
 * ```
 */
export type InputType =
  | "string"
  | "integer"
  | "int"
  | "number"
  | "float"
  | "boolean"
  | "list"
  | "hash"
  | "Hash"
  | "array"
  | "Array";

/**
 * An action input as you declare it: a DDL input whose `prompt` defaults
 * to the input's name and `optional` to false.
 *
 * @example A string input with a length limit and validation
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { InputSpec } from "@seed/rpc/choria";
 * const message: InputSpec = { description: "What to say", type: "string", maxlength: 4096, validation: "shellsafe" };
 * assertEquals(message.type, "string");
 * ```
 */
export interface InputSpec {
  /** What the input is. */
  description: string;
  /** The prompt a user interface shows (default: the input's name). */
  prompt?: string;
  /** Its type. */
  type: InputType;
  /** May it be left out? (default false) */
  optional?: boolean;
  /** The value used when it is left out (clients fill it in; so does this runtime). */
  default?: unknown;
  /** For strings: `shellsafe`, `ipv4address`, `ipv6address`, `ipaddress`, or a regex; needs `maxlength`. */
  validation?: string;
  /** For strings: the most UTF-8 bytes. Choria checks nothing about a string without it. */
  maxlength?: number;
  /** For lists: the allowed values. */
  list?: readonly string[];
}

/**
 * An action output as you declare it: a DDL output whose `display_as`
 * defaults to the output's name.
 *
 * @example An output with a default
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { OutputSpec } from "@seed/rpc/choria";
 * const count: OutputSpec = { description: "How many", type: "integer", default: 0 };
 * assertEquals(count.default, 0);
 * ```
 */
export interface OutputSpec {
  /** What the output is. */
  description: string;
  /** Its label in displays (default: the output's name). */
  display_as?: string;
  /** Filled in when a reply leaves it out (`null`: nothing). */
  default?: unknown;
  /** Its type, for displays and for the handler's return type. */
  type?: InputType;
}

/**
 * The TypeScript type of an input's value.
 *
 * @example A list input's value is one of its items
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { InputValue } from "@seed/rpc/choria";
 * const mode: InputValue<{ description: "m"; type: "list"; list: readonly ["fast", "slow"] }> = "fast";
 * assertEquals(mode, "fast");
 * ```
 */
export type InputValue<S> = S extends { readonly type: "list"; readonly list: readonly (infer L)[] }
  ? L
  : S extends { readonly type: "string" } ? string
  : S extends { readonly type: "integer" | "int" | "number" | "float" } ? number
  : S extends { readonly type: "boolean" } ? boolean
  : S extends { readonly type: "hash" | "Hash" } ? Record<string, unknown>
  : S extends { readonly type: "array" | "Array" } ? unknown[]
  : unknown;

/**
 * The inputs a handler receives: optional inputs without a default may be
 * missing; the others are always there.
 *
 * @example Required and optional inputs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { InputsOf } from "@seed/rpc/choria";
 * type I = InputsOf<{ n: { description: "n"; type: "integer" }; tag: { description: "t"; type: "string"; optional: true } }>;
 * const inputs: I = { n: 1 };
 * assertEquals(inputs, { n: 1 });
 * ```
 */
export type InputsOf<I> =
  & {
    -readonly [
      K in keyof I as I[K] extends { readonly optional: true; readonly default?: undefined } ? never
        : K
    ]: InputValue<I[K]>;
  }
  & {
    -readonly [
      K in keyof I as I[K] extends { readonly optional: true; readonly default?: undefined } ? K
        : never
    ]?: InputValue<I[K]>;
  };

/**
 * What a handler may return: its declared outputs (all optional; the DDL's
 * defaults fill the gaps) and any other keys.
 *
 * @example Outputs may carry extra keys
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { OutputsOf } from "@seed/rpc/choria";
 * type O = OutputsOf<{ count: { description: "c"; type: "integer" } }>;
 * const out: O = { count: 3, extra: "allowed" };
 * assertEquals(out, { count: 3, extra: "allowed" });
 * ```
 */
export type OutputsOf<O> = { [K in keyof O]?: InputValue<O[K]> } & Record<string, unknown>;

/**
 * An action deliberately ended with a status code and message; thrown by
 * {@linkcode ActionContext.abort} and {@linkcode ActionContext.fail}. It is
 * an {@linkcode RpcError} whose code is a Choria status (JSON-RPC's codes
 * are negative), so an {@linkcode ActionInterceptor} may throw it too.
 *
 * @example Failing an action with a status code
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ActionFailure } from "@seed/rpc/choria";
 * const failure = new ActionFailure(1, "disk full");
 * assertEquals([failure.code, failure.message], [1, "disk full"]);
 * ```
 */
export class ActionFailure extends RpcError {
  /** The Choria status code (1 to 5; any code of 0 or more crosses as it is). */
  declare readonly code: number;

  /**
   * Makes the failure.
   *
   * @param code The status code.
   * @param message The status message the caller sees.
   */
  constructor(code: number, message: string) {
    super(code, message);
    this.name = "ActionFailure";
  }
}

/**
 * What an action's handler gets beside its inputs.
 *
 * @example Reading the request in an action
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ActionContext } from "@seed/rpc/choria";
 * function where(ctx: ActionContext): string {
 *   return `${ctx.request.agent}#${ctx.request.action} from ${ctx.request.callerid}`;
 * }
 * assertEquals(typeof where, "function");
 * ```
 */
export interface ActionContext {
  /** The request file, as Choria wrote it. */
  readonly request: RpcRequest;
  /** The agent's configuration (`plugin.d/<agent>`), `{}` when there is none. */
  readonly config: Readonly<Record<string, string>>;
  /** The node's facts. */
  readonly facts: Readonly<Record<string, unknown>>;
  /** Logs to Choria's log (stdout: INFO; stderr: ERROR). */
  readonly log: AgentLog;
  /** Aborts half a second before the DDL timeout. */
  readonly signal: AbortSignal;
  /** Ends the action with status 1 (Aborted) and this message. */
  abort(message: string): never;
  /** Ends the action with any status code and message. */
  fail(code: number, message: string): never;
}

/**
 * What an activation check gets. Facts are empty: Choria leaves them out of
 * activation.
 *
 * @example Deciding activation from the agent's config
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ActivationContext } from "@seed/rpc/choria";
 * const enabled = (ctx: ActivationContext) => ctx.config.enabled !== "false";
 * assertEquals(typeof enabled, "function");
 * ```
 */
export interface ActivationContext {
  /** The agent's configuration. */
  readonly config: Readonly<Record<string, string>>;
  /** The node's facts (empty during activation). */
  readonly facts: Readonly<Record<string, unknown>>;
  /** Logs to Choria's log. */
  readonly log: AgentLog;
}

/**
 * One action as you declare it. Make it with {@linkcode action}, which types
 * `run` from `input` and `output`.
 *
 * @example An action without inputs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ActionSpec } from "@seed/rpc/choria";
 * const ping: ActionSpec<Record<never, never>, Record<never, never>> = {
 *   description: "Answers",
 *   run: () => ({ pong: true }),
 * };
 * assertEquals(ping.description, "Answers");
 * ```
 */
export interface ActionSpec<I, O> {
  /** What the action does. */
  description: string;
  /** Which replies the CLI shows: `ok`, `failed` (default) or `always`. */
  display?: "ok" | "failed" | "always";
  /** Inputs by name. */
  input?: I;
  /** Outputs by name. */
  output?: O;
  /** Client-side summaries, as in a DDL. */
  aggregate?: { function: string; args?: unknown }[];
  /** Does the work; returns the outputs (or nothing). */
  run(input: InputsOf<I>, ctx: ActionContext): OutputsOf<O> | void | Promise<OutputsOf<O> | void>;
}

/**
 * An action of an agent, with its types erased (what {@linkcode action}
 * returns).
 *
 * @example A checked action
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, type AgentAction } from "@seed/rpc/choria";
 * const ping: AgentAction = action({ description: "Answers", run: () => ({ pong: true }) });
 * assertEquals(ping.description, "Answers");
 * ```
 */
export interface AgentAction {
  /** What the action does. */
  readonly description: string;
  /** Which replies the CLI shows. */
  readonly display?: "ok" | "failed" | "always";
  /** Inputs by name. */
  readonly input: Readonly<Record<string, InputSpec>>;
  /** Outputs by name. */
  readonly output: Readonly<Record<string, OutputSpec>>;
  /** Client-side summaries. */
  readonly aggregate?: readonly { function: string; args?: unknown }[];
  /** Does the work. */
  run(input: Record<string, unknown>, ctx: ActionContext): unknown;
}

/**
 * Declares an action; `run`'s inputs and outputs are typed from `input` and
 * `output`.
 *
 * @example An action with typed inputs and outputs
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action } from "@seed/rpc/choria";
 * const add = action({
 *   description: "Adds",
 *   input: { a: { description: "a", type: "integer" }, b: { description: "b", type: "integer" } },
 *   output: { sum: { description: "a + b", type: "integer", default: 0 } },
 *   run: ({ a, b }) => ({ sum: a + b }),
 * });
 * assertEquals(Object.keys(add.input), ["a", "b"]);
 * ```
 */
export function action<
  const I extends Record<string, InputSpec> = Record<never, never>,
  const O extends Record<string, OutputSpec> = Record<never, never>,
>(spec: ActionSpec<I, O>): AgentAction {
  return {
    description: spec.description,
    display: spec.display,
    input: spec.input ?? {},
    output: spec.output ?? {},
    aggregate: spec.aggregate,
    run: spec.run as AgentAction["run"],
  };
}

/**
 * An agent's metadata as you declare it: the DDL's, without `provider`
 * (always `external`) and `service`.
 *
 * @example An agent's metadata
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { AgentMetadata } from "@seed/rpc/choria";
 * const metadata: AgentMetadata = {
 *   name: "parrot", description: "Repeats", author: "me", license: "MIT",
 *   version: "1.0.0", url: "https://example.net", timeout: 10,
 * };
 * assertEquals(metadata.name, "parrot");
 * ```
 */
export type AgentMetadata = Omit<DdlMetadata, "provider" | "service">;

/**
 * An agent as you declare it.
 *
 * @example Reading a definition's actions
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { AgentDefinition } from "@seed/rpc/choria";
 * function names(definition: AgentDefinition): string[] {
 *   return Object.keys(definition.actions);
 * }
 * assertEquals(typeof names, "function");
 * ```
 */
export interface AgentDefinition {
  /** Name, version, timeout... */
  metadata: AgentMetadata;
  /** Actions by name (lowercase letters, digits and `_`). */
  actions: Readonly<Record<string, AgentAction>>;
  /** Should this agent exist on this node? Default: yes. */
  activate?: (ctx: ActivationContext) => boolean | Promise<boolean>;
  /**
   * Functions around every action call (auth, logging, metrics), the first
   * outermost; they run inside the deadline and the activation check, before
   * the DDL's input validation.
   *
   * @default {[]}
   */
  interceptors?: readonly ActionInterceptor[];
  /**
   * Runs actions the definition does not have (`ctx.request.action` names
   * them), without DDL validation or output defaults. Left out, they are
   * answered status 2 (UnknownAction).
   *
   * @default {undefined}
   */
  fallback?: (input: Record<string, unknown>, ctx: ActionContext) => unknown;
}

/**
 * An action call as an {@linkcode ActionInterceptor} sees it.
 *
 * @example An interceptor that reads the caller
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ActionCall } from "@seed/rpc/choria";
 * const caller = (call: ActionCall) => `${call.request.callerid} runs ${call.action}`;
 * assertEquals(typeof caller, "function");
 * ```
 */
export interface ActionCall {
  /** The action's name. */
  readonly action: string;
  /** The inputs as the request carries them (unchecked); assign before `next()` to change them. */
  inputs: Record<string, unknown>;
  /** The request file, as Choria wrote it. */
  readonly request: RpcRequest;
  /** Aborts half a second before the DDL timeout. */
  readonly signal: AbortSignal;
}

/**
 * A function around an agent's action calls: it runs on the library's one
 * dispatch path, as a peer's interceptors do. Call `next()` at most once to
 * go on (it resolves with the reply's data); throw an
 * {@linkcode ActionFailure} to answer with its status instead.
 *
 * @example Refusing callers that are not known
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ActionFailure, type ActionInterceptor } from "@seed/rpc/choria";
 * const onlyOps: ActionInterceptor = (call, next) => {
 *   if (call.request.callerid !== "choria=ops.mcollective") {
 *     throw new ActionFailure(1, `${call.request.callerid} may not run ${call.action}`);
 *   }
 *   return next();
 * };
 * assertEquals(typeof onlyOps, "function");
 * ```
 */
export type ActionInterceptor = (call: ActionCall, next: () => Promise<unknown>) => unknown;

const SHORTNAME = /^[a-z0-9_]+$/;

/**
 * A defined agent: its definition and the DDL generated from it. Make one
 * with {@linkcode defineAgent}.
 *
 * @example An agent's generated DDL
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, Agent } from "@seed/rpc/choria";
 * const agent = new Agent({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({}) }) },
 * });
 * assertEquals(agent.ddl.metadata.provider, "external");
 * ```
 */
export class Agent {
  /** The definition. */
  readonly definition: AgentDefinition;
  /** The DDL generated from it; valid against `mcorpc.ddl.v1.agent.json`. */
  readonly ddl: Ddl;

  /**
   * Checks the definition and generates its DDL; throws a `TypeError` that
   * names the problem.
   */
  constructor(definition: AgentDefinition) {
    this.definition = definition;
    this.ddl = generateDdl(definition);
    const problem = checkDdl(this.ddl);
    if (problem !== undefined) {
      throw new TypeError(
        `Agent '${definition.metadata.name}': its DDL would be invalid: ${problem}`,
      );
    }
  }

  /** The agent's name. */
  get name(): string {
    return this.definition.metadata.name;
  }
}

/**
 * Defines an agent; its DDL is generated and checked now.
 *
 * @example Defining an agent
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, defineAgent } from "@seed/rpc/choria";
 * const agent = defineAgent({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1.0", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({}) }) },
 * });
 * assertEquals(agent.ddl.actions[0]!.action, "ping");
 * ```
 */
export function defineAgent(definition: AgentDefinition): Agent {
  return new Agent(definition);
}

function ddlInput(agent: string, actionName: string, name: string, spec: InputSpec): DdlInput {
  const where = `Agent '${agent}', action '${actionName}', input '${name}'`;
  if (!SHORTNAME.test(name)) {
    throw new TypeError(`${where}: names are lowercase letters, digits and _`);
  }
  const input: DdlInput = {
    prompt: spec.prompt ?? name,
    description: spec.description,
    type: spec.type,
    optional: spec.optional ?? false,
  };
  if (spec.default !== undefined) input.default = spec.default;
  if (spec.type === "string") {
    if (spec.validation !== undefined && !(spec.maxlength! > 0)) {
      throw new TypeError(
        `${where}: 'validation' needs 'maxlength' (Choria checks nothing about a string without a maxlength)`,
      );
    }
    input.validation = spec.validation ?? "";
    input.maxlength = spec.maxlength ?? 0;
  } else if (spec.type === "list") {
    if (!spec.list || spec.list.length === 0) {
      throw new TypeError(`${where}: a list input needs its 'list'`);
    }
    input.list = [...spec.list];
  }
  return input;
}

function ddlOutput(name: string, spec: OutputSpec): DdlOutput {
  const output: DdlOutput = {
    description: spec.description,
    display_as: spec.display_as ?? name,
    default: spec.default ?? null,
  };
  if (spec.type !== undefined) output.type = spec.type;
  return output;
}

/**
 * The DDL of an agent definition, as Choria's server and clients read it
 * (`metadata.provider` is `external`). `rpc choria ddl agent.ts` prints it.
 *
 * @example The DDL of a definition
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, generateDdl } from "@seed/rpc/choria";
 * const ddl = generateDdl({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({}) }) },
 * });
 * assertEquals(ddl.actions, [{ action: "ping", description: "ping", display: "failed", input: {}, output: {} }]);
 * ```
 */
export function generateDdl(definition: AgentDefinition): Ddl {
  const meta = definition.metadata;
  if (!SHORTNAME.test(meta.name)) {
    throw new TypeError(`Agent '${meta.name}': names are lowercase letters, digits and _`);
  }
  const actions: DdlAction[] = [];
  for (const [name, spec] of Object.entries(definition.actions)) {
    if (!SHORTNAME.test(name)) {
      throw new TypeError(
        `Agent '${meta.name}', action '${name}': names are lowercase letters, digits and _`,
      );
    }
    const input: Record<string, DdlInput> = {};
    for (const [inputName, inputSpec] of Object.entries(spec.input ?? {})) {
      input[inputName] = ddlInput(meta.name, name, inputName, inputSpec);
    }
    const output: Record<string, DdlOutput> = {};
    for (const [outputName, outputSpec] of Object.entries(spec.output ?? {})) {
      output[outputName] = ddlOutput(outputName, outputSpec);
    }
    const ddlAction: DdlAction = {
      action: name,
      description: spec.description,
      display: spec.display ?? "failed",
      input,
      output,
    };
    if (spec.aggregate !== undefined) ddlAction.aggregate = [...spec.aggregate];
    actions.push(ddlAction);
  }
  return {
    $schema: DDL_SCHEMA_URL,
    metadata: {
      name: meta.name,
      description: meta.description,
      author: meta.author,
      license: meta.license,
      version: meta.version,
      url: meta.url,
      timeout: meta.timeout,
      provider: "external",
    },
    actions,
  };
}

/**
 * Everything one invocation has to work with, read from the environment by
 * {@linkcode runAgent}, or given directly (in tests).
 *
 * @example An activation request as Choria passes it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Invocation } from "@seed/rpc/choria";
 * const invocation: Invocation = {
 *   protocol: "io.choria.mcorpc.external.v1.activation_request",
 *   request: '{"$schema": "x", "protocol": "io.choria.mcorpc.external.v1.activation_request", "agent": "parrot"}',
 * };
 * assertEquals(invocation.protocol, "io.choria.mcorpc.external.v1.activation_request");
 * ```
 */
export interface Invocation {
  /** `$CHORIA_EXTERNAL_PROTOCOL`, when set. */
  protocol?: string;
  /** The request file's text. */
  request: string;
  /** The node's facts. */
  facts?: Record<string, unknown>;
  /** The agent's configuration. */
  config?: Record<string, string>;
  /** Where the agent logs. */
  log?: AgentLog;
  /** Milliseconds until the action must have replied (default: the DDL timeout less 500 ms). */
  deadline?: number;
  /**
   * Told the dispatch counters once the reply is made, with the handler's
   * latency (measured only when this is given).
   *
   * @default {undefined}
   */
  stats?: (stats: PeerStats) => void;
}

/**
 * Answers one request: the reply file's text. This is {@linkcode runAgent}
 * without the files and the environment.
 *
 * The invocation is a one-delivery channel read by a {@linkcode Peer}: the
 * request file decodes to one message, the action runs through the one
 * dispatch path (the deadline, the activation check, the agent's
 * interceptors, then the DDL's validation and the action), and the reply
 * message encodes to the reply file (see `_codec.ts` for how errors map to
 * status codes).
 *
 * @example Answering one request without files
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, defineAgent, respond } from "@seed/rpc/choria";
 * const agent = defineAgent({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({ pong: true }) }) },
 * });
 * const request = {
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "t", action: "ping", requestid: "1", senderid: "s", callerid: "c",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: {},
 * };
 * const reply = await respond(agent, { request: JSON.stringify(request) });
 * assertEquals(JSON.parse(reply), { statuscode: 0, statusmsg: "OK", data: { pong: true } });
 * ```
 */
export async function respond(agent: Agent, invocation: Invocation): Promise<string> {
  const log = invocation.log ?? new AgentLog();
  const codec = new ChoriaCodec(invocation.protocol, log);
  const channel = new InvocationChannel(invocation.request, codec, log);
  const served = new Served(agent, invocation, log);
  const options = {
    latency: invocation.stats !== undefined,
    logger: peerLogger(log),
    name: agent.name,
  };
  // An activation check is dispatched too, without the action's interceptors.
  const peer = new Peer(
    channel,
    codec.activation ? { ...options, handlers: { [ACTIVATE_METHOD]: served.activation } } : {
      ...options,
      handlers: served.handlers(),
      fallback: served.fallback,
      interceptors: served.interceptors(),
    },
  );
  const reply = await channel.reply;
  invocation.stats?.(peer.stats());
  await peer.close();
  return reply;
}

/**
 * One invocation's handlers and interceptors: what the agent's definition
 * becomes on the dispatch path. The interceptors run outermost first: the
 * deadline, the activation check, then the agent's own.
 */
class Served {
  #agent: Agent;
  #invocation: Invocation;
  #log: AgentLog;
  #controller = new AbortController();

  constructor(agent: Agent, invocation: Invocation, log: AgentLog) {
    this.#agent = agent;
    this.#invocation = invocation;
    this.#log = log;
  }

  /** Answers an activation check: whether the agent is active here. */
  activation = (_params: unknown, ctx: CallContext): Promise<boolean> => {
    const named = (ctx.meta.request as ActivationRequest).agent;
    const agent = this.#agent;
    if (named !== agent.name) {
      this.#log.warn(`activation request for '${named}' reached agent '${agent.name}'`);
    }
    return isActive(agent, { config: this.#invocation.config ?? {}, facts: {}, log: this.#log });
  };

  /** A handler for each action: the DDL's checks and defaults around its `run`. */
  handlers(): Record<string, Handler> {
    const handlers: Record<string, Handler> = {};
    for (const ddlAction of this.#agent.ddl.actions) {
      const spec = this.#agent.definition.actions[ddlAction.action]!;
      handlers[ddlAction.action] = (params, ctx) => this.#run(spec, ddlAction, params, ctx);
    }
    return handlers;
  }

  /** Actions the agent does not have: its `fallback`, else status 2. */
  fallback = (params: unknown, ctx: CallContext): Promise<unknown> => {
    const fallback = this.#agent.definition.fallback;
    if (fallback === undefined) {
      throw new ActionFailure(
        StatusCode.UnknownAction,
        `Unknown action ${ctx.method} for agent ${this.#agent.name}`,
      );
    }
    return this.#run({ run: fallback }, undefined, params, ctx);
  };

  /** The deadline, the activation check, then the agent's interceptors. */
  interceptors(): Interceptor[] {
    const own = this.#agent.definition.interceptors ?? [];
    return [
      this.#deadline,
      this.#activeOnly,
      ...own.map(adaptInterceptor(this.#controller.signal)),
    ];
  }

  /**
   * Replies status 1 half a second before Choria's timeout (or at the
   * invocation's `deadline`) rather than be killed without a reply.
   */
  #deadline: Interceptor = async (call, next) => {
    const seconds = this.#agent.definition.metadata.timeout;
    const deadline = this.#invocation.deadline ??
      Math.max(0, seconds * 1000 - 500 - performance.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) =>
      timer = setTimeout(resolve, deadline, TIMED_OUT)
    );
    try {
      const outcome = await Promise.race([next(), timedOut]);
      if (outcome !== TIMED_OUT) return outcome;
    } finally {
      clearTimeout(timer);
    }
    this.#controller.abort(
      new DOMException(`the action ran out of time (${seconds} s)`, "TimeoutError"),
    );
    this.#log.error(`${call.method}: out of time, replying before Choria's ${seconds} s limit`);
    throw new RpcError(
      StatusCode.Aborted,
      `Action ${call.method} did not finish within ${seconds} s`,
      this.#defaults(call.method),
    );
  };

  /** An inactive agent refuses every action with status 1. */
  #activeOnly: Interceptor = async (call, next) => {
    const request = call.context!.meta.request as RpcRequest;
    const agent = this.#agent;
    if (request.agent !== agent.name) {
      this.#log.warn(`request for agent '${request.agent}' reached agent '${agent.name}'`);
    }
    const config = this.#invocation.config ?? {};
    const facts = this.#invocation.facts ?? {};
    if (!(await isActive(agent, { config, facts, log: this.#log }))) {
      throw new ActionFailure(StatusCode.Aborted, `Agent ${agent.name} is not active on this node`);
    }
    return next();
  };

  /** The output defaults of `action`, as a failure's reply data. */
  #defaults(action: string): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    const ddlAction = this.#agent.ddl.actions.find((a) => a.action === action);
    if (ddlAction !== undefined) setOutputDefaults(ddlAction, data);
    return data;
  }

  /**
   * Validates the inputs against the DDL (status 3 or 4), fills in their
   * defaults, runs the action, and makes its outputs the reply's data with
   * the DDL's defaults. Failures after the action started carry the output
   * defaults too.
   */
  async #run(
    spec: Pick<AgentAction, "run">,
    ddlAction: DdlAction | undefined,
    params: unknown,
    call: CallContext,
  ): Promise<Record<string, unknown>> {
    const log = this.#log;
    const name = call.method;
    const data = (params ?? {}) as Record<string, unknown>;
    const inputs: Record<string, unknown> = { ...data };
    if (ddlAction !== undefined) {
      const { problem, warnings } = validateInputs(ddlAction, data);
      for (const warning of warnings) log.warn(warning);
      if (problem !== undefined) {
        const code = problem.kind === "missing" ? StatusCode.MissingData : StatusCode.InvalidData;
        throw new ActionFailure(code, problem.message);
      }
      delete inputs.process_results;
      setInputDefaults(ddlAction, inputs);
    }
    const failed = (code: number, message: string) =>
      new RpcError(code, message, this.#defaults(name));
    const controller = this.#controller;
    const ctx: ActionContext = {
      request: call.meta.request as RpcRequest,
      config: this.#invocation.config ?? {},
      facts: this.#invocation.facts ?? {},
      log,
      signal: controller.signal,
      abort(message: string): never {
        throw new ActionFailure(StatusCode.Aborted, message);
      },
      fail(code: number, message: string): never {
        throw new ActionFailure(code, message);
      },
    };
    let result: unknown;
    try {
      result = await spec.run(inputs, ctx);
    } catch (error) {
      if (error instanceof ActionFailure) throw failed(error.code, error.message);
      const message = error instanceof Error ? error.message : String(error);
      log.error(`${name} failed: ${error instanceof Error && error.stack ? error.stack : message}`);
      throw failed(StatusCode.UnknownError, message);
    }
    if (
      result !== undefined && result !== null &&
      (typeof result !== "object" || Array.isArray(result))
    ) {
      log.error(
        `${name} returned ${
          Array.isArray(result) ? "an array" : `a ${typeof result}`
        }, not an object`,
      );
      throw failed(StatusCode.UnknownError, `Action ${name} returned no object`);
    }
    const outputs = { ...(result as Record<string, unknown> ?? {}) };
    if (ddlAction !== undefined) setOutputDefaults(ddlAction, outputs);
    return outputs;
  }
}

const TIMED_OUT: unique symbol = Symbol("timed out");

/** An {@linkcode ActionInterceptor} as the dispatch path's interceptor. */
function adaptInterceptor(signal: AbortSignal) {
  return (own: ActionInterceptor): Interceptor => (call, next) =>
    own({
      action: call.method,
      get inputs(): Record<string, unknown> {
        return call.params as Record<string, unknown>;
      },
      set inputs(inputs: Record<string, unknown>) {
        call.params = inputs;
      },
      request: call.context!.meta.request as RpcRequest,
      signal,
    }, next);
}

/** The peer's own log lines (an interceptor's exception) go to Choria's log. */
function peerLogger(log: AgentLog): Logger {
  const line = (message: string, data: unknown[]) =>
    [message, ...data.map((d) => d instanceof Error ? d.stack ?? d.message : String(d))].join(": ");
  return {
    debug(): void {},
    warn: (message, ...data) => log.warn(line(message, data)),
    error: (message, ...data) => log.error(line(message, data)),
  };
}

async function isActive(agent: Agent, ctx: ActivationContext): Promise<boolean> {
  const check = agent.definition.activate;
  if (check === undefined) return true;
  try {
    return (await check(ctx)) === true;
  } catch (error) {
    ctx.log.error(`the activation check failed: ${(error as Error).message}`);
    return false;
  }
}

/**
 * Options for {@linkcode runAgent}; the defaults are the process's own.
 *
 * @example Running without exiting the process
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { RunAgentOptions } from "@seed/rpc/choria";
 * const options: RunAgentOptions = { exit: false };
 * assertEquals(options.exit, false);
 * ```
 */
export interface RunAgentOptions {
  /**
   * Command-line arguments.
   *
   * @default {Deno.args}
   */
  args?: string[];
  /**
   * Reads an environment variable (`undefined` when not permitted).
   *
   * @default {Deno.env.get}
   */
  env?: (name: string) => string | undefined;
  /**
   * Exit the process when done.
   *
   * @default {true}
   */
  exit?: boolean;
  /** Where to log. */
  log?: AgentLog;
}

/**
 * Runs `agent` as Choria runs an external agent's executable: reads the
 * request, writes exactly one reply, and exits 0. Call it from the
 * executable's entry; it resolves only when `exit` is false.
 *
 * Exit status 1 means no reply could be written (the reply file is not
 * writable); the reason goes to stderr.
 *
 * @example The main module of an agent executable
 * ```ts ignore
 * import { runAgent } from "@seed/rpc/choria";
 * import { parrot } from "./parrot.ts";
 * await runAgent(parrot);
 * ```
 */
export async function runAgent(agent: Agent, options: RunAgentOptions = {}): Promise<void> {
  const env = options.env ?? getEnv;
  const args = options.args ?? Deno.args;
  const log = options.log ?? new AgentLog();
  // The early reply covers reading the input too: it must end before then.
  const deadline = agent.definition.metadata.timeout * 1000 - 500 - performance.now();
  const left = () => Math.max(0, deadline - performance.now());
  const reply = await respond(agent, {
    protocol: env("CHORIA_EXTERNAL_PROTOCOL"),
    request: await readRequest(env("CHORIA_EXTERNAL_REQUEST") || args[0], log, left()),
    config: await readConfig(
      env("CHORIA_EXTERNAL_CONFIG"),
      agent.name,
      (m) => log.warn(m),
      left(),
    ),
    facts: await readFacts(env("CHORIA_EXTERNAL_FACTS"), (m) => log.warn(m), left()),
    log,
  });
  const status = await writeReply(env("CHORIA_EXTERNAL_REPLY") || args[1], reply, log);
  if (options.exit !== false) Deno.exit(status);
}
