/**
 * Reading the `rpc` command's arguments: URLs (bare `host:port` included),
 * params (from the command line or stdin), numbers, and paths, which are
 * resolved against the directory the user ran the command from.
 *
 * @module
 */

import type { Dialect } from "../mod.ts";
import { parseQuickRpcTransport, parseTransportString } from "../protocol/quickrpc/quickrpc.ts";
import { DIALECTS } from "./dialects.ts";
import type { ParsedArgs } from "./parse_args.ts";

/** Bad arguments: a one-line error and the verb's usage, exit status 2. */
export class UsageError extends Error {}

/** Throws a {@linkcode UsageError}. */
export function throwUsage(message: string): never {
  throw new UsageError(message);
}

/**
 * What `--dialect` names for `url`: a dialect of framed messages, or
 * mushroom (sessions over HTTP). http:// and https:// URLs speak JSON-RPC
 * over HTTP POST (what curl and every JSON-RPC-over-HTTP client mean), or
 * mushroom with `--dialect mushroom`.
 */
export function dialectOf(flags: ParsedArgs, url: string): Dialect | "mushroom" {
  const http = /^https?:/.test(url);
  const name = String(flags.dialect ?? "jsonrpc");
  if (name === "mushroom") {
    if (!http) throw new UsageError(`mushroom needs an http:// or https:// URL, got '${url}'`);
    return "mushroom";
  }
  const dialect = DIALECTS[name];
  if (dialect === undefined || !Object.hasOwn(DIALECTS, name)) {
    throw new UsageError(`unknown dialect '${name}' (jsonrpc, simplerpc, quickrpc or mushroom)`);
  }
  if (isQuickRpcTransport(url) && name !== "quickrpc") {
    throw new UsageError(`'${url}' is a quickrpc transport: add --dialect quickrpc`);
  }
  if (http && name !== "jsonrpc") {
    throw new UsageError(
      `http:// and https:// URLs speak JSON-RPC over HTTP POST (the default) or mushroom (--dialect mushroom), not ${name}`,
    );
  }
  return dialect;
}

/** Whether `url` is one of quickrpc's many-peer transport strings (`udp:`, `mux:`, `restart:`, `internal:`). */
export function isQuickRpcTransport(url: string): boolean {
  return /^(udp|mux|restart|internal)(:|$)/.test(url);
}

/**
 * Our URL for `text`: a URL, a bare `host:port` (TCP), a unix socket
 * (`unix:///path`), or a quickrpc transport string (`tcp:host:port`,
 * `tcpserv:iface:port` become URLs; `udp:`, `mux:`, `restart:` and
 * `internal:` stay as they are, for {@linkcode isQuickRpcTransport}).
 */
