/**
 * An agent on the dispatch path: for one invocation, its actions as
 * handlers (the DDL's validation and defaults around each `run`), its
 * fallback, and the interceptors around them (the deadline, the activation
 * check, then the agent's own).
 *
 * @module
 */

import {
  type CallContext,
  type Handler,
  type Interceptor,
  type Logger,
  RpcError,
} from "./_core.ts";
import {
  type ActionContext,
  ActionFailure,
  type ActionInterceptor,
  type ActivationContext,
  type Agent,
  type AgentAction,
} from "./agent.ts";
import { type DdlAction, setInputDefaults, setOutputDefaults, validateInputs } from "./ddl.ts";
import type { AgentLog } from "./log.ts";
import { type ActivationRequest, type RpcRequest, StatusCode } from "./protocol.ts";

/** What an invocation gives its actions (the `Invocation` fields they read). */
export interface ServedOptions {
  /** The node's facts. */
  facts?: Record<string, unknown>;
  /** The agent's configuration. */
  config?: Record<string, string>;
  /** Milliseconds until the action must have replied. */
  deadline?: number;
}

/**
 * One invocation's handlers and interceptors: what the agent's definition
 * becomes on the dispatch path. The interceptors run outermost first: the
 * deadline, the activation check, then the agent's own.
 */
export class Served {
  #agent: Agent;
  #invocation: ServedOptions;
  #log: AgentLog;
  #controller = new AbortController();

  constructor(agent: Agent, invocation: ServedOptions, log: AgentLog) {
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
export function peerLogger(log: AgentLog): Logger {
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
