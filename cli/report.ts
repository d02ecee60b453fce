/**
 * How the `rpc` command reports a failure: its exit status, and one line on
 * stderr, as text or (with `--json`) as a JSON object a script can read.
 *
 * @module
 */

import { CallTimeout, ConnectionClosed, type Logger, RemoteError, RpcError } from "../mod.ts";

/**
 * The `rpc` command's exit statuses.
 *
 * @example A usage error's exit status
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ExitStatus, main } from "@seed/rpc/cli";
 * const quiet = { stdout: () => {}, stderr: () => {} };
 * assertEquals(await main(["call"], quiet), ExitStatus.Usage);
 * ```
 */
export const ExitStatus = {
  /** Done. */
  Ok: 0,
  /** The remote side answered with an error. */
  RemoteError: 1,
  /** Bad arguments, or the connection could not be made or broke. */
  Usage: 2,
  /** No answer within `--timeout`. */
  Timeout: 3,
} as const;

/** Where failure lines go, and in which form. */
export interface Reporter {
  stderr(line: string): void;
  /** One JSON object per line instead of text. */
  json: boolean;
}

/** What a failure looks like with `--json`. */
interface FailureJson {
  /** `remote`, `timeout`, `connection` or `usage`. */
  kind: string;
  message: string;
  code?: number;
  data?: unknown;
}

/** Reports `error` from `verb` and returns the exit status it means. */
export function reportFailure(reporter: Reporter, verb: string, error: unknown): number {
  if (error instanceof RemoteError || error instanceof RpcError) {
    const failure: FailureJson = { kind: "remote", code: error.code, message: error.message };
    if (error.data !== undefined) failure.data = error.data;
    const data = error.data === undefined ? "" : ` ${JSON.stringify(error.data)}`;
    write(reporter, failure, `error ${error.code}: ${oneLine(error.message)}${data}`);
    return ExitStatus.RemoteError;
  }
  if (error instanceof CallTimeout) {
    write(
      reporter,
      { kind: "timeout", message: error.message },
      `error: ${oneLine(error.message)}`,
    );
    return ExitStatus.Timeout;
  }
  const message = redactUrls(
    error instanceof ConnectionClosed || error instanceof Error ? error.message : String(error),
  );
  write(reporter, { kind: "connection", message }, `rpc ${verb}: ${oneLine(message)}`);
  return ExitStatus.Usage;
}

/** Reports that `url` could not be reached (its password, if any, not shown). */
export function reportConnectFailure(
  reporter: Reporter,
  verb: string,
  url: string,
  error: unknown,
): number {
  const message = redactUrls(`cannot connect to ${url}: ${(error as Error).message}`);
  write(reporter, { kind: "connection", message }, `rpc ${verb}: ${oneLine(message)}`);
  return ExitStatus.Usage;
}

/**
 * The CLI's logger: warnings and errors on stderr, on one line each, URLs'
 * passwords hidden; nothing with `--json` (a run then writes its results and
 * one failure line only).
 */
export function cliLogger(reporter: Reporter): Logger {
  const line = (level: string, message: string, data: unknown[]) => {
    if (reporter.json) return;
    const text = data.length === 0 ? message : `${message} ${data.map(String).join(" ")}`;
    reporter.stderr(`${level}: ${oneLine(redactUrls(text))}`);
  };
  return {
    debug: () => {},
    warn: (message, ...data) => line("warning", message, data),
    error: (message, ...data) => line("error", message, data),
  };
}

/** Reports bad arguments (with `--json`, without the usage text). */
export function reportUsage(
  reporter: Reporter,
  verb: string,
  message: string,
  usage: string,
): number {
  message = redactUrls(message);
  if (reporter.json) {
    reporter.stderr(JSON.stringify({ kind: "usage", message }));
  } else {
    reporter.stderr(`${verb === "rpc" ? "rpc" : `rpc ${verb}`}: ${oneLine(message)}`);
    reporter.stderr(usage);
  }
  return ExitStatus.Usage;
}

function write(reporter: Reporter, failure: FailureJson, text: string): void {
  reporter.stderr(reporter.json ? JSON.stringify(failure) : text);
}

/**
 * Characters a terminal may act on: C0 controls, DEL, C1 controls (U+009B
 * starts a control sequence on some terminals), the line and paragraph
 * separators, and bidi marks, overrides and isolates (which make text read
 * other than it is).
 */
const UNSAFE_CHARS =
  "\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
/** The unsafe characters, but newline and tab (which our own output uses). */
const UNSAFE = new RegExp(
  `[${UNSAFE_CHARS.replace("\\x00-\\x1f", "\\x00-\\x08\\x0b-\\x1f")}]`,
  "g",
);
/** Every unsafe character. */
const UNSAFE_IN_LINE = new RegExp(`[${UNSAFE_CHARS}]`, "g");

const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(char: string): string {
  return SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every character a terminal could act on written as a `\uXXXX`
 * escape, newlines and tabs kept. Inside JSON text this changes nothing a
 * JSON parser sees (such characters can only be in strings, where `\uXXXX`
 * means the same), so it guards every line the CLI prints.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Text from the other side as one printable line: newlines, tabs and every
 * other control character escaped (`\n`, `\u001b`...), so it can neither
 * act on the terminal nor forge lines of our own.
 */
export function oneLine(text: string): string {
  return text.replace(UNSAFE_IN_LINE, escapeChar);
}

/** Userinfo in URLs: `scheme://user:password@` or `scheme://token@`. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"]+)@/gi;

/**
 * `text` with the credentials of every URL in it hidden: the password of
 * `scheme://user:password@host` becomes `***`, and so does a lone
 * `scheme://token@host`.
 */
export function redactUrls(text: string): string {
  return text.replace(USERINFO, (_, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return `${scheme}${colon === -1 ? "***" : `${userinfo.slice(0, colon)}:***`}@`;
  });
}
