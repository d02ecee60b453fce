/**
 * A harness that runs external agents and discovery programs exactly as
 * go-choria does, so agent authors can test their agents (in any language)
 * without a Choria server.
 *
 * For an RPC request it does what go-choria's external agent provider does:
 *
 * 1. finds the agent's DDL under `<libdir>/mcollective/agent/` (flat
 *    `agent/<x>.json`, or `agent/<x>/<x>.json`; `tmp/` skipped; only DDLs
 *    with `metadata.provider: "external"`; reserved names refused), and its
 *    executable (`<dir>/<name>`, else the multi-arch
 *    `<dir>/<name>/<name>-<os>_<arch>`);
 * 2. refuses an unknown action (status 2), a missing executable (1), and
 *    inputs the DDL does not accept (1, `Validation failed: ...`), before
 *    running anything;
 * 3. writes 0600 temp files `request*`, `reply*` (empty) and `facts*` in the
 *    temp dir, and runs `[exe, request, reply,
 *    "io.choria.mcorpc.external.v1.rpc_request"]` with a cleared environment
 *    plus exactly six variables, cwd the temp dir, stdin /dev/null,
 *    SIGKILLed at the DDL timeout; stdout and stderr become log lines;
 * 4. reads the reply by merging it over `{statuscode: 0, statusmsg: "OK",
 *    data: {}}` as Go's `json.Unmarshal` does (keys matched without regard to
 *    case, `statuscode` a `uint8`), applies output defaults, and reports
 *    failures with go-choria's messages (status 1);
 * 5. removes the temp files.
 *
 * Activation checks run the same way with a 2 s limit and an empty facts
 * file; discovery programs as Choria's client runs them.
 *
 * Go's own wording is reproduced for everything the protocol defines; the
 * text of a JSON syntax error inside a reply is close to Go's, not exact.
 *
 * @example Test an agent as Choria would run it
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ChoriaHarness } from "@seed/rpc/choria/testing";
 *
 * // A libdir with one external agent: its DDL and a shell executable.
 * const libdir = await Deno.makeTempDir();
 * const dir = `${libdir}/mcollective/agent`;
 * await Deno.mkdir(dir, { recursive: true });
 * await Deno.writeTextFile(`${dir}/hello.json`, JSON.stringify({
 *   metadata: {
 *     name: "hello", description: "Greets", author: "ops", license: "MIT",
 *     version: "1.0.0", url: "https://example.net", timeout: 5, provider: "external",
 *   },
 *   actions: [{
 *     action: "greet", description: "Greets", display: "always", input: {},
 *     output: { greeting: { description: "The greeting", display_as: "Greeting", default: null } },
 *   }],
 * }));
 * const agent = `#!/bin/sh\nprintf '{"data": {"greeting": "hi"}}' > "$2"\n`;
 * await Deno.writeTextFile(`${dir}/hello`, agent, { mode: 0o755 });
 *
 * const choria = new ChoriaHarness({ libdir });
 * const reply = await choria.rpc("hello", "greet");
 * assertEquals([reply.statuscode, reply.data], [0, { greeting: "hi" }]);
 * assertEquals((await choria.rpc("hello", "nope")).statuscode, 2);
 * await Deno.remove(libdir, { recursive: true });
 * ```
 *
 * @module
 */

import { setOutputDefaults, validateInputs } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import {
  ACTIVATION_REQUEST,
  DISCOVERY_REPLY,
  DISCOVERY_REQUEST,
  goJson,
  RPC_REQUEST,
  SCHEMA_URLS,
  StatusCode,
} from "./protocol.ts";
import type { DiscoveryFilter } from "./discovery.ts";
import {
  createTemp,
  execute,
  goTempDir,
  type LogLine,
  processPath,
  splitCommand,
} from "./_exec.ts";

export type { LogLine } from "./_exec.ts";

/** DDL names the provider never loads as external agents. */
const DENIED = new Set([
  "rpcutil",
  "choria_util",
  "choria_provision",
  "choria_registry",
  "discovery",
  "scout",
]);

