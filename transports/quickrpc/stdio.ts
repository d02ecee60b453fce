/**
 * quickrpc's `stdio:` (this process's stdin and stdout; the peer is named
 * `"stdio"`), and a child process spoken to over its stdin and stdout (what
 * the original's Qt-only `qprocess:` does).
 *
 * @module
 */

import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";

/** Reads `readable` into the sink as `name` until it ends. */
async function pump(
  readable: ReadableStream<Uint8Array>,
  name: string,
  sink: QuickRpcSink,
): Promise<unknown> {
  try {
    for await (const chunk of readable) {
      const behind = sink.received(name, chunk);
      if (behind !== undefined) await behind;
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Byte streams in and out, one peer: the base of stdio and a child process. */
export abstract class QuickRpcStreams implements QuickRpcTransport {
  /** The peer's name. */
  readonly name: string;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reader: ReadableStream<Uint8Array> | undefined;
  #reading: Promise<void> | undefined;
  #closing = false;

  /**
   * Names the peer.
   *
   * @param name The peer's name.
   */
  constructor(name: string) {
    this.name = name;
  }

  /** Starts reading `readable` and writing to `writable`. */
  protected start(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    sink: QuickRpcSink,
  ): void {
    this.#writer = writable.getWriter();
    this.#reader = readable;
    this.#reading = pump(readable, this.name, sink).then((error) => {
      this.#writer?.close().catch(() => {});
      this.#writer = undefined;
      sink.ended(this.#closing ? undefined : error);
    });
  }

  /** Opens the streams. */
  abstract open(sink: QuickRpcSink): Promise<void>;

  /** Writes to the peer, unless `receivers` names someone else. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (receivers !== undefined && !receivers.includes(this.name)) return;
    if (this.#writer === undefined) throw new NotRunning(this.name);
    await this.#writer.write(data);
  }

  /** Closes both streams. */
  async close(): Promise<void> {
    this.#closing = true;
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close().catch(() => {});
    await this.#reader?.cancel().catch(() => {});
    await this.#reading;
    await this.stopped();
  }

  /** Called once the streams are closed. */
  protected stopped(): Promise<void> {
    return Promise.resolve();
  }
}

/** quickrpc's `stdio:`: this process's stdin and stdout, the peer named `"stdio"`. */
export class QuickRpcStdio extends QuickRpcStreams {
  /** Names itself `"stdio"`, as the original. */
  constructor() {
    super("stdio");
  }

  /** Starts reading stdin. */
  override open(sink: QuickRpcSink): Promise<void> {
    this.start(Deno.stdin.readable, Deno.stdout.writable, sink);
    return Promise.resolve();
  }
}

/** A child process over its stdin and stdout; stderr is passed through. */
export class QuickRpcChild extends QuickRpcStreams {
  #command: string;
  #args: readonly string[];
  #env: Record<string, string> | undefined;
  #child: Deno.ChildProcess | undefined;

  /**
   * Makes the transport; {@linkcode QuickRpcChild.open} spawns.
   *
   * @param command The program.
   * @param args Its arguments.
   * @param env Extra environment variables.
   */
  constructor(command: string, args: readonly string[] = [], env?: Record<string, string>) {
    super([command, ...args].join(" "));
    this.#command = command;
    this.#args = args;
    this.#env = env;
  }

  /** Spawns the child and starts reading its stdout. */
  override open(sink: QuickRpcSink): Promise<void> {
    const child = new Deno.Command(this.#command, {
      args: [...this.#args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      ...(this.#env ? { env: this.#env } : {}),
    }).spawn();
    this.#child = child;
    this.start(child.stdout, child.stdin, sink);
    return Promise.resolve();
  }

  /** Its exit status, once it has exited. */
  get status(): Promise<Deno.CommandStatus> {
    if (this.#child === undefined) return Promise.reject(new NotRunning(this.name));
    return this.#child.status;
  }

  /** Waits for the child to exit (killed after 2 s). */
  protected override async stopped(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    // Closing stdin asks it to stop; a child that stays is killed.
    const timer = setTimeout(() => {
      try {
        child.kill();
      } catch { /* gone */ }
    }, 2000);
    await child.status;
    clearTimeout(timer);
  }
}
