/**
 * The `rpc` command: serve and call remote procedures from a shell.
 *
 * ```sh
 * rpc serve tcp://127.0.0.1:4000                       # the demo API: echo, add, sleep, fail
 * rpc serve tcp://127.0.0.1:4000 --handlers ./api.ts   # a module's exported functions
 * rpc call tcp://127.0.0.1:4000 add '{"a": 1, "b": 2}' # prints 3
 * rpc notify tcp://127.0.0.1:4000 echo '{"line": "hi"}'
 * rpc serve ws://127.0.0.1:8080/rpc                    # the same over WebSocket
 * ```
 *
 * Each verb takes `--dialect jsonrpc|simplerpc|quickrpc` (default
 * `jsonrpc`) and `--help`. URLs are `tcp://host:port`, `tls://host:port`,
 * `ws://host:port/path` or `wss://host:port/path`;
 * quickrpc's own `tcp:host:port` and `tcpserv:iface:port` work too.
 *
 * Exit status: 0 done; 1 the remote side answered with an error (on
 * stderr, with its code) or the call timed out; 2 bad arguments, or the
 * connection could not be made or broke.
 *
 * Run it with `deno task rpc ...`, or install it:
 * `deno install -g -n rpc --allow-net --allow-read jsr:@seed/rpc/cli`.
 *
 * @example Run the CLI from code (it returns the exit status)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { main } from "@seed/rpc/cli";
 * const lines: string[] = [];
 * const status = await main(["call", "--help"], { stdout: (line) => lines.push(line), stderr: () => {} });
 * assertEquals(status, 0);
 * assertEquals(lines[0]!.split("\n")[0], "Usage: rpc call <url> <method> [params-json] [--dialect D] [--timeout ms]");
 * ```
 *
 * @module
 */

import {
  CallTimeout,
  ConnectionClosed,
  type Dialect,
  type Handler,
  type Listener,
  Peer,
  RemoteError,
  RpcError,
  Server,
} from "./mod.ts";
import { connect as connectTcp, listen as listenTcp } from "./transports/tcp.ts";
import { connect as connectWebSocket } from "./transports/websocket.ts";
import { listen as listenWebSocket } from "./transports/websocket_server.ts";
import { parseQuickRpcTransport } from "./protocol/dialects/quickrpc.ts";
import { parseArgs, type ParsedArgs } from "./cli/parse_args.ts";
import { DIALECTS } from "./cli/dialects.ts";
import { demoHandlers } from "./cli/demo_api.ts";
import { Agent } from "./choria/agent.ts";
import { checkDdl } from "./choria/ddl.ts";

export { DemoApi, demoHandlers, DemoSpecs } from "./cli/demo_api.ts";

/**
 * Where the CLI writes; the defaults are the process's stdout and stderr.
 *
 * @example
 * ```ts
 * import type { Output } from "@seed/rpc/cli";
 * const quiet: Output = { stdout: () => {}, stderr: () => {} };
 * console.log(typeof quiet.stdout);
 * ```
 */
export interface Output {
  /** One line of results. */
  stdout(line: string): void;
  /** One line of errors and logs. */
  stderr(line: string): void;
}

