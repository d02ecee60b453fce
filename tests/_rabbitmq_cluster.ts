// A private 3-node RabbitMQ cluster on loopback for the cluster tests: three
// Debian rabbitmq-server nodes with their own names, ports on 127.0.0.1, data
// and logs in temp dirs, one Erlang cookie (a shared HOME), their own epmd on
// a port of their own (the other test files' nodes never see them), joined
// with `rabbitmqctl stop_app; join_cluster; start_app` (the same calls made
// with erl_call when installed: no Erlang VM started per command). A node can be killed
// (SIGKILL) and started again; it rejoins by itself. `stop` kills every node,
// stops epmd and removes the files.
//
// Without rabbitmq-server, `startCluster` says why and the tests using it
// are reported as skipped (a failure in CI), as tests/_rabbitmq.ts does.

import {
  answersAmqp,
  canConnect,
  erlBinary,
  erlEval,
  exists,
  findErlCall,
  freePort,
  nodeEnv,
  slimHome,
  vhostsExpression,
  writeNodeConfig,
} from "./_rabbitmq.ts";

const SERVER_CANDIDATES = [
  "/usr/lib/rabbitmq/bin/rabbitmq-server",
  "/usr/local/lib/rabbitmq/bin/rabbitmq-server",
];
const EPMD_CANDIDATES = ["/usr/bin/epmd", "/usr/lib/erlang/bin/epmd"];

/** One node of the cluster. */
export interface ClusterNode {
  /** Its Erlang node name (`seedc…@localhost`). */
  readonly name: string;
  /** Its AMQP port on 127.0.0.1. */
  readonly port: number;
  /** amqp://guest:guest@127.0.0.1:PORT/VHOST. */
  url(vhost?: string): string;
  /** Whether it accepts AMQP connections now. */
  listening(): Promise<boolean>;
  /** Kills it with SIGKILL; resolves once its port is closed. */
  kill(): Promise<void>;
  /** Starts it again with its data; resolves once it is back in the cluster. */
  start(): Promise<void>;
}