/** Go's GOOS/GOARCH for this machine (`linux_amd64`). */
function goPlatform(): string {
  const arch: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };
  return `${Deno.build.os}_${arch[Deno.build.arch] ?? Deno.build.arch}`;
}

/**
 * Options for a {@linkcode ChoriaHarness}.
 */
export interface HarnessOptions {
  /**
   * Plugin directories (`plugin.choria.agent_provider.mcorpc.libdir`);
   * agents live in `<libdir>/mcollective/agent/`. Give this or `agentDir`.
   *
   * @default {[]}
   */
  libdir?: string | string[];
  /**
   * Directories searched as `<libdir>/mcollective/agent/` would be: handy
   * for an agent kept in its own source tree.
   *
   * @default {[]}
   */
  agentDir?: string | string[];
  /**
   * The server's config file: agents get `CHORIA_EXTERNAL_CONFIG =
   * <its directory>/plugin.d/<agent>`.
   *
   * @default {"/etc/choria/server.conf"}
   */
  configFile?: string;
  /**
   * The node's facts, written to the facts file of each RPC call.
   *
   * @default {{}}
   */
  facts?: Record<string, unknown>;
  /**
   * Where the temp files go, and the agents' cwd.
   *
   * @default {Go's `os.TempDir()`: `$TMPDIR`, else `/tmp`}
   */
  tempDir?: string;
  /**
   * The `PATH` agents get.
   *
   * @default {this process's `PATH`}
   */
  path?: string;
}

/**
 * An agent found under a libdir.
 */
export interface AgentLocation {
  /** `metadata.name` from the DDL (the agent's identity). */
  name: string;
  /** The DDL file. */
  ddlPath: string;
  /** The DDL. */
  ddl: Ddl;
  /** The executable, when one exists (looked up again on every call, as Choria does). */
  executable?: string;
}

/**
 * The reply to one RPC call, as the client would receive it, and what
 * happened on the way.
 */
export interface HarnessReply {
  /** The action (a reply's `action` key can overwrite it, as in Choria). */
  action: string;
  /** The status code. */
  statuscode: number;
  /** The status message. */
  statusmsg: string;
  /** The outputs, with DDL defaults applied. */
  data: unknown;
  /** What the agent printed, as Choria would log it. */
  logs: LogLine[];
  /** Whether the executable ran. */
  ran: boolean;
  /** Its exit code (-1 when a signal ended it), when it ran. */
  exitCode?: number;
  /** Whether it was killed at the timeout. */
  killed: boolean;
  /** The request file as written. */
  requestFile?: string;
  /** The reply file as the agent left it. */
  replyFile?: string;
  /**
   * The reply as the server publishes it: compact, `data` keys sorted, HTML
   * escaped, as Go encodes it.
   */
  published: string;
}

/**
 * The outcome of an activation check.
 */
export interface ActivationOutcome {
  /** Whether Choria would load the agent. */
  activate: boolean;
  /** The warning Choria logs when the check failed. */
  warning?: string;
  /** What the agent printed. */
  logs: LogLine[];
}

/**
 * Extra request fields for {@linkcode ChoriaHarness.rpc}.
 */
export interface RequestFields {
  /**
   * The request's id.
   *
   * @default {32 random hex digits}
   */
  requestid?: string;
  /**
   * The sender's identity.
   *
   * @default {"harness.example.net"}
   */
  senderid?: string;
  /**
   * The caller's id.
   *
   * @default {"choria=harness.mcollective"}
   */
  callerid?: string;
  /**
   * The collective.
   *
   * @default {"mcollective"}
   */
  collective?: string;
  /**
   * Seconds the request lives.
   *
   * @default {60}
   */
  ttl?: number;
  /**
   * When it was sent, in Unix seconds.
   *
   * @default {now}
   */
  msgtime?: number;
}

/** Runs agents as go-choria's external agent provider does. */
export class ChoriaHarness {
  #agentDirs: string[];
  #configDir: string;
  #facts: Record<string, unknown>;
  #tempDir: string | undefined;
  #path: string | undefined;

