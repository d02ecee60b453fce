// The `rpc` command run as a subprocess, as a user runs it, with deadlines:
// every process is killed when it outlives its deadline, and every wait for
// its output is bounded, so a hang fails the test instead of the run.

import { waitFor } from "./_helpers.ts";

export const CLI: string = new URL("../cli.ts", import.meta.url).pathname;

/** How a finished `rpc` run ended. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode RpcProcess}. */
export interface RpcProcessOptions {
  /** Pipe stdin (write it with `writeStdin`). @default {false} */
  stdin?: boolean;
  /** Deno permissions. @default {["--allow-net=127.0.0.1", "--allow-read"]} */
  permissions?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** The process is killed (SIGKILL) after this many ms. @default {60000} */
  deadline?: number;
}

/** One `deno run cli.ts ...` process, its output collected as it comes. */
export class RpcProcess {
  stdout = "";
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #status: Promise<Deno.CommandStatus>;
  #killedByDeadline = false;
  #exited = false;

  constructor(args: string[], options: RpcProcessOptions = {}) {
    const deadline = options.deadline ?? 60_000;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(options.permissions ?? ["--allow-net=127.0.0.1", "--allow-read"]),
        CLI,
        ...args,
      ],
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = [
      this.#pump(this.#child.stdout, (text) => this.stdout += text),
      this.#pump(this.#child.stderr, (text) => this.stderr += text),
    ];
    this.#timer = setTimeout(() => {
      this.#killedByDeadline = true;
      this.kill("SIGKILL");
    }, deadline);
    this.#status = this.#child.status.finally(() => {
      clearTimeout(this.#timer);
      this.#exited = true;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, append: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) append(text);
  }

  /**
   * Resolves once `pattern` shows in stdout or stderr; fails after `timeout`
   * ms, or when the process ended without showing it.
   */
  async waitForOutput(
    stream: "stdout" | "stderr",
    pattern: string | RegExp,
    timeout = 30_000,
  ): Promise<string> {
    const found = () => {
      const text = this[stream];
      return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
    };
    await waitFor(() => found() || this.#exited, {
      timeout,
      interval: 10,
      message: `${stream} of 'rpc' to show ${pattern} (${stream}: ${
        JSON.stringify(this[stream].slice(-500))
      })`,
    });
    if (!found()) {
      await Promise.all(this.#pumps);
      if (!found()) {
        throw new Error(`rpc ended without showing ${pattern}: ${this.stdout} ${this.stderr}`);
      }
    }
    return this[stream];
  }

  /** The writer of stdin (for writing it piece by piece). */
  stdinWriter(): WritableStreamDefaultWriter<Uint8Array> {
    return this.#child.stdin.getWriter();
  }

  /** Writes `bytes` to stdin, then closes it. */
  async writeStdin(bytes: Uint8Array | string): Promise<void> {
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
      await writer.close();
    } catch {
      // The process stopped reading (it refused the input): its output says why.
      await writer.abort().catch(() => {});
    }
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Waits for the process to end (it is killed at its deadline) and all its output. */
  async finish(): Promise<Run> {
    const status = await this.#status;
    await Promise.all(this.#pumps);
    if (this.#killedByDeadline) {
      throw new Error(`rpc outlived its deadline; stdout: ${this.stdout} stderr: ${this.stderr}`);
    }
    return { code: status.code, stdout: this.stdout, stderr: this.stderr };
  }
}

/** Runs `rpc ...args` to its end (stdin: none). */
export function rpc(...args: string[]): Promise<Run> {
  return new RpcProcess(args).finish();
}

/** Runs `rpc ...args` with `stdin` piped in. */
export async function rpcWithStdin(stdin: Uint8Array | string, ...args: string[]): Promise<Run> {
  const child = new RpcProcess(args, { stdin: true });
  await child.writeStdin(stdin);
  return await child.finish();
}

/** A running `rpc serve`. */
export interface Served {
  url: string;
  process: RpcProcess;
  /** Sends `signal` and resolves with how it ended. */
  stop(signal?: Deno.Signal): Promise<{ code: number; stderr: string }>;
}

/** `rpc serve ...args` in the background; resolves once it printed its address. */
export async function serve(...args: string[]): Promise<Served> {
  const process = new RpcProcess(["serve", ...args], { deadline: 120_000 });
  let url: string;
  try {
    const stdout = await process.waitForOutput("stdout", /^listening on \S+\n/);
    url = stdout.match(/^listening on (\S+)/)![1]!;
  } catch (error) {
    process.kill("SIGKILL");
    await process.finish().catch(() => {});
    throw error;
  }
  return {
    url,
    process,
    async stop(signal: Deno.Signal = "SIGTERM") {
      process.kill(signal);
      const { code, stderr } = await process.finish();
      return { code, stderr };
    },
  };
}
