// Starts bench/_server.ts in its own process and reads its port.

export interface ServerProcess {
  port: number;
  /** The first line it printed (the socket path of a unix mode). */
  line: string;
  stop(): Promise<void>;
}

/** Starts `mode`; a unix mode takes the socket's `path`, and is allowed only it. */
export async function startServer(mode: string, path?: string): Promise<ServerProcess> {
  const permissions = path === undefined
    ? ["--allow-net=127.0.0.1"]
    : [`--allow-net=unix:${path}`, `--allow-read=${path}`, `--allow-write=${path}`];
  const server = new URL("./_server.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, server, mode, ...(path === undefined ? [] : [path])],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the benchmark server exited before printing its port");
    text += decoder.decode(value, { stream: true });
  }
  return {
    port: Number(text.trim()),
    line: text.trim(),
    stop: async () => {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}

export function ratio(ours: { calls_per_s: number }, base: { calls_per_s: number }): number {
  return Math.round((ours.calls_per_s / base.calls_per_s) * 100) / 100;
}