  /**
   * Makes a harness over `options.libdir`.
   *
   * @param options Where agents live, and what the node looks like.
   */
  constructor(options: HarnessOptions) {
    const list = (value: string | string[] | undefined) =>
      value === undefined ? [] : typeof value === "string" ? [value] : [...value];
    // Absolute, as Choria's are: agents run with the temp dir as their cwd.
    const absolute = (dir: string) =>
      (dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`).replace(/\/+$/, "");
    this.#agentDirs = [
      ...list(options.libdir).map((dir) => `${absolute(dir)}/mcollective/agent`),
      ...list(options.agentDir).map(absolute),
    ];
    if (this.#agentDirs.length === 0) {
      throw new TypeError("A harness needs a libdir or an agentDir");
    }
    const configFile = options.configFile ?? "/etc/choria/server.conf";
    const dir = configFile.includes("/")
      ? configFile.slice(0, configFile.lastIndexOf("/")) || "/"
      : ".";
    this.#configDir = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`.replace(/\/\.$/, "");
    this.#facts = options.facts ?? {};
    this.#tempDir = options.tempDir;
    this.#path = options.path;
  }

  get #temp(): string {
    return this.#tempDir ?? goTempDir();
  }

  /**
   * Every external agent under the libdirs, as the provider finds them.
   */
  async agents(): Promise<AgentLocation[]> {
    const found: AgentLocation[] = [];
    for (const root of this.#agentDirs) {
      let entries: Deno.DirEntry[];
      try {
        entries = [];
        for await (const entry of Deno.readDir(root)) entries.push(entry);
      } catch {
        continue;
      }
      entries.sort((a, b) => a.name < b.name ? -1 : 1);
      for (const entry of entries) {
        let ddlPath: string | undefined;
        let base: string;
        let { isFile, isDirectory } = entry;
        if (entry.isSymlink) {
          try {
            ({ isFile, isDirectory } = await Deno.stat(`${root}/${entry.name}`));
          } catch {
            continue;
          }
        }
        if (isFile && entry.name.endsWith(".json")) {
          ddlPath = `${root}/${entry.name}`;
          base = entry.name.slice(0, -5);
        } else if (isDirectory && entry.name !== "tmp") {
          ddlPath = `${root}/${entry.name}/${entry.name}.json`;
          base = entry.name;
        } else {
          continue;
        }
        if (DENIED.has(base)) continue;
        let ddl: Ddl;
        try {
          ddl = JSON.parse(await Deno.readTextFile(ddlPath));
        } catch {
          continue;
        }
        if (ddl?.metadata?.provider !== "external" || typeof ddl.metadata.name !== "string") {
          continue;
        }
        const location: AgentLocation = { name: ddl.metadata.name, ddlPath, ddl };
        const executable = await findExecutable(ddlPath, ddl.metadata.name);
        if (executable !== undefined) location.executable = executable;
        found.push(location);
      }
    }
    return found;
  }

  /** The agent named `name` (its DDL's `metadata.name`), if there is one. */
  async find(name: string): Promise<AgentLocation | undefined> {
    return (await this.agents()).find((agent) => agent.name === name);
  }

