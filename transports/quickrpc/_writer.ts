/**
 * {@linkcode BoundedWriter}: the writes of one quickrpc byte stream (a TCP
 * connection, stdout, a child's stdin) go out one after another, with
 * TcpTransport's bounds: above `writeHighWaterMark` unwritten bytes a send
 * waits, for at most `writeTimeout`; beyond `maxUnsentBytes` the stream is
 * cut at once. A peer that never reads cannot grow our memory.
 *
 * @module
 */

import { CloseCode, closeReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed } from "../../protocol/wire/errors.ts";
import { startTimer } from "../../protocol/shared/_timer.ts";

const MiB = 1024 * 1024;
const ACCEPTED: Promise<void> = Promise.resolve();

/** The write bounds of quickrpc's stream transports (TcpTransport's names and defaults). */
export interface QuickRpcWriteOptions {
  /**
   * Unwritten bytes above which `send` waits until the other side reads.
   *
   * @default {1048576}
   */
  writeHighWaterMark?: number;
  /**
   * Milliseconds `send` may wait for the other side to read before the
   * connection is cut; 0 waits forever.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Unwritten bytes beyond which the connection is cut at once
   * (`CloseCode.WriteOverflow`). Keep it above the largest telegram sent.
   *
   * @default {67108864 (64 MiB: 4 × the channel's default maxFrameBytes)}
   */
  maxUnsentBytes?: number;
}

/** Writes to one byte stream in order, bounded; see the module docs. */
export class BoundedWriter {
  #name: string;
  #write: (data: Uint8Array) => Promise<unknown>;
  #cut: (why: ConnectionClosed) => void;
  #mark: number;
  #timeout: number;
  #max: number;
  #queue: Uint8Array[] = [];
  #pending = 0;
  #writing = false;
  #drained: PromiseWithResolvers<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failed: ConnectionClosed | undefined;

  /**
   * @param name The peer's name, for errors.
   * @param write Writes all of `data` (rejects when the stream failed).
   * @param cut Closes the stream, saying why (the transport's reader then sees it end).
   * @param options The bounds.
   */
  constructor(
    name: string,
    write: (data: Uint8Array) => Promise<unknown>,
    cut: (why: ConnectionClosed) => void,
    options: QuickRpcWriteOptions = {},
  ) {
    this.#name = name;
    this.#write = write;
    this.#cut = cut;
    this.#mark = options.writeHighWaterMark ?? MiB;
    this.#timeout = options.writeTimeout ?? 30_000;
    this.#max = options.maxUnsentBytes ?? 64 * MiB;
  }

  /** Why the stream was cut, once it was. */
  get failed(): ConnectionClosed | undefined {
    return this.#failed;
  }

  /** Bytes accepted and not yet written. */
  get bufferedAmount(): number {
    return this.#pending;
  }

  /** Queues `data`; waits while more than the high-water mark is unwritten. */
  write(data: Uint8Array): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#pending + data.length > this.#max) {
      return this.#fail(
        CloseCode.WriteOverflow,
        `the other side left more than ${this.#max} bytes unread`,
      );
    }
    this.#queue.push(data);
    this.#pending += data.length;
    if (!this.#writing) this.#flush();
    if (this.#pending <= this.#mark) return ACCEPTED;
    if (this.#drained === undefined) {
      this.#drained = Promise.withResolvers<void>();
      if (this.#timeout > 0) this.#timer = startTimer(this.#timedOut, this.#timeout);
    }
    return this.#drained.promise;
  }

  #timedOut = (): void => {
    this.#timer = undefined;
    this.#fail(CloseCode.WriteTimeout, `the other side read nothing for ${this.#timeout} ms`)
      .catch(ignore);
  };

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && this.#failed === undefined) {
        const batch = this.#queue;
        this.#queue = [];
        for (const data of batch) {
          await this.#write(data);
          if (this.#failed !== undefined) return;
          this.#pending -= data.length;
        }
        if (this.#drained !== undefined && this.#pending <= this.#mark) {
          clearTimeout(this.#timer);
          this.#timer = undefined;
          const drained = this.#drained;
          this.#drained = undefined;
          drained.resolve();
        }
      }
    } catch (error) {
      this.#fail(CloseCode.Failed, `write failed: ${(error as Error).message}`).catch(ignore);
    } finally {
      this.#writing = false;
    }
  }

  /** Cuts the stream: every waiting and later write is rejected with why. */
  #fail(code: CloseCode, message: string): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    this.#failed = new ConnectionClosed(closeReason(code, `${this.#name}: ${message}`));
    this.#queue = [];
    this.#pending = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.reject(this.#failed);
    drained?.promise.catch(ignore);
    try {
      this.#cut(this.#failed);
    } catch { /* already closed */ }
    return Promise.reject(this.#failed);
  }
}

function ignore(): void {}
