/**
 * Typed API contracts: declare a service's methods once, with a JSON Schema
 * for each method's params and result, and get a validated, typed
 * implementation on one side and a typed client proxy on the other.
 *
 * quickrpc's RemoteAPI idea, done the TypeScript way: `incoming` lists what
 * this side answers, `outgoing` what it calls on the other side, and
 * {@linkcode Contract.invert} gives the other side's view. Schemas are
 * compiled once, with ajv, when the contract is defined.
 *
 * @example Both ends of one contract
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { defineContract } from "@seed/rpc/contract";
 *
 * const Calculator = defineContract({
 *   name: "calculator",
 *   incoming: {
 *     add: {
 *       params: {
 *         type: "object",
 *         properties: { a: { type: "number" }, b: { type: "number" } },
 *         required: ["a", "b"],
 *         additionalProperties: false,
 *       },
 *       result: { type: "number" },
 *     },
 *     log: { notification: true, params: { type: "object", properties: { line: { type: "string" } } } },
 *   },
 * });
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a);
 * const lines: (string | undefined)[] = [];
 * Calculator.implement(server, {
 *   add: ({ a, b }) => a + b, // a and b are numbers
 *   log: ({ line }) => lines.push(line), // line is string | undefined
 * });
 *
 * const client = new Peer(b);
 * const calc = Calculator.invert().remote(client);
 * const sum: number = await calc.add({ a: 1, b: 2 });
 * assertEquals(sum, 3);
 * await calc.log({ line: "added" });
 * await calc.add({ a: 0, b: 0 }); // answered after the notification was handled
 * assertEquals(lines, ["added"]);
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { CallContext, Handler, PeerHandle } from "../peer/context.ts";
import { ErrorCode, RpcError } from "../wire/errors.ts";
import { consoleLogger, type Logger } from "../shared/logger.ts";
import type { CallOptions, NotifyOptions, StreamOptions } from "../peer/outgoing.ts";
import type { StreamReader } from "../stream/consumer.ts";
import { checkedItems, CheckedReader } from "./streams.ts";
import {
  OPENRPC_VERSION,
  type OpenRpcDocument,
  type OpenRpcInfo,
  openRpcMethod,
} from "./openrpc.ts";
import type { Infer, JsonSchema } from "./schema.ts";
import type { Recipients, Server } from "../peer/server.ts";
import {
  formatIssues,
  SchemaCompiler,
  type SchemaDraft,
  type Validate,
  type ValidationIssue,
} from "./validator.ts";

/**
 * A method that answers: its params and result schemas.
 */
export interface MethodSpec {
  /**
   * The params schema. Leave it out for a method that takes none (then
   * only no params, `[]` or `{}` are accepted).
   */
  readonly params?: JsonSchema;
  /** The result schema. Left out, the result is `unknown` and unchecked. */
  readonly result?: JsonSchema;
  /**
   * A stream method: the schema of each item (`true` for any). Its
   * implementation returns an `AsyncIterable` (an async generator); the
   * proxy method returns a reader; items are checked on both sides. `result`
   * is then the schema of the generator's return value.
   */
  readonly stream?: JsonSchema;
  /** Not a notification. */
  readonly notification?: false;
  /** For docs and generated descriptions. */
  readonly description?: string;
}

/**
 * A method that is only ever notified: no reply, no result.
 */
export interface NotificationSpec {
  /** The params schema; left out for none. */
  readonly params?: JsonSchema;
  /** Marks a notification. */
  readonly notification: true;
  /** For docs and generated descriptions. */
  readonly description?: string;
}

/**
 * Method specs by name.
 */
export type MethodSpecs = { readonly [name: string]: MethodSpec | NotificationSpec };

/**
 * What {@linkcode defineContract} takes.
 */
export interface ContractDefinition {
  /** A name for errors and logs. */
  readonly name?: string;
  /** Methods this side answers. */
  readonly incoming?: MethodSpecs;
  /** Methods this side calls on the other side. */
  readonly outgoing?: MethodSpecs;
}

