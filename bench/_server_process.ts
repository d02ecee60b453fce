// Starts bench/_server.ts in its own process (pinned to a CPU where the OS
// allows) and reads its port; and what pinning is available.

/** What the server process said about its memory when it stopped (MiB). */
export interface ServerMemory {
  rss_start_mib: number;
  rss_end_mib: number;
  peak_mib: number;
  /** CPU time used from listening to the stop, where /proc tells it. */
  cpu_ms?: number;
}

export interface ServerProcess {
  port: number;
  /** The first line it printed (the socket path of a unix mode). */
  line: string;
  /** Stops it; resolves with the memory it reported. */
  stop(): Promise<ServerMemory | undefined>;
}

/** Where a benchmark's client and server run. */
export interface Pinning {
  /** The command prefix that pins to `cpu` (`taskset -c N`), or none. */
  prefix(cpu: number): string[];
  /** Said in every result line: `"taskset: client cpu 0, server cpu 1"` or why not. */
  readonly note: string;
}

let pinning: Promise<Pinning> | undefined;

/**
 * Client on CPU 0, server on CPU 1, with `taskset` when it exists and the
 * machine has two CPUs; otherwise unpinned (the note says why). Set
 * BENCH_PIN=0 to turn it off.
 */
export function cpuPinning(): Promise<Pinning> {
  return pinning ??= probePinning();
}

async function probePinning(): Promise<Pinning> {
  const none = (note: string): Pinning => ({ prefix: () => [], note });
  if (Deno.env.get("BENCH_PIN") === "0") return none("unpinned (BENCH_PIN=0)");
  if (Deno.build.os !== "linux") return none(`unpinned (no taskset on ${Deno.build.os})`);
  try {
    const probe = await new Deno.Command("taskset", {
      args: ["-c", "1", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!probe.success) return none("unpinned (taskset -c 1 failed: fewer than 2 CPUs?)");
  } catch {
    return none("unpinned (no taskset)");
  }
  return {
    prefix: (cpu) => ["taskset", "-c", String(cpu)],
    note: "taskset: client cpu 0, server cpu 1",
  };
}

/** The CPU servers are pinned to; clients take {@linkcode CLIENT_CPU}. */
export const SERVER_CPU = 1;
export const CLIENT_CPU = 0;

/** Spawns `deno run <args>`, pinned to `cpu` (if given) when pinning is available. */
export async function spawnDeno(
  args: string[],
  cpu: number | undefined,
  io: { stdin: "piped" | "null"; stdout: "piped" },
): Promise<Deno.ChildProcess> {
  const pin = cpu === undefined ? [] : (await cpuPinning()).prefix(cpu);
  const command = [...pin, Deno.execPath(), "run", ...args];
  return new Deno.Command(command[0]!, {
    args: command.slice(1),
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: "inherit",
  }).spawn();
}

/**
 * Starts `mode`; a unix mode takes the socket's `path`, and is allowed only
 * it. `pinned`: on {@linkcode SERVER_CPU} where the OS allows (only when the
 * client is pinned too, to the other CPU).
 */
export async function startServer(
  mode: string,
  path?: string,
  pinned = false,
): Promise<ServerProcess> {
  const permissions = path === undefined
    ? ["--allow-net=127.0.0.1"]
    : [`--allow-net=unix:${path}`, `--allow-read=${path}`, `--allow-write=${path}`];
  const server = new URL("./_server.ts", import.meta.url).pathname;
  const child = await spawnDeno(
    [...permissions, "--allow-run=cat", server, mode, ...(path ? [path] : [])],
    pinned ? SERVER_CPU : undefined,
    { stdin: "piped", stdout: "piped" },
  );
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the benchmark server exited before printing its port");
    text += decoder.decode(value, { stream: true });
  }
  const line = text.slice(0, text.indexOf("\n")).trim();
  return {
    port: Number(line),
    line,
    stop: async () => {
      await child.stdin.close();
      // The rest of its output: its memory, on the last line.
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await child.status;
      const last = text.trim().split("\n").at(-1)!;
      return last.startsWith("{") ? JSON.parse(last) as ServerMemory : undefined;
    },
  };
}

export function ratio(ours: { calls_per_s: number }, base: { calls_per_s: number }): number {
  return Math.round((ours.calls_per_s / base.calls_per_s) * 100) / 100;
}
