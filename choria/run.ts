/**
 * Running an agent: {@linkcode runAgent} for the executable, and
 * {@linkcode respond} for one request without files.
 *
 * What {@linkcode runAgent} does, following the protocol (and not the
 * helper libraries' slips):
 *
 * - The message type comes from `CHORIA_EXTERNAL_PROTOCOL` (Choria passes
 *   the RPC protocol in argv[3] even for activation checks), else from the
 *   request's `protocol`.
 * - The request comes from `CHORIA_EXTERNAL_REQUEST`, else argv[1], else
 *   stdin; the reply goes to `CHORIA_EXTERNAL_REPLY` (the existing file,
 *   truncated), else argv[2], else stdout. Exactly one reply, then exit 0.
 * - Requests are checked against the protocol's schema (ajv, compiled once).
 * - Status codes: unknown action 2, missing input 3, invalid input 4,
 *   handler exception 5 (its message kept), `ctx.abort()` 1; success writes
 *   `statusmsg: "OK"` and always a `data` object, with output defaults.
 * - An activation request is answered `{"activate": bool}`; an inactive
 *   agent refuses RPC with status 1 and says so.
 * - Half a second before the DDL timeout, `ctx.signal` aborts and the agent
 *   replies with status 1, rather than being killed without a reply.
 * - The invocation is one delivery on the library's one dispatch path (a
 *   {@linkcode Peer} over a one-request channel): the agent's interceptors,
 *   its fallback and latency stats apply as on any wire, and the DDL's
 *   validation runs as a contract's does, inside the interceptors.
 *
 * @module
 */

import { Peer, type PeerStats } from "./_core.ts";
import { ACTIVATE_METHOD, ChoriaCodec } from "./_codec.ts";
import { InvocationChannel } from "./_invocation.ts";
import { getEnv, readRequest, writeReply } from "./_io.ts";
import { peerLogger, Served } from "./_served.ts";
import type { Agent } from "./agent.ts";
import { readConfig, readFacts } from "./config.ts";
import { AgentLog } from "./log.ts";

/**
 * Everything one invocation has to work with, read from the environment by
 * {@linkcode runAgent}, or given directly (in tests).
 */
export interface Invocation {
  /** `$CHORIA_EXTERNAL_PROTOCOL`, when set. */
  protocol?: string;
  /** The request file's text. */
  request: string;
  /** The node's facts. */
  facts?: Record<string, unknown>;
  /** The agent's configuration. */
  config?: Record<string, string>;
  /** Where the agent logs. */
  log?: AgentLog;
  /**
   * Milliseconds until the action must have replied.
   *
   * @default {the DDL timeout less 500 ms}
   */
  deadline?: number;
  /**
   * Told the dispatch counters once the reply is made, with the handler's
   * latency (measured only when this is given).
   *
   * @default {undefined}
   */
  stats?: (stats: PeerStats) => void;
}

/**
 * Answers one request: the reply file's text. This is {@linkcode runAgent}
 * without the files and the environment.
 *
 * The invocation is a one-delivery channel read by a {@linkcode Peer}: the
 * request file decodes to one message, the action runs through the one
 * dispatch path (the deadline, the activation check, the agent's
 * interceptors, then the DDL's validation and the action), and the reply
 * message encodes to the reply file. An error code of 0 or more is a Choria
 * status; -32601 answers 2, -32602 answers 4, -32002 answers 1, any other 5.
 *
 * @example Answering one request without files
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { action, defineAgent, respond } from "@seed/rpc/choria";
 * const agent = defineAgent({
 *   metadata: { name: "t", description: "t", author: "t", license: "MIT", version: "1", url: "u", timeout: 2 },
 *   actions: { ping: action({ description: "ping", run: () => ({ pong: true }) }) },
 * });
 * const request = {
 *   $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
 *   protocol: "io.choria.mcorpc.external.v1.rpc_request",
 *   agent: "t", action: "ping", requestid: "1", senderid: "s", callerid: "c",
 *   collective: "mcollective", ttl: 60, msgtime: 0, data: {},
 * };
 * const reply = await respond(agent, { request: JSON.stringify(request) });
 * assertEquals(JSON.parse(reply), { statuscode: 0, statusmsg: "OK", data: { pong: true } });
 * ```
 */
export async function respond(agent: Agent, invocation: Invocation): Promise<string> {
  const log = invocation.log ?? new AgentLog();
  const codec = new ChoriaCodec(invocation.protocol, log);
  const channel = new InvocationChannel(invocation.request, codec, log);
  const served = new Served(agent, invocation, log);
  const options = {
    latency: invocation.stats !== undefined,
    logger: peerLogger(log),
    name: agent.name,
  };
  // An activation check is dispatched too, without the action's interceptors.
  const peer = new Peer(
    channel,
    codec.activation ? { ...options, handlers: { [ACTIVATE_METHOD]: served.activation } } : {
      ...options,
      handlers: served.handlers(),
      fallback: served.fallback,
      interceptors: served.interceptors(),
    },
  );
  try {
    const reply = await channel.reply;
    invocation.stats?.(peer.stats());
    return reply;
  } finally {
    await peer.close();
  }
}

/**
 * Options for {@linkcode runAgent}; the defaults are the process's own.
 */
export interface RunAgentOptions {
  /**
   * Command-line arguments.
   *
   * @default {Deno.args}
   */
  args?: string[];
  /**
   * Reads an environment variable (`undefined` when not permitted).
   *
   * @default {Deno.env.get}
   */
  env?: (name: string) => string | undefined;
  /**
   * Exit the process when done.
   *
   * @default {true}
   */
  exit?: boolean;
  /** Where to log. */
  log?: AgentLog;
}

/**
 * Runs `agent` as Choria runs an external agent's executable: reads the
 * request, writes exactly one reply, and exits 0. Call it from the
 * executable's entry; it resolves only when `exit` is false.
 *
 * Exit status 1 means no reply could be written (the reply file is not
 * writable); the reason goes to stderr.
 *
 * @example The main module of an agent executable
 * ```ts ignore
 * import { runAgent } from "@seed/rpc/choria";
 * import { parrot } from "./parrot.ts";
 * await runAgent(parrot);
 * ```
 */
export async function runAgent(agent: Agent, options: RunAgentOptions = {}): Promise<void> {
  const env = options.env ?? getEnv;
  const args = options.args ?? Deno.args;
  const log = options.log ?? new AgentLog();
  // The early reply covers reading the input too: it must end before then.
  const deadline = agent.definition.metadata.timeout * 1000 - 500 - performance.now();
  const left = () => Math.max(0, deadline - performance.now());
  const reply = await respond(agent, {
    protocol: env("CHORIA_EXTERNAL_PROTOCOL"),
    request: await readRequest(env("CHORIA_EXTERNAL_REQUEST") || args[0], log, left()),
    config: await readConfig(
      env("CHORIA_EXTERNAL_CONFIG"),
      agent.name,
      (m) => log.warn(m),
      left(),
    ),
    facts: await readFacts(env("CHORIA_EXTERNAL_FACTS"), (m) => log.warn(m), left()),
    log,
  });
  const status = await writeReply(env("CHORIA_EXTERNAL_REPLY") || args[1], reply, log);
  if (options.exit !== false) Deno.exit(status);
}