/**
 * Options for a contract.
 *
 * @example A format of your own refuses bad params
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { memoryPair, Peer, RemoteError } from "@seed/rpc";
 * import { defineContract } from "@seed/rpc/contract";
 * const Stock = defineContract(
 *   { incoming: { check: { params: { type: "array", items: { type: "string", format: "sku" } } } } },
 *   { formats: { sku: /^[A-Z]-\d+$/ } },
 * );
 * const [a, b] = memoryPair();
 * const server = new Peer(a);
 * Stock.implement(server, { check: () => true });
 * const client = new Peer(b);
 * assertEquals(await client.call("check", ["A-1"]), true);
 * const error = await assertRejects(() => client.call("check", ["a1"]), RemoteError);
 * assertEquals(error.code, -32602);
 * await client.close();
 * await server.closed;
 * ```
 */
export interface ContractOptions {
  /**
   * Extra `format` names for the schemas, or replacements for built-in ones
   * (JSON Schema's common formats, `date-time`, `email`, `uuid`, `uri`...,
   * are built in: see `SchemaCompilerOptions.formats`).
   *
   * @default {{}}
   */
  formats?: Readonly<Record<string, RegExp | ((value: string) => boolean)>>;
  /**
   * The JSON Schema draft of schemas without a `$schema`.
   *
   * @default {"2020-12"}
   */
  draft?: SchemaDraft;
  /**
   * Share one compiler (and its compiled schemas) between contracts; its
   * own options apply then, not `formats` and `draft`.
   *
   * @default {a new compiler for this contract}
   */
  compiler?: SchemaCompiler;
  /**
   * Where a handler's result that breaks its schema is logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * The params type of a spec (`undefined` when it declares none).
 */
export type ParamsOf<S> = S extends { readonly params: infer P } ? Infer<P> : undefined;

/**
 * The result type of a spec (`void` for a notification, `unknown` when no
 * result schema is declared).
 */
export type ResultOf<S> = S extends { readonly notification: true } ? void
  : S extends { readonly result: infer R } ? Infer<R>
  : unknown;

/**
 * The item type of a stream method's spec (`never` for other methods).
 */
export type ItemOf<S> = S extends { readonly stream: infer I } ? Infer<I> : never;

/**
 * The object a server passes to {@linkcode Contract.implement}: one function
 * per incoming method, typed from its schemas.
 */
export type Implementation<M extends MethodSpecs> = {
  [K in keyof M]: M[K] extends { readonly notification: true }
    // Nobody sees what a notification's handler returns.
    ? (params: ParamsOf<M[K]>, ctx: CallContext) => unknown
    : M[K] extends { readonly stream: unknown } ? (
        params: ParamsOf<M[K]>,
        ctx: CallContext,
      ) => AsyncIterable<ItemOf<M[K]>> | Promise<AsyncIterable<ItemOf<M[K]>>>
    : (params: ParamsOf<M[K]>, ctx: CallContext) => ResultOf<M[K]> | Promise<ResultOf<M[K]>>;
};

/**
 * The typed proxy {@linkcode Contract.remote} returns: one async function per
 * outgoing method.
 */
export type Remote<M extends MethodSpecs> = {
  readonly [K in keyof M]: M[K] extends { readonly notification: true } ? (
      ...args: M[K] extends { readonly params: infer P }
        ? [params: Infer<P>, options?: NotifyOptions]
        : [params?: undefined, options?: NotifyOptions]
    ) => Promise<void>
    : M[K] extends { readonly stream: unknown } ? (
        ...args: M[K] extends { readonly params: infer P }
          ? [params: Infer<P>, options?: StreamOptions]
          : [params?: undefined, options?: StreamOptions]
      ) => StreamReader<ItemOf<M[K]>>
    : (
      ...args: M[K] extends { readonly params: infer P } ? [params: Infer<P>, options?: CallOptions]
        : [params?: undefined, options?: CallOptions]
    ) => Promise<ResultOf<M[K]>>;
};

/**
 * The typed fan-out {@linkcode Contract.broadcast} returns: for each
 * outgoing notification, a function that notifies every chosen connection
 * and resolves with how many accepted it; for each outgoing call, a
 * function that calls them all at once and resolves with each one's
 * outcome, by connection id. Stream methods are left out.
 */
export type Broadcast<M extends MethodSpecs> = {
  readonly [K in keyof M]: M[K] extends { readonly stream: unknown } ? never
    : M[K] extends { readonly notification: true } ? (
        ...args: M[K] extends { readonly params: infer P } ? [params: Infer<P>]
          : [params?: undefined]
      ) => Promise<number>
    : (
      ...args: M[K] extends { readonly params: infer P }
        ? [params: Infer<P>, options?: Omit<CallOptions, "to">]
        : [params?: undefined, options?: Omit<CallOptions, "to">]
    ) => Promise<Map<string, PromiseSettledResult<ResultOf<M[K]>>>>;
};

/**
 * The incoming specs of a definition.
 */
export type IncomingOf<D> = D extends { readonly incoming: infer I extends MethodSpecs } ? I
  : Record<never, never>;

/**
 * The outgoing specs of a definition.
 */
export type OutgoingOf<D> = D extends { readonly outgoing: infer O extends MethodSpecs } ? O
  : Record<never, never>;

/** A spec with its schemas compiled. */
class CompiledMethod {
  readonly name: string;
  readonly notification: boolean;
  readonly validateParams: Validate | undefined;
  readonly validateResult: Validate | undefined;
  /** A stream method's item check (`undefined` for other methods). */
  readonly validateItem: Validate | undefined;
  /** Property names that by-position params fill, in order. */
  readonly positional: readonly string[] | undefined;

