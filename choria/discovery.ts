/**
 * External discovery programs: Choria's client runs one with a request file
 * (`io.choria.choria.discovery.v1.external_request`) and reads back the
 * identities of the nodes that match.
 *
 * {@linkcode runDiscovery} reads the request (the same environment and argv
 * fallbacks as agents), checks it against the schema (accepting the compound
 * filter shape go-choria really sends, `[[{"expr": ...}]]`), calls your
 * function, and writes `{"protocol": ..., "nodes": [...]}`, or `{"protocol":
 * ..., "error": ...}` when it throws. {@linkcode matchesFilter} applies
 * identity, fact, class, agent and compound filters as go-choria does.
 *
 * @example A discovery program over a fixed list of nodes
 * ```ts ignore
 * import { matchesFilter, runDiscovery } from "@seed/rpc/choria";
 *
 * const nodes = [{ identity: "web1", facts: { country: "mt" } }, { identity: "db1", facts: { country: "de" } }];
 * await runDiscovery((request, log) =>
 *   nodes.filter((n) => matchesFilter(n, request.filter, { log })).map((n) => n.identity)
 * );
 * ```
 *
 * @module
 */

import { formatIssues } from "./_core.ts";
import {
  compileCompound,
  type CompiledCompound,
  type DataFunction,
  hasAgent,
  hasClass,
  matchCompound,
} from "./compound/choria.ts";
import { CompoundError } from "./compound/error.ts";
import { type FactFilter, FactMatchError, hasFact } from "./facts.ts";
import { AgentLog } from "./log.ts";
import { getEnv, readRequest, writeReply } from "./_io.ts";
import { DISCOVERY_REPLY, DISCOVERY_REQUEST } from "./protocol.ts";
import { choriaSchema } from "./schemas.ts";
import { re2 } from "./validators.ts";

export type { DataFunction } from "./compound/choria.ts";
export type { FactFilter } from "./facts.ts";

/**
 * The filter of a discovery request (go-choria's field order).
 */
export interface DiscoveryFilter {
  /** Facts the node must have (all of them). */
  fact: FactFilter[];
  /** Configuration-management classes the node must have (all). */
  cf_class: string[];
  /** Agents the node must have (all). */
  agent?: string[];
  /** Identities, any of which may match (`/regex/` or exact). */
  identity: string[];
  /** Compound filters, as go-choria sends them: `[[{"expr": "..."}]]`. */
  compound: unknown[];
}

/**
 * A discovery request file.
 */
export interface DiscoveryRequest {
  /** `io.choria.choria.discovery.v1.external_request`. */
  protocol: string;
  /** The collective to search. */
  collective: string;
  /** What the nodes must match. */
  filter: DiscoveryFilter;
  /** Federation collectives (`null` when there are none). */
  federations?: string[] | null;
  /** `--do key=value` options. */
  options: Record<string, string>;
  /** The schema URL. */
  $schema?: string;
  /** Seconds allowed. */
  timeout: number;
}

/**
 * A node, for {@linkcode matchesFilter}.
 */
export interface NodeInfo {
  /** The node's identity. */
  identity: string;
  /** Its facts. */
  facts?: Record<string, unknown>;
  /** Its configuration-management classes. */
  classes?: string[];
  /** Its agents. */
  agents?: string[];
}

/**
 * A discovery failure; its message is the reply's `error`, which Choria
 * shows the user.
 *
 * @example A discovery that cannot reach its inventory
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DiscoveryError, respondDiscovery } from "@seed/rpc/choria";
 * const request = JSON.stringify({
 *   protocol: "io.choria.choria.discovery.v1.external_request", collective: "mcollective",
 *   filter: { fact: [], cf_class: [], identity: [], compound: [] }, options: {}, timeout: 2,
 * });
 * const reply = await respondDiscovery(() => {
 *   throw new DiscoveryError("inventory unreachable");
 * }, request);
 * assertEquals(JSON.parse(reply).error, "inventory unreachable");
 * ```
 */
export class DiscoveryError extends Error {
  /**
   * Makes the error.
   *
   * @param message What the user is told.
   */
  constructor(message: string) {
    super(message);
    this.name = "DiscoveryError";
  }
}

/**
 * Whether `facts` satisfy one fact filter, exactly as go-choria's servers
 * decide (`filter/facts`). The fact is a GJSON path. Strings compare ignoring
 * case (`<`, `>`, ... on the lower-cased texts); `=~` is a case-blind regex in
 * Go's syntax, slashes around it optional. A number compares as a float when
 * the value holds a `.`, else as its integer part written in decimal (so
 * `cpus == "8.0"` is a float comparison and `"08"` never equals 8); `=~` on a
 * number matches `"%.4f"` or that integer text. Booleans take Go's
 * `ParseBool` spellings (`true`, `T`, `1`, ...), and anything else counts as
 * false. A null, an object or an array is false for `==`, `!=` and `=~`.
 * go-choria's quirks are kept: `>` with a float value is `>=`, and a false
 * fact is `!= "false"`. A missing fact is false, and so is a filter that
 * cannot be evaluated (a value that is no number, `<` on a boolean, a bad
 * regex, an unknown operator), which go-choria logs as a warning:
 * {@linkcode matchesFilter} logs it through its `log` option.
 *
 * @example Matching facts by equality and by regular expression
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { matchFact } from "@seed/rpc/choria";
 * const facts = { country: "mt", cpus: 8, os: { family: "Debian" }, virtual: false };
 * assertEquals(matchFact(facts, { fact: "os.family", operator: "==", value: "debian" }), true);
 * assertEquals(matchFact(facts, { fact: "cpus", operator: ">=", value: "4" }), true);
 * assertEquals(matchFact(facts, { fact: "cpus", operator: ">=", value: "four" }), false);
 * assertEquals(matchFact(facts, { fact: "country", operator: "=~", value: "/^M/" }), true);
 * assertEquals(matchFact(facts, { fact: "virtual", operator: "==", value: "false" }), true);
 * ```
 */
