/**
 * The `rpc` command: serve, call and watch remote procedures from a shell
 * or a script.
 *
 * ```sh
 * rpc serve 127.0.0.1:4000                             # the demo API, on TCP
 * rpc call 127.0.0.1:4000 add '{"a": 1, "b": 2}'       # prints 3
 * echo '{"a": 1, "b": 2}' | rpc call 127.0.0.1:4000 add -   # params from stdin
 * rpc notify 127.0.0.1:4000 log '{"line": "hi"}'       # printed by the server
 * rpc watch 127.0.0.1:4000 ticks '{"count": 3}' --count 3   # {"method":"tick","params":{"n":1}} ...
 * rpc stream 127.0.0.1:4000 countdown '{"from": 3}'     # a stream method: one JSON line per item
 * rpc describe 127.0.0.1:4000                          # the server's OpenRPC document
 * rpc serve ws://127.0.0.1:8080/rpc --handlers ./api.ts     # a module's functions, on WebSocket
 * ```
 *
 * Each verb takes `--dialect jsonrpc|simplerpc|quickrpc` (default
 * `jsonrpc`) and `--help`. URLs are `host:port` (TCP), `tcp://host:port`,
 * `tls://host:port`, `ws://host:port/path`, `wss://host:port/path` or
 * `unix:///path/to.sock` (a unix socket: add `--allow-write` for its path);
 * quickrpc's own `tcp:host:port` and `tcpserv:iface:port` work too. Paths
 * (`--handlers`, `--cert`, `--ca`...) are relative to the directory the
 * command was run from, also under `deno task`.
 *
 * Exit status: 0 done; 1 the remote side answered with an error; 2 bad
 * arguments, or the connection could not be made or broke (a server that
 * speaks another dialect included); 3 the call timed out. With `--json`,
 * a failure is one JSON line on stderr:
 * `{"kind": "remote", "code": -32601, "message": "Method not found", "data": {...}}`.
 *
 * Install it with
 * `deno install -g -n rpc --allow-net --allow-read --allow-env=INIT_CWD jsr:@seed/rpc/cli`,
 * or run it from a clone with `deno task rpc ...`.
 *
 * @example Run the CLI from code (it returns the exit status)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { main } from "@seed/rpc/cli";
 * const lines: string[] = [];
 * const status = await main(["call", "--help"], { stdout: (line) => lines.push(line), stderr: () => {} });
 * assertEquals(status, 0);
 * assertEquals(lines[0]!.split("\n")[0], "Usage: rpc call <url> <method> [params] [--timeout ms] [--pretty] [--json] [--dialect D]");
 * ```
 *
 * @module
 */

import { parseArgs, type ParsedArgs } from "./cli/parse_args.ts";
import { numberFlag, UsageError } from "./cli/args.ts";
import { callOrNotify, describe, stream, watch } from "./cli/client.ts";
import { choria } from "./cli/choria.ts";
import { ExitStatus, reportUsage, terminalSafe } from "./cli/report.ts";
import { utf8Length } from "./protocol/shared/_utf8.ts";
import { readAtMost } from "./choria/_io.ts";
import { serve } from "./cli/serve.ts";
import { USAGE, VERSION } from "./cli/usage.ts";

export { DemoApi, demoHandlers, DemoSpecs } from "./cli/demo_api.ts";
export { ExitStatus } from "./cli/report.ts";

/**
 * Where the CLI reads and writes; the defaults are the process's stdin,
 * stdout and stderr. Every line is terminal-safe: control characters that
 * came from the other side arrive escaped (`\u001b`), and passwords in URLs
 * as `***`.
 *
 * @example Capturing the CLI's output
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { main, type Output } from "@seed/rpc/cli";
 * const lines: string[] = [];
 * const io: Output = { stdout: (line) => lines.push(line), stderr: () => {} };
 * assertEquals(await main(["--version"], io), 0);
 * assertEquals(lines[0]!.startsWith("rpc "), true);
 * ```
 */
export interface Output {
  /** One line of results. */
  stdout(line: string): void;
  /** One line of errors and logs. */
  stderr(line: string): void;
  /**
   * All of stdin, for params given as `-`; more than `maxBytes` (the
   * `--max-stdin` flag) is refused.
   *
   * @default {the process's stdin, read to its end or to `maxBytes`}
   */
  readStdin?(maxBytes: number): Promise<string>;
}

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
    "count",
    "credit",
    "keep-alive",
    "service",
    "max-stdin",
    "origin",
    "host",
    "mode",
    "framing",
  ],
  collect: ["origin", "host"],
  boolean: ["help", "json", "pretty", "version"],
  alias: { h: "help", V: "version" },
};

/** Whether `text` is a nuropb mesh URL (its verbs are in cli/amqp.ts). */
function isAmqpUrl(text: unknown): boolean {
  return typeof text === "string" && /^amqps?:\/\//.test(text);
}

/** Flags each verb takes (beside --help). */
const VERB_FLAGS: Readonly<Record<string, readonly string[]>> = {
  serve: [
    "dialect",
    "handlers",
    "cert",
    "key",
    "idle-timeout",
    "max-connections",
    "service",
    "origin",
    "host",
    "mode",
    "framing",
  ],
  call: ["dialect", "timeout", "ca", "json", "pretty", "service", "max-stdin", "framing"],
  notify: ["dialect", "ca", "json", "service", "max-stdin", "framing"],
  watch: ["dialect", "timeout", "ca", "json", "count", "keep-alive", "max-stdin", "framing"],
  stream: ["dialect", "timeout", "ca", "json", "count", "credit", "max-stdin", "framing"],
  describe: ["dialect", "timeout", "ca", "json", "service", "framing"],
  publish: ["json", "max-stdin"],
  choria: ["export"],
};