  constructor(name: string, spec: MethodSpec | NotificationSpec, compiler: SchemaCompiler) {
    this.name = name;
    this.notification = spec.notification === true;
    const where = `'${name}'`;
    this.validateParams = spec.params === undefined
      ? undefined
      : compileFor(compiler, spec.params, `the params of ${where}`);
    const result = (spec as MethodSpec).result;
    this.validateResult = result === undefined || this.notification
      ? undefined
      : compileFor(compiler, result, `the result of ${where}`);
    const stream = (spec as MethodSpec).stream;
    this.validateItem = stream === undefined || this.notification
      ? undefined
      : compileFor(compiler, stream, `the items of ${where}`);
    const properties = typeof spec.params === "object" ? spec.params.properties : undefined;
    this.positional = properties !== null && typeof properties === "object" &&
        !Array.isArray(properties)
      ? Object.keys(properties)
      : undefined;
  }

  /** Checks (and, for by-position params, names) incoming params. */
  acceptParams(params: unknown): unknown {
    if (this.validateParams === undefined) {
      if (params === undefined || isEmpty(params)) return undefined;
      throw new RpcError(ErrorCode.InvalidParams, `Invalid params: '${this.name}' takes none`, [
        { path: "", message: "must be absent", keyword: "params" },
      ]);
    }
    if (Array.isArray(params) && this.positional !== undefined) {
      if (params.length > this.positional.length) {
        throw new RpcError(
          ErrorCode.InvalidParams,
          `Invalid params: '${this.name}' takes at most ${this.positional.length} by position`,
          [{ path: "", message: "has too many items", keyword: "positional" }],
        );
      }
      const named: Record<string, unknown> = {};
      for (let i = 0; i < params.length; i++) named[this.positional[i]!] = params[i];
      params = named;
    }
    this.checkParams(params);
    return params;
  }

  /** Throws -32602 when `params` breaks the params schema. */
  checkParams(params: unknown): void {
    const issues = this.validateParams?.(params);
    if (issues !== undefined) {
      throw new RpcError(
        ErrorCode.InvalidParams,
        `Invalid params: ${formatIssues(issues)}`,
        issues,
      );
    }
  }
}

function compileFor(compiler: SchemaCompiler, schema: JsonSchema, what: string): Validate {
  try {
    return compiler.compile(schema);
  } catch (error) {
    throw new TypeError(`${what}: ${(error as Error).message}`);
  }
}

/** The error for a remote result that breaks its schema. */
function invalidResult(method: string, issues: readonly ValidationIssue[]): RpcError {
  return new RpcError(
    ErrorCode.InternalError,
    `Invalid result from '${method}': ${formatIssues(issues)}`,
    issues,
  );
}

function isEmpty(params: unknown): boolean {
  if (Array.isArray(params)) return params.length === 0;
  return params !== null && typeof params === "object" && Object.keys(params).length === 0;
}

function compileAll(specs: MethodSpecs | undefined, compiler: SchemaCompiler) {
  const table = new Map<string, CompiledMethod>();
  for (const name of Object.keys(specs ?? {})) {
    if (name.startsWith("rpc.")) {
      throw new TypeError(`'${name}': names starting with 'rpc.' are reserved by JSON-RPC`);
    }
    table.set(name, new CompiledMethod(name, specs![name]!, compiler));
  }
  return table;
}

/**
 * A service's methods, both directions, with compiled schemas. Make one with
 * {@linkcode defineContract}.
 *
 * @typeParam In The methods this side answers.
 * @typeParam Out The methods this side calls.
 *
 * @example The other side's view
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { defineContract } from "@seed/rpc/contract";
 * const Server = defineContract({
 *   incoming: { ping: { result: { const: "pong" } } },
 *   outgoing: { tick: { notification: true, params: { type: "integer" } } },
 * });
 * const Client = Server.invert();
 * assertEquals([Object.keys(Client.incoming), Object.keys(Client.outgoing)], [["tick"], ["ping"]]);
 * ```
 */
export class Contract<In extends MethodSpecs, Out extends MethodSpecs> {
  /** The contract's name. */
  readonly name: string;
  /** Methods this side answers. */
  readonly incoming: In;
  /** Methods this side calls on the other side. */
  readonly outgoing: Out;
  #compiler: SchemaCompiler;
  #options: ContractOptions;
  #in: Map<string, CompiledMethod>;
  #out: Map<string, CompiledMethod>;

