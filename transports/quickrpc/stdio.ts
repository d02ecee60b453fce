/**
 * quickrpc's `stdio:` (this process's stdin and stdout; the peer is named
 * `"stdio"`), and a child process spoken to over its stdin and stdout (what
 * the original's Qt-only `qprocess:` does).
 *
 * @module
 */

import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";
import { BoundedWriter, type QuickRpcWriteOptions } from "./_writer.ts";

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
  #bounded: BoundedWriter | undefined;
  #reader: ReadableStream<Uint8Array> | undefined;
  #reading: Promise<void> | undefined;
  #closing = false;
  #options: QuickRpcWriteOptions | undefined;

  /**
   * Names the peer.
   *
   * @param name The peer's name.
   * @param options The write bounds: a peer that reads nothing is cut.
   */
  constructor(name: string, options?: QuickRpcWriteOptions) {
    this.name = name;
    this.#options = options;
  }

  /** Starts reading `readable` and writing to `writable`. */
  protected start(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    sink: QuickRpcSink,
  ): void {
    const writer = writable.getWriter();
    this.#writer = writer;
    // Cut: writes fail from then on (a child sees its stdin end).
    const bounded = new BoundedWriter(this.name, (data) => writer.write(data), () => {
      writer.abort().catch(() => {});
    }, this.#options);
    this.#bounded = bounded;
    this.#reader = readable;
    this.#reading = pump(readable, this.name, sink).then((error) => {
      this.#writer?.close().catch(() => {});
      this.#writer = undefined;
      this.#bounded = undefined;
      sink.ended(this.#closing ? undefined : bounded.failed ?? error);
    });
  }

  /** Opens the streams. */
  abstract open(sink: QuickRpcSink): Promise<void>;

  /** Writes to the peer, unless `receivers` names someone else. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (receivers !== undefined && !receivers.includes(this.name)) return;
    if (this.#bounded === undefined) throw new NotRunning(this.name);
    await this.#bounded.write(data);
  }

  /** Closes both streams. */
  async close(): Promise<void> {
    this.#closing = true;
    const writer = this.#writer;
    this.#writer = undefined;
    this.#bounded = undefined;
    // Not awaited alone: a write stuck in a pipe nobody reads would hold it forever.
    const closing = writer?.close().catch(() => {});
    await this.#reader?.cancel().catch(() => {});
    // Together: a child that stays after its stdin ends is killed, which ends its
    // stdout and fails a stuck write.
    await Promise.all([closing, this.#reading, this.stopped()]);
  }

  /** Called once the streams are closed. */
  protected stopped(): Promise<void> {
    return Promise.resolve();
  }
}

/** quickrpc's `stdio:`: this process's stdin and stdout, the peer named `"stdio"`. */
export class QuickRpcStdio extends QuickRpcStreams {
  /**
   * Names itself `"stdio"`, as the original.
   *
   * @param options The write bounds of stdout.
   */
  constructor(options?: QuickRpcWriteOptions) {
    super("stdio", options);
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
   * @param options The write bounds of its stdin.
   */
  constructor(
    command: string,
    args: readonly string[] = [],
    env?: Record<string, string>,
    options?: QuickRpcWriteOptions,
  ) {
    super([command, ...args].join(" "), options);
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

  /** Waits for the child to exit (killed 2 s after close began). */
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
