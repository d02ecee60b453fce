// The `rpc` command run as a subprocess, as a user runs it, with deadlines:
// every process is killed when it outlives its deadline, and every wait for
// its output is bounded, so a hang fails the test instead of the run. The
// one-shot verbs (`rpc`) run through the CLI's `main` in the test's own
// process instead: a process start per assertion made the CLI tests slow.

import { main, type Output } from "../cli.ts";
import { waitFor, within } from "./_helpers.ts";

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

/**
 * Runs `rpc ...args` to its end through the CLI's `main` in this process
 * (stdin: none): the same output and exit status as the command, without
 * paying a process start per run. Where the process boundary is what a test
 * is about (signals, stdio, permissions, the real stdin), use
 * {@linkcode rpcProcess}.
 */
export function rpc(...args: string[]): Promise<Run> {
  return rpcInProcess(args);
}

/** Like {@linkcode rpc}, with `stdin` as what the command reads from stdin. */
export function rpcWithInput(stdin: string, ...args: string[]): Promise<Run> {
  return rpcInProcess(args, stdin);
}

async function rpcInProcess(args: string[], stdin?: string): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const output: Output = {
    stdout: (line) => stdout += `${line}\n`,
    stderr: (line) => stderr += `${line}\n`,
    readStdin: () => Promise.resolve(stdin ?? ""),
  };
  let code: number;
  try {
    code = await within(main(args, output), 60_000, `rpc ${args.join(" ")}`);
  } catch (error) {
    // What the process would show: the uncaught error, exit status 1.
    code = 1;
    stderr += `error: Uncaught ${error instanceof Error ? error.stack : error}\n`;
  }
  return { code, stdout, stderr };
}

/** Runs `rpc ...args` to its end as its own process (stdin: none). */
export function rpcProcess(...args: string[]): Promise<Run> {
  return new RpcProcess(args).finish();
}

/** Runs `rpc ...args` as its own process with `stdin` piped in. */
export async function rpcWithStdin(stdin: Uint8Array | string, ...args: string[]): Promise<Run> {
  const child = new RpcProcess(args, { stdin: true });
  await child.writeStdin(stdin);
  return await child.finish();
}

/** A running `rpc serve`. */
export interface Served {
  url: string;
  /** Resolves once `pattern` shows in its stdout or stderr (see {@linkcode RpcProcess.waitForOutput}). */
  waitForOutput(stream: "stdout" | "stderr", pattern: string | RegExp): Promise<string>;
  /**
   * Stops it and resolves with how it ended: a process gets `signal`; one in
   * this process is stopped as by a signal (its log says "abort").
   */
  stop(signal?: Deno.Signal): Promise<{ code: number; stderr: string }>;
}

/**
 * `rpc serve ...args` in the background through the CLI's `main` in this
 * process; resolves once it printed its address. {@linkcode serveProcess}
 * runs it as its own process (for signals, and a test's one end-to-end run).
 */
export async function serve(...args: string[]): Promise<Served> {
  const out = { stdout: "", stderr: "" };
  const output: Output = {
    stdout: (line) => out.stdout += `${line}\n`,
    stderr: (line) => out.stderr += `${line}\n`,
    readStdin: () => Promise.resolve(""),
  };
  const abort = new AbortController();
  let ended = false;
  const running = main(["serve", ...args], output, abort.signal)
    .catch((error) => {
      out.stderr += `error: Uncaught ${error instanceof Error ? error.stack : error}\n`;
      return 1;
    })
    .finally(() => ended = true);
  const waitForOutput = async (
    stream: "stdout" | "stderr",
    pattern: string | RegExp,
    timeout = 30_000,
  ) => {
    const found = () =>
      typeof pattern === "string" ? out[stream].includes(pattern) : pattern.test(out[stream]);
    await waitFor(() => found() || ended, {
      timeout,
      interval: 10,
      message: `${stream} of 'rpc serve' to show ${pattern} (${JSON.stringify(out)})`,
    });
    if (!found()) throw new Error(`rpc serve ended without showing ${pattern}: ${out.stderr}`);
    return out[stream];
  };
  const stop = async () => {
    abort.abort();
    const code = await within(running, 60_000, "rpc serve to stop");
    return { code, stderr: out.stderr };
  };
  let url: string;
  try {
    url = (await waitForOutput("stdout", /^listening on \S+\n/)).match(/^listening on (\S+)/)![1]!;
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, waitForOutput, stop };
}

/** `rpc serve ...args` as its own process; resolves once it printed its address. */
export async function serveProcess(...args: string[]): Promise<Served & { process: RpcProcess }> {
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
    waitForOutput: (stream, pattern) => process.waitForOutput(stream, pattern),
    async stop(signal: Deno.Signal = "SIGTERM") {
      process.kill(signal);
      const { code, stderr } = await process.finish();
      return { code, stderr };
    },
  };
}
