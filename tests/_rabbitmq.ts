// A RabbitMQ broker for the AMQP tests: the one at $AMQP_URL when set; the
// node scripts/check_all.ts shares between test files (described in
// $SEED_RPC_SHARED_RABBITMQ); otherwise a private node of Debian's
// rabbitmq-server started for this test file alone (own node name, ports on
// 127.0.0.1, data and logs in a temp dir), stopped when the file's tests end.
// Only a private node can be restarted.
//
// Without any, `startBroker` says why, and the tests using it are reported as
// skipped (a failure in CI).
//
// Run as a script, it starts a node, prints one JSON line (the value of
// $SEED_RPC_SHARED_RABBITMQ) and stops the node when its stdin closes.

import { waitFor } from "./_helpers.ts";

const SERVER_CANDIDATES = [
  "/usr/lib/rabbitmq/bin/rabbitmq-server",
  "/usr/local/lib/rabbitmq/bin/rabbitmq-server",
];

/** The variable that hands a running node to the test files (JSON of {@linkcode NodeInfo}). */
export const SHARED_RABBITMQ_ENV = "SEED_RPC_SHARED_RABBITMQ";

/** What it takes to reach and control a running node. */
interface NodeInfo {
  node: string;
  port: number;
  distPort: number;
  /** The node's files; HOME of rabbitmqctl (the Erlang cookie). */
  dir: string;
  ctlPath: string;
}

export interface Broker {
  /** amqp://guest:guest@127.0.0.1:PORT/VHOST (vhost URL-encoded; `/` by default). */
  url(vhost?: string): string;
  /** Whether `restart` works (a node of this file's own). */
  readonly private: boolean;
  /** Whether `addVhosts` and `ctl` work (a node started here or by check_all.ts). */
  readonly controlled: boolean;
  /** Creates a vhost (guest gets every permission on it). */
  addVhost(name: string): Promise<void>;
  /** Creates vhosts (guest gets every permission on them) with one erl_call (or rabbitmqctl) run. */
  addVhosts(names: string[]): Promise<void>;
  /** rabbitmqctl against this node; resolves with its output. */
  ctl(...args: string[]): Promise<string>;
  /** Stops the node (or, `hard`, kills it with SIGKILL) and starts it again with the same data. */
  restart(hard?: boolean): Promise<void>;
  /** Stops the node (SIGKILL: its data is not kept) and removes its files. */
  stop(): Promise<void>;
}

/** Whether `path` is a file. */
export async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** A TCP port on 127.0.0.1 free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Whether something listens on 127.0.0.1:`port`. */
export async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The AMQP 0-9-1 protocol header a client opens with. */
const AMQP_HEADER = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/**
 * Whether a booted broker answers AMQP on 127.0.0.1:`port` (a connection.start
 * method frame comes back). RabbitMQ opens its listeners at the end of its
 * boot, so this is what `rabbitmqctl await_startup` waits for, without
 * starting an Erlang VM for the CLI (seconds of CPU on a busy machine).
 */
export async function answersAmqp(port: number): Promise<boolean> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return false;
  }
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    await conn.write(AMQP_HEADER);
    const frame = new Uint8Array(1);
    return await conn.read(frame) === 1 && frame[0] === 1;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function external(url: string): Broker {
  const base = new URL(url);
  return {
    private: false,
    controlled: false,
    url(vhost = "/") {
      const copy = new URL(base);
      copy.pathname = `/${encodeURIComponent(vhost)}`;
      return copy.href;
    },
    addVhost() {
      return Promise.reject(new Error("AMQP_URL is set: create vhosts on that broker yourself"));
    },
    addVhosts() {
      return Promise.reject(new Error("AMQP_URL is set: create vhosts on that broker yourself"));
    },
    ctl() {
      return Promise.reject(new Error("AMQP_URL is set: no rabbitmqctl for that broker"));
    },
    restart() {
      return Promise.reject(new Error("AMQP_URL is set: that broker cannot be restarted here"));
    },
    stop: () => Promise.resolve(),
  };
}