const USAGE: Record<string, string> = {
  rpc: `Usage: rpc <verb> [options]

Verbs:
  serve <url>                    serve the demo API (or --handlers FILE) until SIGINT/SIGTERM
  call <url> <method> [params]   call a method, print the result as JSON
  notify <url> <method> [params] send a notification
  choria ddl <agent.ts>          print the DDL of a Choria external agent

Run 'rpc <verb> --help' for a verb's options.`,
  serve:
    `Usage: rpc serve <url> [--dialect D] [--handlers FILE] [--cert FILE --key FILE] [--idle-timeout ms] [--max-connections n]

Serves on <url> (tcp://host:port, tls://host:port, ws://host:port/path or
wss://host:port/path; port 0 picks a free one)
and prints 'listening on <url>' once ready. Stops gracefully on SIGINT or
SIGTERM, letting calls in flight finish (up to 5 s).

Options:
  --dialect D       jsonrpc (default), simplerpc or quickrpc
  --handlers FILE   serve the functions FILE exports, instead of the demo API:
                    echo(params), add({a, b}), sleep({ms}), fail({message, code?})
  --cert, --key     PEM files, for tls:// and wss://
  --idle-timeout ms close a connection idle this long (default 300000; 0: never)
  --max-connections n
                    connections at once; more are refused (default 10000)`,
  call: `Usage: rpc call <url> <method> [params-json] [--dialect D] [--timeout ms]

Calls <method> with params (a JSON object or array) and prints the result as
JSON. A remote error goes to stderr with its code, exit status 1; a
connection failure, exit status 2.

Options:
  --dialect D       jsonrpc (default), simplerpc or quickrpc
  --timeout ms      give up after this long (default 30000)
  --ca FILE         a PEM certificate to trust, for tls:// and wss://`,
  choria: `Usage: rpc choria ddl <agent.ts> [--export NAME]

Prints the JSON DDL of the Choria external agent that <agent.ts> exports
(made with defineAgent from @seed/rpc/choria), checked against Choria's DDL
schema. Save it as <name>.json beside the agent's executable.

Options:
  --export NAME     which export, when the module exports several agents`,
  notify: `Usage: rpc notify <url> <method> [params-json] [--dialect D]

Sends a notification (no reply). Exit status 2 on a connection failure.

Options:
  --dialect D       jsonrpc (default), simplerpc or quickrpc
  --ca FILE         a PEM certificate to trust, for tls:// and wss://`,
};

const FLAGS = {
  string: [
    "dialect",
    "handlers",
    "timeout",
    "cert",
    "key",
    "ca",
    "export",
    "idle-timeout",
    "max-connections",
  ],
  boolean: ["help"],
  alias: { h: "help" },
};

/** Bad arguments: a one-line error and the verb's usage, exit status 2. */
class UsageError extends Error {}

/**
 * Runs the CLI with `args` and resolves with its exit status. `serve` runs
 * until SIGINT or SIGTERM (or `signal` aborts).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { main } from "@seed/rpc/cli";
 * const errors: string[] = [];
 * assertEquals(await main(["call"], { stdout: () => {}, stderr: (l) => errors.push(l) }), 2);
 * assertEquals(errors[0], "rpc call: a URL is required");
 * ```
 */
export async function main(
  args: string[],
  output: Output = consoleOutput,
  signal?: AbortSignal,
): Promise<number> {
  const verb = args[0];
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    output.stdout(USAGE.rpc!);
    return verb === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(USAGE, verb) || verb === "rpc") {
    output.stderr(`rpc: unknown verb '${verb}'`);
    output.stderr(USAGE.rpc!);
    return 2;
  }
  let flags: ParsedArgs;
  try {
    flags = parseArgs(args.slice(1), {
      ...FLAGS,
      unknown: (arg) => {
        if (arg.startsWith("-")) throw new UsageError(`unknown option '${arg}'`);
        return true;
      },
    });
  } catch (error) {
    return usage(output, verb, (error as Error).message);
  }
  if (flags.help) {
    output.stdout(USAGE[verb]!);
    return 0;
  }
  try {
    if (verb === "serve") return await serve(flags, output, signal);
    if (verb === "choria") return await choria(flags, output);
    return await callOrNotify(verb as "call" | "notify", flags, output);
  } catch (error) {
    if (error instanceof UsageError) return usage(output, verb, error.message);
    throw error;
  }
}

function usage(output: Output, verb: string, message: string): number {
  output.stderr(`rpc ${verb}: ${message}`);
  output.stderr(USAGE[verb]!);
  return 2;
}

const consoleOutput: Output = {
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
};

function dialectOf(flags: ParsedArgs): Dialect {
  const name = String(flags.dialect ?? "jsonrpc");
  const dialect = DIALECTS[name];
  if (dialect === undefined || !Object.hasOwn(DIALECTS, name)) {
    throw new UsageError(`unknown dialect '${name}' (jsonrpc, simplerpc or quickrpc)`);
  }
  return dialect;
}

