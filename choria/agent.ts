/**
 * External agents in TypeScript: define the agent (its metadata, its actions
 * with typed inputs and outputs, an optional activation check, interceptors),
 * and run it with one call from the executable's entry
 * ({@linkcode runAgent}). The DDL is generated from the definition, and
 * inputs are validated against it exactly as Choria's server does.
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

import { RpcError } from "./_core.ts";
import {
  checkDdl,
  type Ddl,
  DDL_SCHEMA_URL,
  type DdlAction,
  type DdlInput,
  type DdlMetadata,
  type DdlOutput,
} from "./ddl.ts";
import type { AgentLog } from "./log.ts";
import type { RpcRequest } from "./protocol.ts";

/**
 * The types a DDL input or output may have.
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
 */
export interface InputSpec {
  /** What the input is. */
  description: string;
  /**
   * The prompt a user interface shows.
   *
   * @default {the input's name}
   */
  prompt?: string;
  /** Its type. */
  type: InputType;
  /**
   * May it be left out?
   *
   * @default {false}
   */
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
 */
export interface OutputSpec {
  /** What the output is. */
  description: string;
  /**
   * Its label in displays.
   *
   * @default {the output's name}
   */
  display_as?: string;
  /** Filled in when a reply leaves it out (`null`: nothing). */
  default?: unknown;
  /** Its type, for displays and for the handler's return type. */
  type?: InputType;
}

/**
 * The TypeScript type of an input's value.
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
 */
export type OutputsOf<O> = { [K in keyof O]?: InputValue<O[K]> } & Record<string, unknown>;

/**
 * An action deliberately ended with a status code and message; thrown by
 * {@linkcode ActionContext.abort} and {@linkcode ActionContext.fail}. It is
 * an {@linkcode RpcError} whose code is a Choria status (JSON-RPC's codes
 * are negative), so an {@linkcode ActionInterceptor} may throw it too.
 *
 * @example An action that fails with status 1
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, ActionFailure, defineAgent, respond } from "@seed/rpc/choria";
 *
 * const agent = defineAgent({
 *   metadata: { name: "disk", description: "d", author: "a", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: {
 *     clean: action({
 *       description: "Cleans",
 *       run: () => {
 *         throw new ActionFailure(1, "disk full");
 *       },
 *     }),
 *   },
 * });
 * const request = JSON.stringify({
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "disk", action: "clean", requestid: "1", senderid: "s", callerid: "c",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: {},
 * });
 * assertEquals(JSON.parse(await respond(agent, { request })), { statuscode: 1, statusmsg: "disk full", data: {} });
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
 */
export interface ActionSpec<I, O> {
  /** What the action does. */
  description: string;
  /**
   * Which replies the CLI shows: `ok`, `failed` or `always`.
   *
   * @default {"failed"}
   */
  display?: "ok" | "failed" | "always";
  /**
   * Inputs by name.
   *
   * @default {{}}
   */
  input?: I;
  /**
   * Outputs by name.
   *
   * @default {{}}
   */
  output?: O;
  /** Client-side summaries, as in a DDL. */
  aggregate?: { function: string; args?: unknown }[];
  /** Does the work; returns the outputs (or nothing). */
  run(input: InputsOf<I>, ctx: ActionContext): OutputsOf<O> | void | Promise<OutputsOf<O> | void>;
}

/**
 * An action of an agent, with its types erased (what {@linkcode action}
 * returns).
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
 * import { action, defineAgent, respond } from "@seed/rpc/choria";
 *
 * const add = action({
 *   description: "Adds",
 *   input: { a: { description: "a", type: "integer" }, b: { description: "b", type: "integer" } },
 *   output: { sum: { description: "a + b", type: "integer", default: 0 } },
 *   run: ({ a, b }) => ({ sum: a + b }), // a and b are numbers here
 * });
 * const calc = defineAgent({
 *   metadata: { name: "calc", description: "c", author: "a", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { add },
 * });
 * const request = JSON.stringify({
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "calc", action: "add", requestid: "1", senderid: "s", callerid: "c",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: { a: 2, b: 3 },
 * });
 * assertEquals(JSON.parse(await respond(calc, { request })).data, { sum: 5 });
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
 */
export type AgentMetadata = Omit<DdlMetadata, "provider" | "service">;

/**
 * An agent as you declare it.
 */
export interface AgentDefinition {
  /** Name, version, timeout... */
  metadata: AgentMetadata;
  /** Actions by name (lowercase letters, digits and `_`). */
  actions: Readonly<Record<string, AgentAction>>;
  /**
   * Should this agent exist on this node?
   *
   * @default {undefined (always active)}
   */
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
 * import { action, ActionFailure, type ActionInterceptor, defineAgent, respond } from "@seed/rpc/choria";
 *
 * const onlyOps: ActionInterceptor = (call, next) => {
 *   if (call.request.callerid !== "choria=ops.mcollective") {
 *     throw new ActionFailure(1, `${call.request.callerid} may not run ${call.action}`);
 *   }
 *   return next();
 * };
 * const agent = defineAgent({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({ pong: true }) }) },
 *   interceptors: [onlyOps],
 * });
 * const request = JSON.stringify({
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "t", action: "ping", requestid: "1", senderid: "s", callerid: "choria=eve.mcollective",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: {},
 * });
 * const reply = JSON.parse(await respond(agent, { request }));
 * assertEquals([reply.statuscode, reply.statusmsg], [1, "choria=eve.mcollective may not run ping"]);
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
