/**
 * `rpc choria ddl`: the DDL of a Choria external agent module.
 *
 * @module
 */

import { Agent } from "../choria/agent.ts";
import { checkDdl } from "../choria/ddl.ts";
import { fileUrl, UsageError } from "./args.ts";
import type { ParsedArgs } from "./parse_args.ts";
import { ExitStatus } from "./report.ts";

/** Prints the DDL of the agent the module exports. */
export async function choria(
  flags: ParsedArgs,
  io: { stdout(line: string): void; stderr(line: string): void },
): Promise<number> {
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
    module = await import(fileUrl(file).href);
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
    const names = chosen.map(([name]) => name).join(", ");
    throw new UsageError(`'${file}' exports several agents (${names}); pick one with --export`);
  }
  const ddl = (chosen[0]![1] as Agent).ddl;
  const problem = checkDdl(ddl);
  if (problem !== undefined) {
    io.stderr(`rpc choria ddl: the DDL is not valid: ${problem}`);
    return ExitStatus.RemoteError;
  }
  io.stdout(JSON.stringify(ddl, null, 2));
  return ExitStatus.Ok;
}