/** Our URL for `text`, which may also be a quickrpc transport string. */
function urlOf(text: unknown, role: "connect" | "listen"): string {
  if (text === undefined) throw new UsageError("a URL is required");
  const value = String(text);
  if (/^(tcp|tcpserv):[^/]/.test(value)) {
    try {
      const endpoint = parseQuickRpcTransport(value);
      if (endpoint.role !== role) {
        throw new UsageError(
          `'${value}' is a quickrpc ${endpoint.role === "listen" ? "server" : "client"} string`,
        );
      }
      return endpoint.url;
    } catch (error) {
      throw error instanceof UsageError ? error : new UsageError((error as Error).message);
    }
  }
  if (!/^(tcp|tls):\/\/.+:\d+$/.test(value) && !/^wss?:\/\/.+:\d+(\/.*)?$/.test(value)) {
    throw new UsageError(
      `'${value}' is not a tcp://host:port, tls://host:port, ws://host:port/path or wss://host:port/path URL`,
    );
  }
  return value;
}

function paramsOf(text: unknown): unknown {
  if (text === undefined) return undefined;
  let params: unknown;
  try {
    params = JSON.parse(String(text));
  } catch {
    throw new UsageError(`params must be JSON, got '${text}'`);
  }
  if (params === null || typeof params !== "object") {
    throw new UsageError("params must be a JSON object or array");
  }
  return params;
}

async function readPem(path: unknown, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(String(path));
  } catch (error) {
    throw new UsageError(`cannot read the ${what} file '${path}': ${(error as Error).message}`);
  }
}

async function loadHandlers(path: string): Promise<Record<string, Handler>> {
  const url = new URL(path, `file://${Deno.cwd()}/`).href;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    throw new UsageError(`cannot load handlers from '${path}': ${(error as Error).message}`);
  }
  const source = module.default !== null && typeof module.default === "object"
    ? module.default as Record<string, unknown>
    : module;
  const handlers: Record<string, Handler> = {};
  for (const [name, value] of Object.entries(source)) {
    if (typeof value === "function") handlers[name] = value as Handler;
  }
  if (Object.keys(handlers).length === 0) {
    throw new UsageError(`'${path}' exports no functions to serve`);
  }
  return handlers;
}

async function serve(flags: ParsedArgs, output: Output, signal?: AbortSignal): Promise<number> {
  if (flags._.length > 1) throw new UsageError(`unexpected argument '${flags._[1]}'`);
  const url = urlOf(flags._[0], "listen");
  const dialect = dialectOf(flags);
  const idleTimeout = numberFlag(flags, "idle-timeout", 300_000, 0);
  const maxConnections = numberFlag(flags, "max-connections", 10_000, 1);
  const handlers = flags.handlers === undefined
    ? demoHandlers()
    : await loadHandlers(String(flags.handlers));
  const scheme = url.slice(0, url.indexOf(":"));
  const tls = scheme === "tls" || scheme === "wss"
    ? {
      cert: await readPem(
        flags.cert ?? throwUsage(`${scheme}:// needs --cert and --key`),
        "--cert",
      ),
      key: await readPem(flags.key ?? throwUsage(`${scheme}:// needs --cert and --key`), "--key"),
    }
    : {};
  const logger = {
    debug: () => {},
    warn: (message: string) => output.stderr(`warning: ${message}`),
    error: (message: string, ...data: unknown[]) =>
      output.stderr(`error: ${message} ${data.map(String).join(" ")}`),
  };
  let listener: Listener<string>;
  try {
    listener = scheme === "ws" || scheme === "wss"
      ? listenWebSocket(url, { dialect, logger, ...tls })
      : listenTcp(url, { dialect, logger, ...tls });
  } catch (error) {
    output.stderr(`rpc serve: cannot listen on ${url}: ${(error as Error).message}`);
    return 2;
  }
  const server = new Server({
    handlers,
    logger,
    idleTimeout,
    maxConnections,
  }).serve(listener);
  const stop = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stop.resolve(name);
  const listeners: [Deno.Signal, () => void][] = [["SIGINT", onSignal("SIGINT")]];
  if (Deno.build.os !== "windows") listeners.push(["SIGTERM", onSignal("SIGTERM")]);
  for (const [name, fn] of listeners) Deno.addSignalListener(name, fn);
  signal?.addEventListener("abort", () => stop.resolve("abort"), { once: true });
  output.stdout(`listening on ${server.addr}`);
  const why = await stop.promise;
  for (const [name, fn] of listeners) Deno.removeSignalListener(name, fn);
  output.stderr(`${why}: shutting down`);
  await server.shutdown({ deadline: 5000, reason: `server stopped (${why})` });
  return 0;
}