  #env(
    protocol: string,
    agent: string,
    request: string,
    reply: string,
    facts: string,
  ): Record<string, string> {
    const path = this.#path ?? processPath();
    return {
      CHORIA_EXTERNAL_REQUEST: request,
      CHORIA_EXTERNAL_REPLY: reply,
      CHORIA_EXTERNAL_PROTOCOL: protocol,
      CHORIA_EXTERNAL_CONFIG: `${this.#configDir}/plugin.d/${agent}`,
      CHORIA_EXTERNAL_FACTS: facts,
      PATH: path,
    };
  }

  /**
   * Runs the agent's activation check: 2 s, an empty facts file, and
   * `{"activate": bool}` read back. A failed check means "not activated",
   * with the warning Choria logs.
   */
  async activate(name: string): Promise<ActivationOutcome> {
    const agent = await this.find(name);
    if (agent === undefined) {
      return { activate: false, warning: `no external agent named ${name}`, logs: [] };
    }
    if (agent.executable === undefined) {
      return { activate: false, warning: `agent executable for ${name} was not found`, logs: [] };
    }
    const request = goJson({
      $schema: SCHEMA_URLS[ACTIVATION_REQUEST],
      protocol: ACTIVATION_REQUEST,
      agent: agent.name,
    });
    const files = await this.#files(request, "");
    try {
      const run = await execute(
        agent.executable,
        [files.request, files.reply, RPC_REQUEST],
        this.#env(ACTIVATION_REQUEST, agent.name, files.request, files.reply, files.facts),
        this.#temp,
        2000,
      );
      const fail = (error: string): ActivationOutcome => ({
        activate: false,
        warning:
          `External agent ${agent.executable} not activating due to error during activation check: ${error}`,
        logs: run.logs,
      });
      if (run.startError !== undefined) {
        return fail(`executing ${basename(agent.executable)} failed: ${run.startError}`);
      }
      if (run.exitCode !== 0) {
        return fail(`executing ${basename(agent.executable)} failed: exit status ${run.exitCode}`);
      }
      const text = await Deno.readTextFile(files.reply);
      const decoded = goUnmarshal(text, { activate: "bool" });
      if (decoded.error !== undefined) return fail(decoded.error);
      return { activate: decoded.values.activate === true, logs: run.logs };
    } finally {
      await files.remove();
    }
  }

  async #files(request: string, facts: string) {
    const temp = this.#temp;
    const paths = {
      request: await createTemp(temp, "request", request),
      reply: await createTemp(temp, "reply", ""),
      facts: await createTemp(temp, "facts", facts),
    };
    return {
      ...paths,
      remove: () => Promise.all(Object.values(paths).map((p) => Deno.remove(p).catch(() => {}))),
    };
  }

  /**
   * Calls `agent#action` with `data` as a Choria server would, and resolves
   * with the reply the client would receive.
   */
  async rpc(
    agentName: string,
    actionName: string,
    data: Record<string, unknown> = {},
    fields: RequestFields = {},
  ): Promise<HarnessReply> {
    const reply = (
      statuscode: number,
      statusmsg: string,
      extra: Partial<HarnessReply> = {},
    ): HarnessReply => {
      const result = {
        action: actionName,
        statuscode,
        statusmsg,
        data: {},
        logs: [],
        ran: false,
        killed: false,
        ...extra,
      };
      return { ...result, published: publish(result.action, statuscode, statusmsg, result.data) };
    };
    const agent = await this.find(agentName);
    if (agent === undefined) {
      return reply(StatusCode.Aborted, `Cannot find DDL for agent ${agentName}`);
    }
    const action = agent.ddl.actions.find((a) => a.action === actionName);
    if (action === undefined) {
      return reply(StatusCode.UnknownAction, `Unknown action ${actionName} for agent ${agentName}`);
    }
    const where = `${agentName}#${actionName}`;
    const executable = await findExecutable(agent.ddlPath, agent.name);
    if (executable === undefined) {
      return reply(
        StatusCode.Aborted,
        `Cannot call external agent ${where}: agent executable was not found`,
      );
    }
    const { problem } = validateInputs(action, data);
    if (problem !== undefined) {
      return reply(StatusCode.Aborted, `Validation failed: ${problem.message}`);
    }

    const request = goJson({
      $schema: SCHEMA_URLS[RPC_REQUEST],
      protocol: RPC_REQUEST,
      agent: agentName,
      action: actionName,
      requestid: fields.requestid ??
        [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0"))
          .join(""),
      senderid: fields.senderid ?? "harness.example.net",
      callerid: fields.callerid ?? "choria=harness.mcollective",
      collective: fields.collective ?? "mcollective",
      ttl: fields.ttl ?? 60,
      msgtime: fields.msgtime ?? Math.floor(Date.now() / 1000),
      data,
    });
    const files = await this.#files(request, goJson(this.#facts));
    try {
      const run = await execute(
        executable,
        [files.request, files.reply, RPC_REQUEST],
        this.#env(RPC_REQUEST, agent.name, files.request, files.reply, files.facts),
        this.#temp,
        agent.ddl.metadata.timeout * 1000,
      );
      const ran = {
        ran: run.startError === undefined,
        logs: run.logs,
        exitCode: run.exitCode,
        killed: run.killed,
        requestFile: request,
      };
      const name = basename(executable);
      if (run.startError !== undefined) {
        return reply(
          StatusCode.Aborted,
          `Could not call external agent ${where}: executing ${name} failed: ${run.startError}`,
          ran,
        );
      }
      if (run.exitCode !== 0) {
        return reply(
          StatusCode.Aborted,
          `Could not call external agent ${where}: executing ${name} failed: exit status ${run.exitCode}`,
          ran,
        );
      }
      let text: string;
      try {
        text = await Deno.readTextFile(files.reply);
      } catch (error) {
        return reply(
          StatusCode.Aborted,
          `Could not call external agent ${where}: failed to read reply json: ${
            (error as Error).message
          }`,
          ran,
        );
      }
      const withFile = { ...ran, replyFile: text };
      const decoded = goUnmarshal(text, {
        action: "string",
        statuscode: "uint8",
        statusmsg: "string",
        data: "any",
      });
      if (decoded.error !== undefined) {
        return reply(
          StatusCode.Aborted,
          `Could not call external agent ${where}: failed to decode reply json: ${decoded.error}`,
          withFile,
        );
      }
      const v = decoded.values;
      const result = {
        action: typeof v.action === "string" ? v.action : actionName,
        statuscode: typeof v.statuscode === "number" ? v.statuscode : 0,
        statusmsg: typeof v.statusmsg === "string" ? v.statusmsg : "OK",
        data: Object.hasOwn(v, "data") ? (v.data === null ? {} : v.data) : undefined,
      };
      if (result.data === null || typeof result.data !== "object" || Array.isArray(result.data)) {
        const data = result.data === undefined ? {} : result.data;
        const statusmsg = "Could not set reply defaults: reply data is in the wrong format";
        return {
          ...withFile,
          action: result.action,
          statuscode: StatusCode.Aborted,
          statusmsg,
          data,
          published: publish(result.action, StatusCode.Aborted, statusmsg, data),
        };
      }
      setOutputDefaults(action, result.data as Record<string, unknown>);
      return {
        ...withFile,
        ...result,
        published: publish(result.action, result.statuscode, result.statusmsg, result.data),
      };
    } finally {
      await files.remove();
    }
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `<dir>/<name>` if it is a file (links followed), else the multi-arch `<dir>/<name>/<name>-<os>_<arch>`. */
async function findExecutable(ddlPath: string, name: string): Promise<string | undefined> {
  const dir = ddlPath.slice(0, ddlPath.lastIndexOf("/"));
  for (const candidate of [`${dir}/${name}`, `${dir}/${name}/${name}-${goPlatform()}`]) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Sorts object keys at every depth, as Go encodes maps. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return sorted;
}

function publish(action: string, statuscode: number, statusmsg: string, data: unknown): string {
  return goJson({ action, statuscode, statusmsg, data: sortKeys(data) });
}

/**
 * The Go types a struct field of a reply may have, for {@linkcode goUnmarshal}.
 */
export type GoType = "string" | "uint8" | "bool" | "any";

/**
 * Decodes a reply file as Go's `json.Unmarshal` decodes it into a struct:
 * the whole text must be JSON; an object's keys set the struct's fields,
 * matched exactly or else without regard to case, later keys winning;
 * unknown keys are ignored; `null` leaves a field alone; a value of the wrong
 * type is an error (the first one is reported, with Go's words).
 *
 * @example A value Go refuses to unmarshal
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { goUnmarshal } from "@seed/rpc/choria/testing";
 * assertEquals(goUnmarshal('{"StatusCode": 3}', { statuscode: "uint8" }).values, { statuscode: 3 });
 * assertEquals(
 *   goUnmarshal('{"statuscode": 1.0}', { statuscode: "uint8" }).error,
 *   "json: cannot unmarshal number 1.0 into Go struct field Reply.statuscode of type mcorpc.StatusCode",
 * );
 * ```
 */
export function goUnmarshal(
  text: string,
  fields: Record<string, GoType>,
): { values: Record<string, unknown>; error?: string } {
  const values: Record<string, unknown> = {};
  if (text.trim() === "") return { values, error: "unexpected end of JSON input" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { values, error: goSyntaxError(text, error as Error) };
  }
  if (parsed === null) return { values };
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    const kind = Array.isArray(parsed)
      ? "array"
      : typeof parsed === "boolean"
      ? "bool"
      : typeof parsed;
    return { values, error: `json: cannot unmarshal ${kind} into Go value of type mcorpc.Reply` };
  }
  const raw = rawMembers(text);
  let error: string | undefined;
  for (const [key, literal] of raw) {
    const field = Object.hasOwn(fields, key)
      ? key
      : Object.keys(fields).find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined) continue;
    const value = JSON.parse(literal);
    const type = fields[field]!;
    // null leaves a typed field alone; an interface{} field (data) takes it.
    if (value === null && type !== "any") continue;
    const mismatch = (kind: string, goType: string) =>
      error ??=
        `json: cannot unmarshal ${kind} into Go struct field Reply.${field} of type ${goType}`;
    if (type === "any") {
      values[field] = value;
    } else if (type === "string") {
      if (typeof value === "string") values[field] = value;
      else mismatch(jsonKind(value), "string");
    } else if (type === "bool") {
      if (typeof value === "boolean") values[field] = value;
      else mismatch(jsonKind(value), "bool");
    } else if (type === "uint8") {
      if (typeof value === "number" && /^(0|[1-9]\d*)$/.test(literal) && value <= 255) {
        values[field] = value;
      } else {mismatch(
          typeof value === "number" ? `number ${literal}` : jsonKind(value),
          "mcorpc.StatusCode",
        );}
    }
  }
  return error === undefined ? { values } : { values, error };
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  if (typeof value === "boolean") return "bool";
  return typeof value;
}