/** Writes a node's configuration into `dir`: listening on 127.0.0.1:`port`, no plugins, quiet logs. */
export async function writeNodeConfig(dir: string, port: number): Promise<void> {
  await Deno.writeTextFile(`${dir}/enabled_plugins`, "[].\n");
  await Deno.writeTextFile(
    `${dir}/rabbitmq.conf`,
    [
      `listeners.tcp.default = 127.0.0.1:${port}`,
      "loopback_users = none",
      "log.console = false",
      "log.file.level = warning",
      // A small disk must not block publishers in tests.
      "disk_free_limit.absolute = 1MB",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(`${dir}/rabbitmq-env.conf`, "");
}

/** Apps the broker runs without any plugin: these and what their .app files name. */
const CORE_APPS = ["rabbit", "rabbitmq_prelaunch"];

/**
 * A RABBITMQ_HOME in `dir` (symlinks) whose plugins/ holds only the apps the
 * broker needs with no plugin enabled: the scripts put every app in plugins/
 * on the Erlang code path (about 70 in Debian's package), and each module the
 * node loads at boot is looked for along it; with these 20 a node's boot takes
 * about half the CPU (5.8-6.9 -> 2.7-3.0 s). Resolves with the variable that
 * selects it for rabbitmq-server (RABBITMQ_SCRIPTS_DIR), or with none when the
 * installation is not laid out as expected.
 */
export async function slimHome(server: string, dir: string): Promise<Record<string, string>> {
  try {
    const sbin = (await Deno.realPath(server)).replace(/\/[^/]+$/, "");
    const real = sbin.replace(/\/[^/]+$/, "");
    const versions = new Map<string, string>(); // app -> its directory under plugins/
    for await (const entry of Deno.readDir(`${real}/plugins`)) {
      const app = entry.name.match(/^(.+)-[\d.]+$/)?.[1];
      if (app !== undefined && entry.isDirectory) versions.set(app, entry.name);
    }
    const needed = new Set<string>();
    const stack = [...CORE_APPS];
    while (stack.length > 0) {
      const app = stack.pop()!;
      const name = versions.get(app);
      if (name === undefined || needed.has(name)) continue; // an OTP app, or seen
      needed.add(name);
      const text = await Deno.readTextFile(`${real}/plugins/${name}/ebin/${app}.app`);
      for (const key of ["applications", "included_applications"]) {
        const list = text.match(new RegExp(`\\{${key},\\s*\\[([^\\]]*)\\]`))?.[1] ?? "";
        stack.push(...list.split(",").map((item) => item.trim()).filter((item) => item !== ""));
      }
    }
    if (![...needed].some((name) => name.startsWith("rabbit-"))) return {}; // not that layout
    const home = `${dir}/home`;
    await Deno.mkdir(`${home}/sbin`, { recursive: true });
    await Deno.mkdir(`${home}/plugins`);
    for await (const entry of Deno.readDir(sbin)) {
      await Deno.symlink(`${sbin}/${entry.name}`, `${home}/sbin/${entry.name}`);
    }
    for (const name of needed) {
      await Deno.symlink(`${real}/plugins/${name}`, `${home}/plugins/${name}`);
    }
    await Deno.symlink(`${real}/escript`, `${home}/escript`);
    return { RABBITMQ_SCRIPTS_DIR: `${home}/sbin` };
  } catch {
    return {};
  }
}

/** The environment of rabbitmq-server and rabbitmqctl for the node `info` describes. */
export function nodeEnv(
  { node, dir, distPort }: Pick<NodeInfo, "node" | "dir" | "distPort">,
): Record<string, string> {
  return {
    HOME: dir,
    RABBITMQ_NODENAME: node,
    RABBITMQ_BASE: dir,
    RABBITMQ_MNESIA_BASE: `${dir}/mnesia`,
    RABBITMQ_LOG_BASE: `${dir}/log`,
    RABBITMQ_CONFIG_FILE: `${dir}/rabbitmq`,
    RABBITMQ_ADVANCED_CONFIG_FILE: `${dir}/advanced.config`,
    RABBITMQ_CONF_ENV_FILE: `${dir}/rabbitmq-env.conf`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${dir}/enabled_plugins`,
    RABBITMQ_PID_FILE: `${dir}/rabbitmq.pid`,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    ERL_EPMD_ADDRESS: "127.0.0.1",
    // A node (or rabbitmqctl) that dies writes its crash dump here, not into
    // the directory the tests run from.
    ERL_CRASH_DUMP: `${dir}/erl_crash.dump`,
  };
}

/** Where Erlang's erl_call may be (Debian's erlang-base: the first, and the link in /usr/bin). */
const ERL_CALL_CANDIDATES = [
  "/usr/lib/erlang/bin/erl_call",
  "/usr/local/lib/erlang/bin/erl_call",
  "/usr/bin/erl_call",
  "/usr/local/bin/erl_call",
];

/**
 * Erlang's erl_call, when installed: a small C client of a node's distribution
 * port. rabbitmqctl starts an Erlang VM for each command (about 0.9 s of CPU);
 * erl_call evaluates an expression on the node for a few ms.
 */
export async function findErlCall(): Promise<string | undefined> {
  for (const candidate of ERL_CALL_CANDIDATES) if (await exists(candidate)) return candidate;
  return undefined;
}

/** erl_call runs so far (each client needs a node name of its own). */
let erlCalls = 0;

/** `text` as an Erlang binary literal (its UTF-8 bytes: any name, nothing to escape). */
export function erlBinary(text: string): string {
  return `<<${[...new TextEncoder().encode(text)].join(",")}>>`;
}

/**
 * Evaluates the Erlang expressions `body` (comma-separated, no final dot) on
 * the node listening for distribution on 127.0.0.1:`distPort`, with the
 * cookie in `home`. Resolves once they returned; an error rejects. A node
 * that refused the connection, or with `booted` (the default) is still
 * booting (rabbit not started yet), is asked again, for up to 60 s.
 */
export async function erlEval(
  erlCall: string,
  home: string,
  distPort: number,
  body: string,
  booted = true,
): Promise<void> {
  const expression = booted
    ? `case rabbit:is_booted() of true -> ${body}, seed_rpc_ok; false -> seed_rpc_booting end.\n`
    : `${body}, seed_rpc_ok.\n`;
  let last = "";
  const once = async (): Promise<boolean> => {
    const child = new Deno.Command(erlCall, {
      // A name of its own: two clients with one name at once are refused
      // (erl_call's default name, even -r, collided under parallel test files).
      args: [
        "-h",
        `seedrpc${Deno.pid}c${++erlCalls}`,
        "-address",
        `127.0.0.1:${distPort}`,
        "-timeout",
        "120",
        "-e",
      ],
      env: { HOME: home },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(expression));
      await writer.close();
    } catch (error) {
      // erl_call may exit before reading (the node is down, restarting):
      // its output says why, and decides whether to try again.
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    }
    const out = await child.output();
    last = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (out.success && last.includes("{ok, seed_rpc_ok}")) return true;
    if (last.includes("seed_rpc_booting") || last.includes("failed to connect")) return false;
    throw new Error(`erl_call failed: ${last}`);
  };
  try {
    await waitFor(once, { timeout: 60_000, interval: 200, message: "erl_call" });
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("waitFor:")) {
      throw new Error(`erl_call failed: ${last}`);
    }
    throw error;
  }
}

/** rabbitmqctl against the node `info` describes. */
function nodeCtl(info: NodeInfo): (...args: string[]) => Promise<string> {
  const env = nodeEnv(info);
  return async (...args: string[]): Promise<string> => {
    // A node answers AMQP a moment before its boot is over; a command that
    // needs the finished boot says so, and is tried again (for up to 60 s).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const out = await new Deno.Command(info.ctlPath, {
        args: ["-n", info.node, ...args],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (out.success) return text;
      if (!text.includes("requires the 'rabbit' app to be running") || Date.now() > deadline) {
        throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${text}`);
      }
    }
  };
}

