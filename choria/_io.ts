/**
 * The file and environment handling every external program shares: where
 * the request comes from and where the reply goes.
 *
 * @module
 */

import type { AgentLog } from "./log.ts";

/** An environment variable, or `undefined` when unset or not permitted. */
export function getEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The request text from `path`, or stdin when there is no path; `""` (logged) when unreadable. */
export async function readRequest(path: string | undefined, log: AgentLog): Promise<string> {
  try {
    return path ? await Deno.readTextFile(path) : await new Response(Deno.stdin.readable).text();
  } catch (error) {
    log.error(`cannot read the request: ${(error as Error).message}`);
    return "";
  }
}

/**
 * Writes the reply to `path` (the existing file, truncated), or stdout when
 * there is no path. Resolves with the exit status: 0, or 1 when it could not
 * be written (logged).
 */
export async function writeReply(
  path: string | undefined,
  reply: string,
  log: AgentLog,
): Promise<number> {
  try {
    if (path) await Deno.writeTextFile(path, reply);
    else await Deno.stdout.write(new TextEncoder().encode(reply));
    return 0;
  } catch (error) {
    log.error(`cannot write the reply to ${path}: ${(error as Error).message}`);
    return 1;
  }
}