export function urlOf(text: unknown, role: "connect" | "listen"): string {
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
  // quickrpc's many-peer transports: opened as one quickRpcApi (Qt ones refused by the parser).
  if (/^(udp|mux|restart|internal|qprocess|qtcp|qudp)(:|$)/.test(value)) {
    try {
      parseTransportString(value);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    return value;
  }
  // unix:///path, unix:/path or unix:relative/path: a unix socket.
  if (/^unix:./.test(value)) {
    if (/^unix:\/\/(?!\/)/.test(value)) {
      throw new UsageError(`'${value}' names a host: a unix socket URL is unix:///path`);
    }
    return value;
  }
  // stdio:'cmd args' (a child's pipes), or stdio: (serve this process's own).
  if (value.startsWith("stdio:")) return value;
  // host:port, [v6]:port
  if (/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d+$/.test(value)) return `tcp://${value}`;
  if (!/^(tcp|tls):\/\/.+:\d+$/.test(value) && !/^(wss?|https?):\/\/.+:\d+(\/.*)?$/.test(value)) {
    throw new UsageError(
      `'${value}' is not host:port, tcp://host:port, tls://host:port, ws://host:port/path, wss://host:port/path, http://host:port/path, unix:///path or stdio:'cmd args'`,
    );
  }
  return value;
}

/**
 * The params argument as JSON: `undefined` when absent, stdin's text when
 * it is `-`.
 */
export async function paramsOf(
  text: string | undefined,
  readStdin: () => Promise<string>,
): Promise<unknown> {
  if (text === undefined) return undefined;
  const fromStdin = text === "-";
  const source = fromStdin ? await readStdin() : text;
  let params: unknown;
  try {
    params = JSON.parse(source);
  } catch {
    const shown = source.length > 60 ? `${source.slice(0, 60)}...` : source;
    throw new UsageError(`params${fromStdin ? " on stdin" : ""} must be JSON, got '${shown}'`);
  }
  if (params === null || typeof params !== "object") {
    throw new UsageError("params must be a JSON object or array");
  }
  return params;
}

/**
 * The web origins `--origin` lets call a server at `url` (each
 * `scheme://host[:port]`, or `*` for any), or `undefined` when none is given
 * (the listener's default then: same origin, or no Origin at all).
 */
export function originsOf(flags: ParsedArgs, url: string): readonly string[] | "*" | undefined {
  return browserList(
    flags,
    "origin",
    url,
    (origin) => URL.canParse(origin) && new URL(origin).origin === origin,
    "an origin (scheme://host[:port], or '*')",
  );
}

/**
 * The host names `--host` lets requests to a server at `url` name in their
 * `Host` header (each a name without a port, or `*` for any), or
 * `undefined` when none is given (the listener's default then: on loopback,
 * localhost and addresses only, against DNS rebinding).
 */
export function hostsOf(flags: ParsedArgs, url: string): readonly string[] | "*" | undefined {
  return browserList(
    flags,
    "host",
    url,
    (host) => /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(host),
    "a host name without a port (app.internal, or '*')",
  );
}

/** A repeatable flag of a server browsers reach: its checked values, `"*"`, or undefined. */
function browserList(
  flags: ParsedArgs,
  name: string,
  url: string,
  valid: (value: string) => boolean,
  what: string,
): readonly string[] | "*" | undefined {
  const given = ([] as unknown[]).concat(flags[name] ?? []).map(String);
  if (given.length === 0) return undefined;
  if (!/^(wss?|https?):/.test(url)) {
    throw new UsageError(
      `--${name} applies to ws://, wss://, http:// and https:// servers (browsers), not '${url}'`,
    );
  }
  if (given.includes("*")) return "*";
  for (const value of given) {
    if (!valid(value)) throw new UsageError(`'${value}' is not ${what}`);
  }
  return given;
}

/** A whole-number flag of at least `min`, or `fallback` when absent. */
export function numberFlag(flags: ParsedArgs, name: string, fallback: number, min: number): number {
  const text = flags[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got '${text}'`);
  }
  return value;
}

/** `--mode` of a unix socket file: octal permission bits (`600`, `0o660`), or `undefined`. */
export function modeFlag(flags: ParsedArgs, url: string): number | undefined {
  if (flags.mode === undefined) return undefined;
  if (!url.startsWith("unix:")) {
    throw new UsageError(`--mode applies to unix: sockets, not '${url}'`);
  }
  const text = String(flags.mode);
  const match = /^(?:0o?)?([0-7]{1,3})$/.exec(text);
  if (match === null) {
    throw new UsageError(`--mode must be octal permission bits (600), got '${text}'`);
  }
  return parseInt(match[1]!, 8);
}

/** `--timeout` in milliseconds (0: none). */
export function timeoutFlag(flags: ParsedArgs): number {
  if (flags.timeout === undefined) return 30_000;
  const timeout = Number(flags.timeout);
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new UsageError(`--timeout must be a number of milliseconds, got '${flags.timeout}'`);
  }
  return timeout;
}

/**
 * The directory the user ran the command from: `deno task` runs commands
 * from the project's directory and says where the user was in `INIT_CWD`.
 */
export function userDirectory(): string {
  const permission = Deno.permissions.querySync?.({ name: "env", variable: "INIT_CWD" });
  if (permission?.state === "granted") {
    const initial = Deno.env.get("INIT_CWD");
    if (initial !== undefined && initial !== "") return initial;
  }
  return Deno.cwd();
}

/** A `file:` URL for `path`, relative to the user's directory. */
export function fileUrl(path: string): URL {
  return new URL(path, `file://${userDirectory().replace(/\/?$/, "/")}`);
}

/** The text of a PEM file named by a flag. */
export async function readPem(path: unknown, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(fileUrl(String(path)));
  } catch (error) {
    throw new UsageError(`cannot read the ${what} file '${path}': ${(error as Error).message}`);
  }
}