/**
 * Creates `names` as vhosts, guest allowed everything on them: with one
 * erl_call when there is one, else with one rabbitmqctl run.
 */
async function addVhosts(
  ctl: (...args: string[]) => Promise<string>,
  info: NodeInfo,
  names: string[],
): Promise<void> {
  const erlCall = await findErlCall();
  if (erlCall !== undefined) {
    await erlEval(erlCall, info.dir, info.distPort, vhostsExpression(names));
    return;
  }
  const dir = info.dir;
  const file = await Deno.makeTempFile({ dir, suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        vhosts: names.map((name) => ({ name })),
        permissions: names.map((vhost) => ({
          user: "guest",
          vhost,
          configure: ".*",
          write: ".*",
          read: ".*",
        })),
      }),
    );
    await ctl("import_definitions", file);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * Erlang that creates `names` as vhosts and gives guest every permission on
 * them, as `rabbitmqctl add_vhost` and `set_permissions` do (the same calls).
 */
export function vhostsExpression(names: string[]): string {
  const acting = erlBinary("seed-rpc-tests");
  const all = erlBinary(".*");
  return names.map((name) =>
    `ok = rabbit_vhost:add(${erlBinary(name)}, ${acting}), ` +
    `ok = rabbit_auth_backend_internal:set_permissions(${erlBinary("guest")}, ${
      erlBinary(name)
    }, ${all}, ${all}, ${all}, ${acting})`
  ).join(", ");
}