/** Go's wording for a JSON syntax error, as near as V8's message allows. */
function goSyntaxError(text: string, error: Error): string {
  if (/Unexpected end of JSON input|Unterminated string/.test(error.message)) {
    return "unexpected end of JSON input";
  }
  const position = Number(error.message.match(/position (\d+)/)?.[1] ?? text.search(/\S/));
  if (position >= text.trimEnd().length) return "unexpected end of JSON input";
  const char = text[position] ?? "";
  const start = text.search(/\S/);
  return position === start
    ? `invalid character '${char}' looking for beginning of value`
    : `invalid character '${char}' after top-level value`;
}

/** The top-level members of a JSON object text, with each value's literal text. */
function rawMembers(text: string): [string, string][] {
  const members: [string, string][] = [];
  let i = text.indexOf("{") + 1;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const readString = () => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return text.slice(start, i);
  };
  while (i < text.length) {
    skipSpace();
    if (text[i] === "}") break;
    const key = JSON.parse(readString()) as string;
    skipSpace();
    i++; // the colon
    skipSpace();
    const start = i;
    let depth = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        readString();
        if (depth === 0) break;
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && (c === "," || /\s/.test(c))) break;
      i++;
    }
    members.push([key, text.slice(start, i).trim()]);
    skipSpace();
    if (text[i] === ",") i++;
  }
  return members;
}