/** A running cluster. */
export interface Cluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's URL for `vhost`. */
  urls(vhost?: string): string[];
  /** Creates a vhost (guest gets every permission on it). */
  addVhost(name: string): Promise<void>;
  /** rabbitmqctl against `node` (the first when not given). */
  ctl(args: string[], node?: ClusterNode): Promise<string>;
  /** Milliseconds it took to start and join the three nodes. */
  readonly startMs: number;
  /** Where that time went. */
  readonly startPhases: string;
  /** Kills every node (SIGKILL) and stops epmd, and removes the files. */
  stop(): Promise<void>;
  /** Pids of the cluster's processes still running (nodes, epmd, their helpers). */
  processes(): number[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Pids of the processes whose command line or environment names `home` (only
 * ours: the dir is new): the nodes, epmd and their helpers. With `beam`,
 * the node's Erlang VM whose data is in `beam` only.
 */
function processesOf(home: string, beam?: string): number[] {
  const out = new Deno.Command("ps", {
    args: ["axeww", "-o", "pid=,command="],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const found: number[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.includes(home)) continue;
    if (beam !== undefined && !(line.includes("beam.smp") && line.includes(beam))) continue;
    const pid = Number(line.trim().split(" ", 1)[0]);
    if (pid > 0 && pid !== Deno.pid) found.push(pid);
  }
  return found;
}

async function first(candidates: string[]): Promise<string | undefined> {
  for (const candidate of candidates) if (await exists(candidate)) return candidate;
  return undefined;
}

/** A 3-node cluster, or the reason there is none. */
export async function startCluster(size = 3): Promise<Cluster | string> {
  const server = await first(SERVER_CANDIDATES);
  if (server === undefined) {
    return "no RabbitMQ: install Debian's rabbitmq-server (apt-get install rabbitmq-server)";
  }
  const ctlPath = server.replace(/rabbitmq-server$/, "rabbitmqctl");
  const epmd = await first(EPMD_CANDIDATES) ?? "epmd";
  const began = Date.now();
  const home = await Deno.makeTempDir({ prefix: "seed-rpc-cluster-" });
  // One cookie for the nodes and rabbitmqctl: they find it in the shared HOME.
  const cookie = crypto.randomUUID().replaceAll("-", "").toUpperCase();
  await Deno.writeTextFile(`${home}/.erlang.cookie`, cookie, { mode: 0o600 });
  await Deno.chmod(`${home}/.erlang.cookie`, 0o600);
  const epmdPort = freePort();
  const shared: Record<string, string> = {
    HOME: home,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
  };

  interface Internal {
    node: ClusterNode;
    env: Record<string, string>;
    dir: string;
    distPort: number;
  }
  const internals: Internal[] = [];

  // Every command is bounded: one that hangs is killed after two minutes.
  const run = async (env: Record<string, string>, command: string, args: string[]) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 120_000);
    const out = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output().finally(() => clearTimeout(timer));
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success) throw new Error(`${command} ${args.join(" ")} failed: ${text}`);
    return text;
  };

  const ctlOn = (internal: Internal, args: string[]) =>
    run(internal.env, ctlPath, ["-n", internal.node.name, ...args]);
  const erlCall = await findErlCall();
  /**
   * Erlang `body` on `internal`'s node with erl_call (`booted`: once rabbit
   * runs there), or else the rabbitmqctl command `args`.
   */
  const evalOn = async (internal: Internal, body: string, args: string[], booted: boolean) => {
    if (erlCall === undefined) await ctlOn(internal, args);
    else await erlEval(erlCall, home, internal.distPort, body, booted);
  };
  // What rabbitmqctl stop_app, join_cluster and start_app call on the node.
  const stopApp = (internal: Internal) =>
    evalOn(internal, "ok = rabbit:stop()", ["stop_app"], true);
  const join = (internal: Internal, leader: Internal) =>
    evalOn(
      internal,
      `ok = rabbit_mnesia:join_cluster(binary_to_atom(${erlBinary(leader.node.name)}), disc)`,
      ["join_cluster", leader.node.name],
      false,
    );
  const startApp = (internal: Internal) =>
    evalOn(internal, "ok = rabbit:start()", ["start_app"], false);

  // rabbitmq-server runs from a home with only the apps it needs (see slimHome).
  const slim = await slimHome(server, home);
  const boot = async (internal: Internal): Promise<void> => {
    await run({ ...internal.env, ...slim }, server, ["-detached"]);
    const deadline = Date.now() + 90_000;
    // Up when it answers AMQP (see answersAmqp): no rabbitmqctl await_startup.
    while (!(await answersAmqp(internal.node.port))) {
      if (Date.now() > deadline) {
        throw new Error(
          `RabbitMQ node ${internal.node.name} did not answer AMQP within 90 s (logs: ${internal.dir}/log)`,
        );
      }
      await pause(100);
    }
  };

  for (let i = 0; i < size; i++) {
    const dir = `${home}/node${i}`;
    await Deno.mkdir(dir);
    const port = freePort();
    const name = `seedc${Deno.pid}x${port}@localhost`;
    await writeNodeConfig(dir, port);
    // The node's own files and ports, with the cluster's HOME (cookie) and epmd.
    const distPort = freePort();
    const env: Record<string, string> = {
      ...nodeEnv({ node: name, dir, distPort }),
      ...shared,
    };
    const internal: Internal = {
      dir,
      env,
      distPort,
      node: {
        name,
        port,
        url: (vhost = "/") => `amqp://guest:guest@127.0.0.1:${port}/${encodeURIComponent(vhost)}`,
        listening: () => canConnect(port),
        kill: async () => {
          const pids = processesOf(home, `RABBITMQ_NODENAME=${name} `);
          if (pids.length === 0) throw new Error(`node ${name} is not running`);
          for (const pid of pids) Deno.kill(pid, "SIGKILL");
          const deadline = Date.now() + 30_000;
          while (await canConnect(port) && Date.now() < deadline) await pause(50);
        },
        start: async () => {
          await boot(internal);
        },
      },
    };
    internals.push(internal);
  }

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    for (const pid of processesOf(home)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    try {
      new Deno.Command(epmd, { args: ["-kill"], env: shared, stdout: "null", stderr: "null" })
        .outputSync();
    } catch {
      // no epmd
    }
    try {
      Deno.removeSync(home, { recursive: true });
    } catch {
      // gone
    }
  };
  globalThis.addEventListener("unload", stopSync);

  const phases: string[] = [];
  try {
    let at = Date.now();
    await Promise.all(internals.map(boot));
    phases.push(`boot ${Date.now() - at} ms`);
    // The others join the first one at a time; stopping and starting their
    // apps, which takes most of the time, runs side by side.
    const [leader, ...others] = internals;
    at = Date.now();
    await Promise.all(others.map(stopApp));
    for (const internal of others) await join(internal, leader!);
    // start_app returns once the app has started.
    await Promise.all(others.map(startApp));
    phases.push(`join ${Date.now() - at} ms`);
  } catch (error) {
    stopSync();
    globalThis.removeEventListener("unload", stopSync);
    if (Deno.env.get("CI") === "true") throw error;
    return `the RabbitMQ cluster would not start: ${
      error instanceof Error ? error.message : error
    }`;
  }
  const startMs = Date.now() - began;
  const startPhases = phases.join(", ");

  return {
    nodes: internals.map((internal) => internal.node),
    urls: (vhost = "/") => internals.map((internal) => internal.node.url(vhost)),
    startMs,
    startPhases,
    async addVhost(name: string) {
      if (erlCall !== undefined) {
        await erlEval(erlCall, home, internals[0]!.distPort, vhostsExpression([name]));
        return;
      }
      await ctlOn(internals[0]!, ["add_vhost", name]);
      await ctlOn(internals[0]!, ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]);
    },
    ctl(args: string[], node?: ClusterNode) {
      const internal = internals.find((candidate) => candidate.node === node) ?? internals[0]!;
      return ctlOn(internal, args);
    },
    processes: () => processesOf(home),
    async stop() {
      if (stopped) return;
      // Its data is thrown away: no need to wait for a clean stop (15 s).
      for (const internal of internals) {
        for (const pid of processesOf(home, `RABBITMQ_NODENAME=${internal.node.name} `)) {
          Deno.kill(pid, "SIGKILL");
        }
      }
      stopped = true;
      globalThis.removeEventListener("unload", stopSync);
      await run(shared, epmd, ["-kill"]).catch(() => "");
      // epmd and the nodes' helper processes go a moment later; what stays is killed.
      const deadline = Date.now() + 3_000;
      while (processesOf(home).length > 0 && Date.now() < deadline) await pause(100);
      for (const pid of processesOf(home)) Deno.kill(pid, "SIGKILL");
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}
