/**
 * How the `rpc` command reports a failure: its exit status, and one line on
 * stderr, as text or (with `--json`) as a JSON object a script can read.
 *
 * @example Exit statuses
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ExitStatus } from "@seed/rpc/cli";
 * assertEquals([ExitStatus.RemoteError, ExitStatus.Timeout], [1, 3]);
 * ```
 *
 * @module
 */

import { CallTimeout, ConnectionClosed, RemoteError, RpcError } from "../mod.ts";

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
    write(reporter, failure, `error ${error.code}: ${error.message}${data}`);
    return ExitStatus.RemoteError;
  }
  if (error instanceof CallTimeout) {
    write(reporter, { kind: "timeout", message: error.message }, `error: ${error.message}`);
    return ExitStatus.Timeout;
  }
  const message = error instanceof ConnectionClosed || error instanceof Error
    ? error.message
    : String(error);
  write(reporter, { kind: "connection", message }, `rpc ${verb}: ${message}`);
  return ExitStatus.Usage;
}

/** Reports that `url` could not be reached. */
export function reportConnectFailure(
  reporter: Reporter,
  verb: string,
  url: string,
  error: unknown,
): number {
  const message = `cannot connect to ${url}: ${(error as Error).message}`;
  write(reporter, { kind: "connection", message }, `rpc ${verb}: ${message}`);
  return ExitStatus.Usage;
}

/** Reports bad arguments (with `--json`, without the usage text). */
export function reportUsage(
  reporter: Reporter,
  verb: string,
  message: string,
  usage: string,
): number {
  if (reporter.json) {
    reporter.stderr(JSON.stringify({ kind: "usage", message }));
  } else {
    reporter.stderr(`${verb === "rpc" ? "rpc" : `rpc ${verb}`}: ${message}`);
    reporter.stderr(usage);
  }
  return ExitStatus.Usage;
}

function write(reporter: Reporter, failure: FailureJson, text: string): void {
  reporter.stderr(reporter.json ? JSON.stringify(failure) : text);
}
