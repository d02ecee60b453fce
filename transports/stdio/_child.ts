/**
 * {@linkcode spawn}: a {@linkcode Peer} over a child process's stdin and
 * stdout; the child's exit ends the peer with its status.
 *
 * @module
 */

import { Peer } from "../../protocol/peer/peer.ts";
import type { PeerOptions } from "../../protocol/peer/peer_options.ts";
import { CloseCode, type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { type StreamOptions, StreamTransport } from "./_stream.ts";
import { framingOption } from "./_framing.ts";

/** Options for {@linkcode spawn}: the child, its framing and limits, and the peer's options. */
export interface SpawnOptions extends StreamOptions, PeerOptions {
  /**
   * The child's stderr: passed through to ours, captured (read it from
   * `ChildPeer.stderr`, or the child may block once the pipe fills), or
   * dropped.
   *
   * @default {"inherit"}
   */
  stderr?: "inherit" | "piped" | "null";
  /**
   * The child's working directory.
   *
   * @default {this process's}
   */
  cwd?: string | URL;
  /**
   * Variables added to the child's environment.
   *
   * @default {none}
   */
  env?: Record<string, string>;
  /**
   * Start the child with only `env`, not this process's environment.
   *
   * @default {false}
   */
  clearEnv?: boolean;
  /**
   * Milliseconds `close` waits for the child to exit after its stdin ends
   * before sending SIGTERM, and again before SIGKILL.
   *
   * @default {2000}
   */
  killAfter?: number;
}

/**
 * How a child's exit reads as a close reason: exit code 0 is the other end
 * closing; any other code or a signal is a failure, and says which.
 */
export function exitReason(status: Deno.CommandStatus): CloseReason {
  if (status.signal !== null) {
    return closeReason(CloseCode.Failed, `the child was killed by ${status.signal}`);
  }
  return closeReason(
    status.success ? CloseCode.Remote : CloseCode.Failed,
    `the child exited with code ${status.code}`,
  );
}

/**
 * A child process and the {@linkcode Peer} over its pipes. Made by
 * {@linkcode spawn}.
 */
export class ChildPeer implements AsyncDisposable {
  /** The peer: call, notify and answer the child through it. */
  readonly peer: Peer;
  /** The transport over the child's stdout and stdin. */
  readonly transport: StreamTransport;
  /** The child process. */
  readonly process: Deno.ChildProcess;
  /** Resolves with the child's exit status once it has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  #stderr: "inherit" | "piped" | "null";
  #killAfter: number;
  #closing: Promise<Deno.CommandStatus> | undefined;
  #reaping: Promise<Deno.CommandStatus> | undefined;

  /** Prefer {@linkcode spawn}. */
  constructor(process: Deno.ChildProcess, options: SpawnOptions, remote: string) {
    this.process = process;
    this.status = process.status;
    this.#stderr = options.stderr ?? "inherit";
    this.#killAfter = options.killAfter ?? 2000;
    const closeTimeout = options.closeTimeout ?? 2000;
    this.transport = new StreamTransport(process.stdout, process.stdin, {
      ...options,
      remote,
      // Its stdout ended: the child is exiting, so end with its status.
      ended: () => exitedWithin(this.status, closeTimeout),
    });
    this.peer = new Peer(this.transport, { ...options, name: options.name ?? remote });
    // A child that exits while something else holds its stdout open.
    this.status.then((status) => {
      const timer = setTimeout(() => this.transport.close(exitReason(status)), closeTimeout);
      this.transport.closed.then(() => clearTimeout(timer));
    });
    // However the peer ends (the child closed its stdout, sent too large a
    // frame...), the child ends too: no process is left running unowned.
    this.peer.closed.then(() => this.#reap());
  }

  /** The child's process id. */
  get pid(): number {
    return this.process.pid;
  }

  /** The child's stderr, when spawned with `stderr: "piped"`. */
  get stderr(): ReadableStream<Uint8Array> {
    if (this.#stderr !== "piped") {
      throw new TypeError('stderr is only readable when spawned with stderr: "piped"');
    }
    return this.process.stderr;
  }

  /** Resolves once the peer is closed (the child exited or `close` was called). */
  get closed(): Promise<void> {
    return this.peer.closed;
  }

  /**
   * Closes the peer, which ends the child's stdin; a child that has not
   * exited `killAfter` ms later gets SIGTERM, and SIGKILL after as long
   * again (as it does when the peer ends by itself). Resolves with its
   * exit status; captured stderr that nobody began reading is released.
   */
  close(reason?: string | CloseReason): Promise<Deno.CommandStatus> {
    this.#closing ??= this.#close(reason);
    return this.#closing;
  }

  async #close(reason?: string | CloseReason): Promise<Deno.CommandStatus> {
    await this.peer.close(reason);
    const status = await this.#reap();
    // Captured stderr nobody read would hold its pipe open.
    if (this.#stderr === "piped" && !this.process.stderr.locked) {
      await this.process.stderr.cancel().catch(() => {});
    }
    return status;
  }

  /** Once the peer is closed: SIGTERM a child still running `killAfter` ms on, then SIGKILL. */
  #reap(): Promise<Deno.CommandStatus> {
    this.#reaping ??= this.#kill();
    return this.#reaping;
  }

  async #kill(): Promise<Deno.CommandStatus> {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await exitedWithin(this.status, this.#killAfter) !== undefined) break;
      try {
        this.process.kill(signal);
      } catch {
        // It exited meanwhile.
      }
    }
    return await this.status;
  }

  /** Closes it (`await using child = spawn(...)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The exit reason if `status` settles within `ms`, else `undefined`. */
async function exitedWithin(
  status: Promise<Deno.CommandStatus>,
  ms: number,
): Promise<CloseReason | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    const exited = await Promise.race([status, late]);
    return exited === undefined ? undefined : exitReason(exited);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts `command` with `args` and returns a {@linkcode ChildPeer}: a
 * {@linkcode Peer} over its stdin and stdout, in the given framing. The
 * child's exit ends the peer: pending calls reject with a
 * `ConnectionClosed` whose reason says the exit code or signal, and
 * `status` has the rest. Deno needs `--allow-run` for `command`.
 *
 * @example A child that serves over its stdio
 * ```ts ignore
 * import { assertEquals } from "@std/assert";
 * import { spawn } from "@seed/rpc/stdio";
 * const child = spawn("deno", ["run", "server.ts"], { framing: "newline" });
 * assertEquals(await child.peer.call("add", { a: 1, b: 2 }), 3);
 * assertEquals((await child.close()).code, 0);
 * ```
 */
export function spawn(
  command: string | URL,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildPeer {
  framingOption(options.framing);
  const stderr = options.stderr ?? "inherit";
  if (stderr !== "inherit" && stderr !== "piped" && stderr !== "null") {
    throw new TypeError(`stderr must be "inherit", "piped" or "null", got '${stderr}'`);
  }
  const process = new Deno.Command(command, {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
  }).spawn();
  const name = String(command).split(/[\\/]/).pop();
  return new ChildPeer(process, options, `${name}[${process.pid}]`);
}