/**
 * Runs the CLI with `args` and resolves with its exit status. `serve` and
 * `watch` run until SIGINT or SIGTERM (or `signal` aborts).
 *
 * @example Bad arguments return exit status 2
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
  if (verb === "--version" || verb === "-V") {
    output.stdout(`rpc ${VERSION} (@seed/rpc)`);
    return ExitStatus.Ok;
  }
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    output.stdout(USAGE.rpc!);
    return verb === undefined ? ExitStatus.Usage : ExitStatus.Ok;
  }
  const json = args.includes("--json");
  // Every line is printed through terminalSafe: nothing that came from the
  // other side reaches the terminal as a control sequence.
  const stdout = (line: string) => output.stdout(terminalSafe(line));
  const stderr = (line: string) => output.stderr(terminalSafe(line));
  const reporter = { stderr, json };
  if (!Object.hasOwn(VERB_FLAGS, verb)) {
    return reportUsage(reporter, "rpc", `unknown verb '${verb}'`, USAGE.rpc!);
  }
  let flags: ParsedArgs;
  let maxStdin: number;
  try {
    flags = parseArgs(args.slice(1), {
      ...FLAGS,
      unknown: (arg) => {
        // A lone "-" is params from stdin, not an option.
        if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option '${arg}'`);
        return true;
      },
    });
    if (flags.help) {
      output.stdout(USAGE[verb]!);
      return ExitStatus.Ok;
    }
    checkFlags(verb, flags);
    maxStdin = numberFlag(flags, "max-stdin", DEFAULT_MAX_STDIN, 1);
  } catch (error) {
    return reportUsage(reporter, verb, (error as Error).message, USAGE[verb]!);
  }
  // Only the verbs that run until stopped take over SIGINT and SIGTERM.
  const stop = verb === "serve" || verb === "watch" || verb === "stream"
    ? stopSignal(signal)
    : NEVER;
  try {
    const io = {
      stdout,
      stderr,
      readStdin: () => readStdin(output, maxStdin),
      json,
      stop: stop.promise,
    };
    if (isAmqpUrl(flags._[0]) && verb !== "watch" && verb !== "choria") {
      // Loaded only here: the other verbs never load the AMQP client.
      const amqp = await import("./cli/amqp.ts");
      return verb === "serve"
        ? await amqp.serveAmqp(flags, io)
        : await amqp.clientAmqp(verb as "call" | "notify" | "describe" | "publish", flags, io);
    }
    if (verb === "publish") throw new UsageError("publish needs an amqp:// URL");
    if (flags.service !== undefined) throw new UsageError("--service needs an amqp:// URL");
    switch (verb) {
      case "serve":
        return await serve(flags, io);
      case "choria":
        return await choria(flags, io);
      case "describe":
        return await describe(flags, io);
      case "watch":
        return await watch(flags, io);
      case "stream":
        return await stream(flags, io);
      default:
        return await callOrNotify(verb as "call" | "notify", flags, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      return reportUsage(reporter, verb, error.message, USAGE[verb]!);
    }
    throw error;
  } finally {
    stop.dispose();
  }
}

/** Refuses flags the verb does not take (a typo must not pass silently). */
function checkFlags(verb: string, flags: ParsedArgs): void {
  const allowed = VERB_FLAGS[verb]!;
  for (const name of Object.keys(flags)) {
    if (name === "_" || name === "help" || name === "h" || name === "V") continue;
    const given = flags[name];
    if (given === undefined || given === false) continue;
    if (Array.isArray(given) && given.length === 0) continue; // a collected flag not given
    if (!allowed.includes(name)) throw new UsageError(`--${name} does not apply to '${verb}'`);
  }
}

/** A promise that resolves on SIGINT, SIGTERM or `signal`; dispose() removes the listeners. */
function stopSignal(signal: AbortSignal | undefined) {
  const stop = Promise.withResolvers<string>();
  const listeners: [Deno.Signal, () => void][] = [["SIGINT", () => stop.resolve("SIGINT")]];
  if (Deno.build.os !== "windows") listeners.push(["SIGTERM", () => stop.resolve("SIGTERM")]);
  for (const [name, fn] of listeners) Deno.addSignalListener(name, fn);
  const onAbort = () => stop.resolve("abort");
  signal?.addEventListener("abort", onAbort, { once: true });
  return {
    promise: stop.promise,
    dispose: () => {
      for (const [name, fn] of listeners) Deno.removeSignalListener(name, fn);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

const NEVER = { promise: new Promise<string>(() => {}), dispose: () => {} };

/** What `--max-stdin` is when not given: 16 MiB, the default frame size. */
const DEFAULT_MAX_STDIN = 16 * 1024 * 1024;

function tooLarge(maxBytes: number): UsageError {
  return new UsageError(`stdin is larger than ${maxBytes} bytes (--max-stdin)`);
}

/** Stdin as text, up to `maxBytes`: reading stops as soon as there is more. */
async function readStdin(output: Output, maxBytes: number): Promise<string> {
  if (output.readStdin !== undefined) {
    const text = await output.readStdin(maxBytes);
    if (utf8Length(text) > maxBytes) throw tooLarge(maxBytes);
    return text;
  }
  try {
    return await readAtMost(Deno.stdin.readable, maxBytes, "stdin");
  } catch (error) {
    throw /is larger than/.test((error as Error).message) ? tooLarge(maxBytes) : error;
  }
}

const consoleOutput: Output = {
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
};

if (import.meta.main) Deno.exit(await main(Deno.args));