  /**
   * Compiles every schema now, so a broken schema fails here, with the
   * method's name, not at the first call. Prefer {@linkcode defineContract},
   * which also infers the types.
   */
  constructor(definition: ContractDefinition, options: ContractOptions = {}) {
    this.name = definition.name ?? "contract";
    this.incoming = (definition.incoming ?? {}) as In;
    this.outgoing = (definition.outgoing ?? {}) as Out;
    this.#options = options;
    this.#compiler = options.compiler ??
      new SchemaCompiler({
        formats: options.formats,
        draft: options.draft,
        logger: options.logger,
      });
    this.#in = compileAll(definition.incoming, this.#compiler);
    this.#out = compileAll(definition.outgoing, this.#compiler);
  }

  /**
   * The other side's view: incoming and outgoing swapped (the compiled
   * schemas are shared, not compiled again).
   */
  invert(): Contract<Out, In> {
    return new Contract<Out, In>(
      { name: this.name, incoming: this.outgoing, outgoing: this.incoming },
      { ...this.#options, compiler: this.#compiler },
    );
  }

  /**
   * Registers `impl` on `peer` for every incoming method. Params are checked
   * before the function runs (a failure answers -32602 with the path and
   * reason in `data`); a result that breaks its schema is logged and
   * answered with -32603, so bad data never leaves.
   *
   * @example Invalid params are answered with their path
   * ```ts
   * import { assertEquals, assertRejects } from "@std/assert";
   * import { memoryPair, Peer, RemoteError } from "@seed/rpc";
   * import { defineContract } from "@seed/rpc/contract";
   * const Api = defineContract({
   *   incoming: { half: { params: { type: "array", items: { type: "integer" } }, result: { type: "integer" } } },
   * });
   * const [a, b] = memoryPair();
   * const server = new Peer(a);
   * Api.implement(server, { half: ([n]) => n! / 2 });
   * const client = new Peer(b);
   * const error = await assertRejects(() => client.call("half", ["x"]), RemoteError);
   * assertEquals([error.code, error.data], [-32602, [{ path: "/0", message: "must be integer", keyword: "type" }]]);
   * await client.close();
   * await server.closed;
   * ```
   */
  implement(peer: PeerHandle, impl: Implementation<In>): void {
    const handlers = this.handlers(impl);
    for (const name of Object.keys(handlers)) peer.handle(name, handlers[name]!);
  }

  /**
   * The validating handlers of {@linkcode Contract.implement}, as a record,
   * for a {@linkcode Server}'s `handlers` (or a peer's). Throws when `impl`
   * misses a method.
   *
   * @example Handlers for a server
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer, Server } from "@seed/rpc";
   * import { defineContract } from "@seed/rpc/contract";
   * const Api = defineContract({ incoming: { ping: { result: { const: "pong" } } } });
   * const server = new Server({ handlers: Api.handlers({ ping: () => "pong" as const }) });
   * const [serverEnd, clientEnd] = memoryPair();
   * server.add(serverEnd);
   * const client = new Peer(clientEnd);
   * assertEquals(await client.call("ping"), "pong");
   * await client.close();
   * await server.shutdown();
   * ```
   */
  handlers(impl: Implementation<In>): Record<string, Handler> {
    const logger = this.#options.logger ?? consoleLogger;
    const contract = this.name;
    const handlers: Record<string, Handler> = {};
    for (const method of this.#in.values()) {
      const fn = (impl as Record<string, unknown>)[method.name];
      if (typeof fn !== "function") {
        throw new TypeError(`${contract}: no implementation for '${method.name}'`);
      }
      const validateItem = method.validateItem;
      if (validateItem !== undefined) {
        const refuse = (what: string, issues: readonly ValidationIssue[]) => {
          logger.error(
            `${contract}: ${what} of '${method.name}' breaks its schema: ${formatIssues(issues)}`,
          );
          return new RpcError(ErrorCode.InternalError, "Internal error", {
            reason: `${what} does not match the contract`,
          });
        };
        handlers[method.name] = async (params, ctx) => {
          const items = await fn.call(impl, method.acceptParams(params), ctx);
          if (items === null || typeof items?.[Symbol.asyncIterator] !== "function") {
            logger.error(
              `${contract}: '${method.name}' is a stream method but returned no AsyncIterable`,
            );
            throw new RpcError(ErrorCode.InternalError, "Internal error", {
              reason: "the result does not match the contract",
            });
          }
          return checkedItems(items, validateItem, method.validateResult, refuse);
        };
        continue;
      }
      handlers[method.name] = async (params, ctx) => {
        const result = await fn.call(impl, method.acceptParams(params), ctx);
        const issues = method.validateResult?.(result);
        if (issues !== undefined) {
          logger.error(
            `${contract}: the result of '${method.name}' breaks its schema: ${
              formatIssues(issues)
            }`,
          );
          throw new RpcError(ErrorCode.InternalError, "Internal error", {
            reason: "the result does not match the contract",
          });
        }
        return result;
      };
    }
    return handlers;
  }

  /**
   * A typed proxy for every outgoing method of this contract. Params are
   * checked before sending (a failure rejects with an {@linkcode RpcError}
   * -32602 and nothing is sent), and results are checked on arrival (a
   * result that breaks its schema rejects with -32603).
   *
   * @example Calling through a typed proxy
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer } from "@seed/rpc";
   * import { defineContract } from "@seed/rpc/contract";
   * const Api = defineContract({ outgoing: { now: { result: { type: "number" } } } });
   * const [a, b] = memoryPair();
   * const server = new Peer(a, { handlers: { now: () => 42 } });
   * const client = new Peer(b);
   * const api = Api.remote(client);
   * assertEquals(await api.now(), 42);
   * await client.close();
   * await server.closed;
   * ```
   */
  remote(peer: PeerHandle): Remote<Out> {
    const proxy: Record<string, unknown> = Object.create(null);
    for (const method of this.#out.values()) {
      const name = method.name;
      const validateItem = method.validateItem;
      if (validateItem !== undefined) {
        proxy[name] = (params?: unknown, options?: StreamOptions): StreamReader<unknown> => {
          method.checkParams(params);
          const reader = peer.stream(name, params, options);
          return new CheckedReader(reader, name, validateItem, method.validateResult);
        };
        continue;
      }
      proxy[name] = method.notification
        ? (params?: unknown, options?: NotifyOptions): Promise<void> => {
          try {
            method.checkParams(params);
          } catch (error) {
            return Promise.reject(error);
          }
          return peer.notify(name, params, options);
        }
        : async (params?: unknown, options?: CallOptions): Promise<unknown> => {
          method.checkParams(params);
          const result = await peer.call(name, params, options);
          const issues = method.validateResult?.(result);
          if (issues !== undefined) throw invalidResult(name, issues);
          return result;
        };
    }
    return Object.freeze(proxy) as Remote<Out>;
  }

  /**
   * An OpenRPC document describing the methods this side answers
   * (`incoming`): give it to a peer's or server's `discover` option to
   * serve it as `rpc.discover`, or write it out for tools.
   *
   * @example Describing a contract
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { defineContract } from "@seed/rpc/contract";
   * const Api = defineContract({
   *   name: "clock",
   *   incoming: {
   *     now: { description: "Milliseconds since 1970", result: { type: "integer" } },
   *     tick: { notification: true, params: { type: "array", prefixItems: [{ type: "integer" }] } },
   *   },
   * });
   * const doc = Api.openrpc({ version: "1.0.0" });
   * assertEquals(doc.info, { title: "clock", version: "1.0.0" });
   * assertEquals(doc.methods.map((m) => [m.name, m.result?.schema]), [
   *   ["now", { type: "integer" }],
   *   ["tick", undefined],
   * ]);
   * ```
   */
  openrpc(info: OpenRpcInfo = {}): OpenRpcDocument {
    const document: OpenRpcDocument = {
      openrpc: OPENRPC_VERSION,
      info: { title: info.title ?? this.name, version: info.version ?? "0.0.0" },
      methods: Object.keys(this.incoming).map((name) => openRpcMethod(name, this.incoming[name]!)),
    };
    if (info.description !== undefined) document.info.description = info.description;
    return document;
  }

  /**
   * Typed fan-out from a server: each outgoing method of this contract,
   * sent to every connection of `server` (or those `recipients` names).
   * Params are checked once, before anything is sent (a failure rejects
   * with an {@linkcode RpcError} -32602); each call's result is checked as
   * it arrives (a result that breaks its schema is a rejected outcome).
   *
   * @example Push a notification to every client
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { Peer, Server } from "@seed/rpc";
   * import { defineContract } from "@seed/rpc/contract";
   * import { connect, listen } from "@seed/rpc/tcp";
   *
   * const News = defineContract({
   *   outgoing: { headline: { notification: true, params: { type: "array", items: { type: "string" } } } },
   * });
   * const server = new Server().serve(listen("tcp://127.0.0.1:0"));
   * const heard = Promise.withResolvers<unknown>();
   * const client = new Peer(await connect(server.addr), {
   *   handlers: { headline: (params) => heard.resolve(params) },
   * });
   * await client.call("rpc.ping"); // the server has seen the connection
   * assertEquals(await News.broadcast(server).headline(["Deno ships"]), 1);
   * assertEquals(await heard.promise, ["Deno ships"]);
   * await client.close();
   * await server.shutdown();
   * ```
   */
  // deno-lint-ignore no-explicit-any
  broadcast(server: Server<any>, recipients: Recipients = {}): Broadcast<Out> {
    const fanOut: Record<string, unknown> = Object.create(null);
    for (const method of this.#out.values()) {
      if (method.validateItem !== undefined) continue; // a stream goes to one reader
      const name = method.name;
      fanOut[name] = method.notification
        ? async (params?: unknown): Promise<number> => {
          method.checkParams(params);
          return await server.notify(name, params, recipients);
        }
        : async (
          params?: unknown,
          options: Omit<CallOptions, "to"> = {},
        ): Promise<Map<string, PromiseSettledResult<unknown>>> => {
          method.checkParams(params);
          const outcomes = await server.call(name, params, { ...options, to: recipients.to });
          for (const [id, outcome] of outcomes) {
            if (outcome.status === "rejected") continue;
            const issues = method.validateResult?.(outcome.value);
            if (issues !== undefined) {
              outcomes.set(id, { status: "rejected", reason: invalidResult(name, issues) });
            }
          }
          return outcomes;
        };
    }
    return Object.freeze(fanOut) as Broadcast<Out>;
  }
}

/**
 * Defines a contract. The definition is a `const` type parameter, so the
 * schemas keep their literal types without `as const`, and the
 * implementation and proxy types follow from them.
 *
 * @example Defining a contract
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { defineContract } from "@seed/rpc/contract";
 * import { memoryPair, Peer } from "@seed/rpc";
 * const Greeter = defineContract({
 *   name: "greeter",
 *   incoming: {
 *     greet: {
 *       params: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
 *       result: { type: "string" },
 *     },
 *   },
 * });
 * const [a, b] = memoryPair();
 * const server = new Peer(a);
 * Greeter.implement(server, { greet: ({ name }) => `hello ${name}` }); // name is a string
 * const greeter = Greeter.invert().remote(new Peer(b));
 * assertEquals(await greeter.greet({ name: "Ada" }), "hello Ada");
 * await server.close();
 * ```
 */
export function defineContract<const D extends ContractDefinition>(
  definition: D,
  options?: ContractOptions,
): Contract<IncomingOf<D>, OutgoingOf<D>> {
  return new Contract<IncomingOf<D>, OutgoingOf<D>>(definition, options);
}