export function matchFact(facts: Record<string, unknown>, filter: FactFilter): boolean {
  return factHolds(facts, filter);
}

/** go-choria's `MatchFacts` for one filter: an error is logged as a warning and is false. */
function factHolds(facts: Record<string, unknown>, filter: FactFilter, log?: AgentLog): boolean {
  try {
    return hasFact(facts, filter);
  } catch (error) {
    if (!(error instanceof FactMatchError)) throw error;
    log?.warn(
      `failed to match fact filter ${
        JSON.stringify([filter.fact, filter.operator, filter.value])
      }: ${error.message}`,
    );
    return false;
  }
}

/** go-choria's identity match: a `/regex/` (a bad one matches nothing), else exact. */
function matchIdentity(name: string, pattern: string): boolean {
  if (pattern.startsWith("/") && pattern.endsWith("/")) {
    try {
      if (re2(pattern.replace(/^\//, "").replace(/\/$/, "")).test(name)) return true;
    } catch {
      // as go-choria: a pattern that does not compile is no match
    }
  }
  return name === pattern;
}

/** Options of {@linkcode matchesFilter}. */
export interface MatchOptions {
  /**
   * Data functions compound filters may call, as go-choria's data providers
   * (`scout("check")`, `config_item("x")`): name to function.
   *
   * @default {}
   */
  functions?: Readonly<Record<string, DataFunction>>;
  /**
   * Where to log what go-choria's servers log and skip: a fact filter that
   * cannot be evaluated (a warning) and a compound expression that fails on a
   * node (an error); pass the discovery program's log.
   *
   * @default undefined (nothing is logged)
   */
  log?: AgentLog;
}

/** Compiled compound filters, per request's `compound` array. */
const compiled = new WeakMap<readonly unknown[], CompiledCompound>();

function compile(
  compound: readonly unknown[],
  functions: Readonly<Record<string, DataFunction>>,
): CompiledCompound {
  let program = compiled.get(compound);
  if (program === undefined || !compiledFrom(program, compound, functions)) {
    try {
      program = compileCompound(compound, functions);
    } catch (error) {
      throw compoundError(error, compound);
    }
    compiled.set(compound, program);
  }
  return program;
}

/** Whether `program` is `compound` as it is now: a caller may change the array in place. */
function compiledFrom(
  program: CompiledCompound,
  compound: readonly unknown[],
  functions: Readonly<Record<string, DataFunction>>,
): boolean {
  return program.functions === Object.keys(functions).sort().join(",") &&
    program.expressions.length === compound.length &&
    program.expressions.every((e, i) =>
      (compound[i] as readonly { expr?: unknown }[] | null)?.[0]?.expr === e.src
    );
}

/** A compound filter's error as the discovery reply's error, naming the expression. */
function compoundError(error: unknown, compound: readonly unknown[]): Error {
  if (!(error instanceof CompoundError) && !(error instanceof TypeError)) return error as Error;
  const which = error instanceof CompoundError && compound.length > 1
    ? ` ${JSON.stringify(error.source.slice(0, 80))}`
    : "";
  return new DiscoveryError(`compound filter${which}: ${error.message}`);
}

/**
 * Whether a node matches a discovery filter: any identity (exact, or
 * `/regex/`), every fact, every class, every agent, and the compound filters
 * (go-choria's expression language; see the README's "Compound filters"). A
 * compound filter that does not parse or calls an unknown function throws a
 * {@linkcode DiscoveryError} naming the position, which
 * {@linkcode respondDiscovery} turns into the error reply. As on go-choria's
 * servers, an expression that fails on this node's data (`fact("x") > 1`
 * where x is missing, a non-boolean result) and a fact filter that cannot be
 * evaluated make the node not match, logged through `options.log`.
 *
 * @example Matching a node against a filter
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { matchesFilter } from "@seed/rpc/choria";
 * const filter = { fact: [{ fact: "country", operator: "==", value: "mt" }], cf_class: [], identity: ["/^web/"], compound: [] };
 * assertEquals(matchesFilter({ identity: "web1", facts: { country: "mt" } }, filter), true);
 * assertEquals(matchesFilter({ identity: "db1", facts: { country: "mt" } }, filter), false);
 * ```
 *
 * @example A compound filter, as `choria discover -S '...'` sends it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { matchesFilter } from "@seed/rpc/choria";
 * const filter = {
 *   fact: [], cf_class: [], identity: [],
 *   compound: [[{ expr: 'with("country=mt") && (with("roles::web") || fact("cpus") >= 16)' }]],
 * };
 * const web1 = { identity: "web1", facts: { country: "mt", cpus: 8 }, classes: ["roles::web"] };
 * const db1 = { identity: "db1", facts: { country: "mt", cpus: 16 }, classes: ["roles::db"] };
 * const db2 = { identity: "db2", facts: { country: "de", cpus: 16 }, classes: ["roles::db"] };
 * assertEquals([web1, db1, db2].filter((n) => matchesFilter(n, filter)).map((n) => n.identity), ["web1", "db1"]);
 * ```
 */
export function matchesFilter(
  node: NodeInfo,
  filter: DiscoveryFilter,
  options: MatchOptions = {},
): boolean {
  // Compiled first, so a broken expression is reported whatever the other filters say.
  const functions = options.functions ?? {};
  const program = filter.compound.length > 0 ? compile(filter.compound, functions) : undefined;
  // go-choria's order (protocol/filter.go MatchServerRequest), so the same nodes log.
  if (filter.identity.length > 0 && !filter.identity.some((p) => matchIdentity(node.identity, p))) {
    return false;
  }
  const agents = node.agents ?? [];
  if (!(filter.agent ?? []).every((p) => hasAgent(p, agents))) return false;
  const classes = node.classes ?? [];
  if (!filter.cf_class.every((p) => hasClass(p, classes))) return false;
  const facts = node.facts ?? {};
  const log = options.log;
  if (!filter.fact.every((f) => factHolds(facts, f, log))) return false;
  if (program === undefined) return true;
  return matchCompound(
    program,
    { facts, classes, agents },
    (facts, f) => factHolds(facts, f, log),
    functions,
    // go-choria: "Could not match compound query", and the node does not match.
    (error) =>
      log?.error(
        `could not match compound filter ${JSON.stringify(error.source)}: ${error.message}`,
      ),
  );
}

/**
 * Finds nodes for a request; throw a {@linkcode DiscoveryError} (or any
 * error) to report a failure to the user.
 */
export type Discover = (request: DiscoveryRequest, log: AgentLog) => string[] | Promise<string[]>;

/**
 * Answers one discovery request: the reply file's text.
 *
 * @example Answering one discovery request without files
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { respondDiscovery } from "@seed/rpc/choria";
 * const request = JSON.stringify({
 *   protocol: "io.choria.choria.discovery.v1.external_request", collective: "mcollective",
 *   filter: { fact: [], cf_class: [], identity: [], compound: [] }, options: {}, timeout: 2,
 * });
 * assertEquals(JSON.parse(await respondDiscovery(() => ["web1"], request)), {
 *   protocol: "io.choria.choria.discovery.v1.external_reply",
 *   nodes: ["web1"],
 * });
 * ```
 */
export async function respondDiscovery(
  discover: Discover,
  requestText: string,
  log: AgentLog = new AgentLog(),
): Promise<string> {
  const fail = (error: string) => JSON.stringify({ protocol: DISCOVERY_REPLY, error });
  let request: unknown;
  try {
    request = JSON.parse(requestText);
  } catch (error) {
    return fail(`the discovery request is not JSON: ${(error as Error).message}`);
  }
  const issues = choriaSchema(DISCOVERY_REQUEST)(request);
  if (issues !== undefined) return fail(`invalid discovery request: ${formatIssues(issues)}`);
  try {
    const nodes = await discover(request as DiscoveryRequest, log);
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === "string")) {
      return fail("discovery did not produce a list of node identities");
    }
    return JSON.stringify({ protocol: DISCOVERY_REPLY, nodes });
  } catch (error) {
    if (!(error instanceof DiscoveryError)) {
      log.error(`discovery failed: ${(error as Error).stack ?? error}`);
    }
    return fail(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Runs a discovery program as Choria's client runs it: request from
 * `CHORIA_EXTERNAL_REQUEST` (else argv[1], else stdin), reply to
 * `CHORIA_EXTERNAL_REPLY` (else argv[2], else stdout), exit 0.
 *
 * @example The main module of a discovery executable
 * ```ts ignore
 * import { runDiscovery } from "@seed/rpc/choria";
 * await runDiscovery(() => ["web1.example.net"]);
 * ```
 */
export async function runDiscovery(
  discover: Discover,
  options: {
    args?: string[];
    env?: (name: string) => string | undefined;
    exit?: boolean;
    log?: AgentLog;
  } = {},
): Promise<void> {
  const env = options.env ?? getEnv;
  const args = options.args ?? Deno.args;
  const log = options.log ?? new AgentLog();
  const text = await readRequest(env("CHORIA_EXTERNAL_REQUEST") || args[0], log);
  const reply = await respondDiscovery(discover, text, log);
  const status = await writeReply(env("CHORIA_EXTERNAL_REPLY") || args[1], reply, log);
  if (options.exit !== false) Deno.exit(status);
}