/**
 * What a discovery program answered.
 */
export interface DiscoveryOutcome {
  /** The node identities, when discovery worked. */
  nodes?: string[];
  /** The error Choria would show, when it did not. */
  error?: string;
  /** What the program printed. */
  logs: LogLine[];
  /** The request file as written. */
  requestFile: string;
}

/**
 * Options for {@linkcode runDiscoveryProgram}.
 */
export interface DiscoveryProgramOptions {
  /**
   * The filter (missing lists are empty).
   *
   * @default {{}}
   */
  filter?: Partial<DiscoveryFilter>;
  /**
   * The collective.
   *
   * @default {"mcollective"}
   */
  collective?: string;
  /**
   * Federation collectives (`null` is what go-choria sends when there are none).
   *
   * @default {null}
   */
  federations?: string[] | null;
  /**
   * `--do key=value` options.
   *
   * @default {{}}
   */
  options?: Record<string, string>;
  /**
   * `discovery_timeout` in seconds (at least 1).
   *
   * @default {2}
   */
  timeout?: number;
  /**
   * Where the request file goes.
   *
   * @default {Go's `os.TempDir()`: `$TMPDIR`, else `/tmp`}
   */
  tempDir?: string;
  /**
   * The `PATH` the program gets.
   *
   * @default {this process's `PATH`}
   */
  path?: string;
}