/** The node check_all.ts shares (see {@linkcode SHARED_RABBITMQ_ENV}); stop() leaves it running. */
function shared(info: NodeInfo): Broker {
  const ctl = nodeCtl(info);
  return {
    private: false,
    controlled: true,
    url(vhost = "/") {
      return `amqp://guest:guest@127.0.0.1:${info.port}/${encodeURIComponent(vhost)}`;
    },
    addVhost: (name: string) => addVhosts(ctl, info, [name]),
    addVhosts: (names: string[]) => addVhosts(ctl, info, names),
    ctl,
    restart() {
      return Promise.reject(new Error("a shared node cannot be restarted: the test needs its own"));
    },
    stop: () => Promise.resolve(),
  };
}

/** A broker, or the reason there is none. */
export async function startBroker(): Promise<Broker | string> {
  const fromEnv = Deno.env.get("AMQP_URL");
  if (fromEnv) return external(fromEnv);
  const sharedNode = Deno.env.get(SHARED_RABBITMQ_ENV);
  if (sharedNode) return shared(JSON.parse(sharedNode) as NodeInfo);
  const started = await startNode();
  return typeof started === "string" ? started : started.broker;
}

/** A private node of this process (and what it takes to reach it), or why there is none. */
async function startNode(): Promise<{ broker: Broker; info: NodeInfo } | string> {
  let server: string | undefined;
  for (const candidate of SERVER_CANDIDATES) {
    if (await exists(candidate)) {
      server = candidate;
      break;
    }
  }
  if (server === undefined) {
    return "no RabbitMQ: install Debian's rabbitmq-server (apt-get install rabbitmq-server) or set AMQP_URL";
  }
  const ctlPath = server.replace(/rabbitmq-server$/, "rabbitmqctl");
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-rabbitmq-" });
  const port = freePort();
  const distPort = freePort();
  const node = `seedrpc${Deno.pid}x${port}@localhost`;
  const info: NodeInfo = { node, port, distPort, dir, ctlPath };
  await writeNodeConfig(dir, port);
  const env = nodeEnv(info);
  const ctl = nodeCtl(info);
  // rabbitmq-server alone runs from the slim home (rabbitmqctl needs no boot).
  const serverEnv = { ...env, ...await slimHome(server, dir) };

  const boot = async (): Promise<void> => {
    const started = await new Deno.Command(server!, {
      args: ["-detached"],
      env: serverEnv,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (!started.success) throw new Error(`rabbitmq-server -detached exited ${started.code}`);
    await waitFor(() => answersAmqp(port), {
      timeout: 90_000,
      interval: 100,
      message: `RabbitMQ to answer AMQP on 127.0.0.1:${port} (logs: ${dir}/log)`,
    });
  };

  /** The node's OS process, from the pid file it writes at boot; undefined when it has none. */
  const nodePid = async (): Promise<number | undefined> => {
    const text = await Deno.readTextFile(`${dir}/rabbitmq.pid`).catch(() => "");
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  /** Whether process `pid` still exists (Linux: /proc; elsewhere, the port). */
  const alive = async (pid: number): Promise<boolean> => {
    try {
      await Deno.stat(`/proc/${pid}`);
      return true;
    } catch (error) {
      return error instanceof Deno.errors.NotFound ? false : await canConnect(port);
    }
  };

  /** Sends `name` to the node's process: its pid, or undefined when it has none or is gone. */
  const signal = async (name: Deno.Signal): Promise<number | undefined> => {
    const pid = await nodePid();
    if (pid === undefined) return undefined;
    try {
      Deno.kill(pid, name);
      return pid;
    } catch {
      return undefined; // gone already
    }
  };
  /** Resolves once process `pid` (without one: the AMQP port) is gone; rejects after 30 s. */
  const gone = async (pid: number | undefined): Promise<void> => {
    await waitFor(async () => !(pid !== undefined ? await alive(pid) : await canConnect(port)), {
      timeout: 30_000,
      interval: 20,
      message: `RabbitMQ node ${info.node} to be gone`,
    });
  };

  // A graceful stop: SIGTERM, which the node handles as `rabbitmqctl stop`
  // does (it closes its connections, then exits), without starting an Erlang
  // VM for the CLI; then the process is waited for.
  const halt = async (): Promise<void> => {
    const pid = await signal("SIGTERM");
    if (pid === undefined) {
      try {
        await ctl("stop");
      } catch {
        // not running
      }
    }
    await gone(pid);
  };

  // epmd outlives the node; stop it too when no other node uses it.
  const epmdDone = (): void => {
    try {
      const names = new Deno.Command("epmd", {
        args: ["-names"],
        env,
        stdout: "piped",
        stderr: "null",
      })
        .outputSync();
      if (!new TextDecoder().decode(names.stdout).includes("name ")) {
        new Deno.Command("epmd", { args: ["-kill"], env, stdout: "null", stderr: "null" })
          .outputSync();
      }
    } catch {
      // no epmd on the PATH
    }
  };

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    new Deno.Command(ctlPath, { args: ["-n", node, "stop"], env, stdout: "null", stderr: "null" })
      .outputSync();
    epmdDone();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // gone
    }
  };
  globalThis.addEventListener("unload", stopSync);

  try {
    await boot();
  } catch (error) {
    stopSync();
    if (Deno.env.get("CI") === "true") throw error;
    return `RabbitMQ would not start: ${error instanceof Error ? error.message : error}`;
  }

  const broker: Broker = {
    private: true,
    controlled: true,
    url(vhost = "/") {
      return `amqp://guest:guest@127.0.0.1:${port}/${encodeURIComponent(vhost)}`;
    },
    addVhost: (name: string) => addVhosts(ctl, info, [name]),
    addVhosts: (names: string[]) => addVhosts(ctl, info, names),
    ctl,
    async restart(hard = false) {
      if (hard) await gone(await signal("SIGKILL"));
      else await halt();
      await boot();
    },
    async stop() {
      if (stopped) return;
      // Its files are thrown away: no need to wait for a clean stop (2-3 s,
      // at the very end of check_all.ts for the shared node). SIGKILL, then
      // the process is waited for; without a pid, the graceful stop.
      const pid = await signal("SIGKILL");
      if (pid !== undefined) await gone(pid);
      else await halt();
      stopped = true;
      epmdDone();
      globalThis.removeEventListener("unload", stopSync);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return { broker, info };
}

if (import.meta.main) {
  // The node check_all.ts shares: one JSON line out, stopped when stdin closes
  // (check_all.ts ended or died) or on SIGINT/SIGTERM.
  const started = Deno.env.get("AMQP_URL")
    ? "AMQP_URL is set: the test files use that broker"
    : await startNode();
  if (typeof started === "string") {
    console.log(started);
  } else {
    const stop = Promise.withResolvers<void>();
    Deno.addSignalListener("SIGINT", stop.resolve);
    Deno.addSignalListener("SIGTERM", stop.resolve);
    console.log(JSON.stringify(started.info));
    (async () => {
      for await (const _ of Deno.stdin.readable) {
        // read to the end
      }
      stop.resolve();
    })();
    await stop.promise;
    await started.broker.stop();
    Deno.exit(0);
  }
}