/** A whole-number flag of at least `min`, or `fallback` when absent. */
function numberFlag(flags: ParsedArgs, name: string, fallback: number, min: number): number {
  const text = flags[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got '${text}'`);
  }
  return value;
}

function throwUsage(message: string): never {
  throw new UsageError(message);
}

async function callOrNotify(
  verb: "call" | "notify",
  flags: ParsedArgs,
  output: Output,
): Promise<number> {
  const [urlText, method, paramsText, extra] = flags._.map(String);
  const url = urlOf(urlText, "connect");
  if (method === undefined) throw new UsageError("a method name is required");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const params = paramsOf(paramsText);
  const dialect = dialectOf(flags);
  let timeout = 30_000;
  if (flags.timeout !== undefined) {
    timeout = Number(flags.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new UsageError(`--timeout must be a number of milliseconds, got '${flags.timeout}'`);
    }
  }
  const caCerts = flags.ca === undefined ? undefined : [await readPem(flags.ca, "--ca")];
  const logger = {
    debug: () => {},
    warn: (message: string) => output.stderr(`warning: ${message}`),
    error: (message: string) => output.stderr(`error: ${message}`),
  };
  let peer: Peer;
  try {
    const transport = /^wss?:/.test(url)
      ? await connectWebSocket(url, { dialect, caCerts, logger })
      : await connectTcp(url, { dialect, caCerts, logger });
    peer = new Peer(transport, { logger, timeout });
  } catch (error) {
    output.stderr(`rpc ${verb}: cannot connect to ${url}: ${(error as Error).message}`);
    return 2;
  }
  try {
    if (verb === "notify") {
      await peer.notify(method, params);
      return 0;
    }
    const result = await peer.call(method, params);
    output.stdout(JSON.stringify(result, bytesAsBase64) ?? "null");
    return 0;
  } catch (error) {
    if (error instanceof RemoteError || error instanceof RpcError) {
      const data = error.data === undefined ? "" : ` ${JSON.stringify(error.data)}`;
      output.stderr(`error ${error.code}: ${error.message}${data}`);
      return 1;
    }
    if (error instanceof CallTimeout) {
      output.stderr(`error: ${error.message}`);
      return 1;
    }
    if (error instanceof ConnectionClosed) {
      output.stderr(`rpc ${verb}: ${error.message}`);
      return 2;
    }
    output.stderr(`rpc ${verb}: ${(error as Error).message}`);
    return 2;
  } finally {
    await peer.close();
  }
}

async function choria(flags: ParsedArgs, output: Output): Promise<number> {
  const [sub, file, extra] = flags._.map(String);
  if (sub !== "ddl") {
    throw new UsageError(
      sub === undefined ? "a subcommand is required (ddl)" : `unknown subcommand '${sub}'`,
    );
  }
  if (file === undefined) throw new UsageError("an agent module is required");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  let module: Record<string, unknown>;
  try {
    module = await import(new URL(file, `file://${Deno.cwd()}/`).href);
  } catch (error) {
    throw new UsageError(`cannot load '${file}': ${(error as Error).message}`);
  }
  const isAgent = (value: unknown): value is Agent =>
    value instanceof Agent ||
    (value !== null && typeof value === "object" && "ddl" in value && "definition" in value);
  const agents = Object.entries(module).filter(([, value]) => isAgent(value));
  const wanted = flags.export === undefined ? undefined : String(flags.export);
  const chosen = wanted === undefined ? agents : agents.filter(([name]) => name === wanted);
  if (chosen.length === 0) {
    throw new UsageError(
      wanted === undefined
        ? `'${file}' exports no agent (made with defineAgent)`
        : `'${file}' exports no agent named '${wanted}'`,
    );
  }
  if (chosen.length > 1) {
    throw new UsageError(
      `'${file}' exports several agents (${
        chosen.map(([n]) => n).join(", ")
      }); pick one with --export`,
    );
  }
  const ddl = (chosen[0]![1] as Agent).ddl;
  const problem = checkDdl(ddl);
  if (problem !== undefined) {
    output.stderr(`rpc choria ddl: the DDL is not valid: ${problem}`);
    return 1;
  }
  output.stdout(JSON.stringify(ddl, null, 2));
  return 0;
}

function bytesAsBase64(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    let binary = "";
    for (const byte of value) binary += String.fromCharCode(byte);
    return { __bytes: btoa(binary) };
  }
  return value;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