/**
 * Runs a discovery command (`plugin.choria.discovery.external.command`, split
 * as a shell would) as Choria's client does: the request file in go-choria's
 * field order, `[words..., request, reply, protocol]`, a cleared environment
 * with four variables, killed at the timeout.
 *
 * @example A discovery program written in sh
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { runDiscoveryProgram } from "@seed/rpc/choria/testing";
 * // Run as `sh -c <script> discover <request> <reply> <protocol>`: "$2" is the reply file.
 * const script = `printf '{"protocol": "io.choria.choria.discovery.v1.external_reply", "nodes": ["web1"]}' > "$2"`;
 * const outcome = await runDiscoveryProgram(["sh", "-c", script, "discover"], { filter: { identity: ["/^web/"] } });
 * assertEquals(outcome.nodes, ["web1"]);
 * assertEquals(JSON.parse(outcome.requestFile).filter.identity, ["/^web/"]);
 * ```
 */
export async function runDiscoveryProgram(
  command: string | string[],
  options: DiscoveryProgramOptions = {},
): Promise<DiscoveryOutcome> {
  const words = typeof command === "string" ? splitCommand(command) : command;
  if (words.length === 0) throw new TypeError("An empty discovery command");
  const timeout = Math.max(1, options.timeout ?? 2);
  const filter = options.filter ?? {};
  const request = goJson({
    protocol: DISCOVERY_REQUEST,
    collective: options.collective ?? "mcollective",
    filter: {
      fact: filter.fact ?? [],
      cf_class: filter.cf_class ?? [],
      agent: filter.agent ?? [],
      identity: filter.identity ?? [],
      compound: filter.compound ?? [],
    },
    federations: options.federations ?? null,
    options: options.options ?? {},
    $schema: SCHEMA_URLS[DISCOVERY_REQUEST],
    timeout,
  });
  const temp = options.tempDir ?? goTempDir();
  const requestPath = await createTemp(temp, "request", request);
  const replyPath = await createTemp(temp, "reply", "");
  const path = options.path ?? processPath();
  try {
    const run = await execute(
      words[0]!,
      [...words.slice(1), requestPath, replyPath, DISCOVERY_REQUEST],
      {
        CHORIA_EXTERNAL_REQUEST: requestPath,
        CHORIA_EXTERNAL_REPLY: replyPath,
        CHORIA_EXTERNAL_PROTOCOL: DISCOVERY_REQUEST,
        PATH: path,
      },
      temp,
      timeout * 1000,
    );
    const name = basename(words[0]!);
    const outcome = (error: string): DiscoveryOutcome => ({
      error,
      logs: run.logs,
      requestFile: request,
    });
    if (run.startError !== undefined) return outcome(`executing ${name} failed: ${run.startError}`);
    if (run.exitCode !== 0) return outcome(`executing ${name} failed: exit status ${run.exitCode}`);
    let reply: { protocol?: unknown; error?: unknown; nodes?: unknown };
    try {
      reply = JSON.parse(await Deno.readTextFile(replyPath));
    } catch (error) {
      return outcome(`could not decode the reply: ${(error as Error).message}`);
    }
    if (typeof reply.error === "string" && reply.error !== "") return outcome(reply.error);
    if (reply.protocol !== DISCOVERY_REPLY) {
      return outcome(
        `invalid response received, expected protocol "${DISCOVERY_REPLY}" got "${
          reply.protocol ?? ""
        }"`,
      );
    }
    const nodes = Array.isArray(reply.nodes) ? reply.nodes.map(String) : [];
    return { nodes, logs: run.logs, requestFile: request };
  } finally {
    await Promise.all([requestPath, replyPath].map((p) => Deno.remove(p).catch(() => {})));
  }
}
