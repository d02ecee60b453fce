/**
 * quickrpc's `restart:<secs>:<sub>`: a transport that is opened again
 * `<secs>` after it failed to open or stopped, until closed (or
 * `maxRestarts` reopenings were tried).
 *
 * @module
 */

import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";

/** Options for {@linkcode QuickRpcRestart}. */
export interface QuickRpcRestartOptions {
  /**
   * Reopenings tried in a row without one that stayed up; then it stops.
   *
   * @default {Infinity}
   */
  maxRestarts?: number;
  /** Told of each failure and reopening (for logs and tests). */
  onRestart?: (event: { attempt: number; error?: unknown; opened: boolean }) => void;
}

/** quickrpc's `restart:` transport. */
export class QuickRpcRestart implements QuickRpcTransport {
  /** The wrapped transport's name. */
  readonly name: string;
  #sub: QuickRpcTransport;
  #ms: number;
  #max: number;
  #onRestart: QuickRpcRestartOptions["onRestart"];
  #sink: QuickRpcSink | undefined;
  #up = false;
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #opening: Promise<void> | undefined;

  /**
   * Wraps `sub`.
   *
   * @param sub The transport to keep open.
   * @param seconds The pause before each reopening.
   * @param options A bound on reopenings, and an observer.
   */
  constructor(sub: QuickRpcTransport, seconds: number, options: QuickRpcRestartOptions = {}) {
    this.#sub = sub;
    this.name = sub.name;
    this.#ms = seconds * 1000;
    this.#max = options.maxRestarts ?? Infinity;
    this.#onRestart = options.onRestart;
  }

  /** Whether the wrapped transport is up now. */
  get up(): boolean {
    return this.#up;
  }

  /** Opens the wrapped transport; a failure is retried later, never thrown. */
  open(sink: QuickRpcSink): Promise<void> {
    this.#sink = sink;
    this.#opening = this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined) return;
    try {
      await this.#sub.open({
        received: (sender, data, whole) => sink.received(sender, data, whole),
        ended: (error) => {
          this.#up = false;
          if (this.#sink !== undefined) {
            this.#onRestart?.({ attempt: this.#attempts, error, opened: false });
            this.#schedule();
          }
        },
      });
    } catch (error) {
      this.#onRestart?.({ attempt: this.#attempts, error, opened: false });
      this.#schedule();
      return;
    }
    if (this.#sink === undefined) {
      await this.#sub.close();
      return;
    }
    this.#up = true;
    this.#attempts = 0;
    this.#onRestart?.({ attempt: this.#attempts, opened: true });
  }

  #schedule(): void {
    if (this.#sink === undefined || this.#timer !== undefined) return;
    if (this.#attempts >= this.#max) {
      const sink = this.#sink;
      this.#sink = undefined;
      sink.ended(new Error(`${this.name}: gave up after ${this.#attempts} restarts`));
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#attempts++;
      this.#opening = this.#open();
    }, this.#ms);
  }

  /** Sends through the wrapped transport; rejects while it is down. */
  send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (!this.#up) return Promise.reject(new NotRunning(this.name));
    return this.#sub.send(data, receivers);
  }

  /** Stops restarting and closes the wrapped transport. */
  async close(): Promise<void> {
    const sink = this.#sink;
    this.#sink = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#opening;
    this.#up = false;
    await this.#sub.close();
    sink?.ended();
  }
}
