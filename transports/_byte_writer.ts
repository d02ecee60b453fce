/**
 * {@linkcode ByteWriter}: the write side of a byte-stream transport (TCP,
 * TLS, a unix socket, a pair of pipes): frames queued by `send` and written
 * by the burst rule, with backpressure (a high-water mark, a write timeout,
 * a cap on what is unwritten) and a last flush on close.
 *
 * @module
 */

import { CloseCode, type CloseReason, closeReason } from "../protocol/wire/close.ts";
import { ConnectionClosed } from "../protocol/wire/errors.ts";
import { ACCEPTED } from "../protocol/wire/transport.ts";
import { startTimer } from "../protocol/shared/_timer.ts";

/** Microtask turns without a new frame before the rest of a burst is written. */
const QUIET_TURNS = 3;

/** Where a {@linkcode ByteWriter} writes, and what it tells its transport. */
export interface ByteSink {
  /** The bytes that carry `frames`, in order. */
  encode(frames: readonly string[]): Uint8Array;
  /**
   * Writes `bytes`: resolves with how many were taken (the writer writes
   * the rest next), or with nothing when all were.
   */
  write(bytes: Uint8Array): Promise<number | void>;
  /** The other side reads too slowly (write timeout, overflow): close now, without a flush. */
  giveUp(reason: CloseReason): void;
  /** A write failed while the writer was open: the other side is gone. */
  failed(error: unknown): void;
}

/** A {@linkcode ByteWriter}'s options; sizes are in characters (UTF-16 code units). */
export interface ByteWriterOptions {
  /**
   * The first frame of a burst is written at once; else the whole burst
   * waits for the quiet turns.
   */
  eagerFirst: boolean;
  /** Unwritten characters above which `send` waits. */
  writeHighWaterMark: number;
  /** Milliseconds `send` may wait before the writer gives up; 0 waits forever. */
  writeTimeout: number;
  /** Unwritten characters beyond which the writer gives up at once. */
  maxUnsentBytes: number;
}

/**
 * Queues frames and writes them to a {@linkcode ByteSink}, by the burst
 * rule: the first frame of a burst is written at once (`eagerFirst`); the
 * rest of the burst (frames sent a few microtasks apart: the replies to one
 * read, a stream's items) is gathered until QUIET_TURNS microtask turns
 * pass with no new frame, or joins the write in progress. Between two
 * processes on two CPUs, a batch held until it is complete makes the two
 * sides take turns (each idle while the other works); a first frame that
 * leaves at once lets the other side start, while the rest still costs one
 * system call. Over pipes the extra write and wake-up cost more than the
 * overlap gave (see `StreamTransport`), so there the burst waits whole.
 */
export class ByteWriter {
  #sink: ByteSink;
  #limits: ByteWriterOptions;
  #out: string[] = [];
  /** Characters in `#out`, a delimiter each. */
  #queuedChars = 0;
  /** Characters of the write on the wire. */
  #writingChars = 0;
  #writing = false;
  /** A burst's first frame left at once; the rest wait for the microtasks to go quiet. */
  #burst = false;
  /** A flush is waiting for the microtask queue to go quiet. */
  #scheduled = false;
  #quietTurns = 0;
  #seen = 0;
  /** The transport is closing: only its last flush writes. */
  #stopped = false;
  #drained: PromiseWithResolvers<void> | undefined;
  #writeTimer: ReturnType<typeof setTimeout> | undefined;
  #written: PromiseWithResolvers<void> | undefined;

  /** A writer to `sink` within `limits`. */
  constructor(sink: ByteSink, limits: ByteWriterOptions) {
    this.#sink = sink;
    this.#limits = limits;
  }

  /** Characters accepted by `send` and not yet written (a delimiter each). */
  get buffered(): number {
    return this.#queuedChars + this.#writingChars;
  }

  /** A write is in progress. */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Queues `frame`; resolves at once, or once the unwritten characters are
   * back under the high-water mark. The transport refuses frames once closing.
   */
  send(frame: string): Promise<void> {
    const limits = this.#limits;
    if (this.buffered + frame.length > limits.maxUnsentBytes) return this.#overflow();
    this.#out.push(frame);
    this.#queuedChars += frame.length + 1;
    if (!this.#writing && !this.#scheduled) {
      if (!this.#burst && limits.eagerFirst) {
        this.#burst = true;
        this.#flush();
      }
      this.#scheduled = true;
      this.#quietTurns = 0;
      this.#seen = this.#out.length;
      queueMicrotask(this.#whenQuiet);
    }
    if (this.buffered <= limits.writeHighWaterMark) return ACCEPTED;
    if (this.#drained === undefined) {
      this.#drained = Promise.withResolvers<void>();
      if (limits.writeTimeout > 0) {
        this.#writeTimer = startTimer(() => {
          this.#writeTimer = undefined;
          // Waiting for a flush is pointless: the other side is not reading.
          this.#sink.giveUp(
            closeReason(
              CloseCode.WriteTimeout,
              `the other side read nothing for ${limits.writeTimeout} ms`,
            ),
          );
        }, limits.writeTimeout);
      }
    }
    return this.#drained.promise;
  }

  /** The other side has left too much unread: give up now. */
  #overflow(): Promise<void> {
    const reason = closeReason(
      CloseCode.WriteOverflow,
      `the other side left more than ${this.#limits.maxUnsentBytes} bytes unread`,
    );
    this.#sink.giveUp(reason);
    return Promise.reject(new ConnectionClosed(reason));
  }

  /** Stops the writes scheduled by the burst rule: the transport is closing. */
  stop(): void {
    this.#stopped = true;
  }

  /** Writes what is queued now (a close's last flush); true while a write is in progress. */
  flushNow(): boolean {
    if (!this.#writing && this.#out.length > 0) this.#flush();
    return this.#writing;
  }

  /** Resolves once the write in progress, and what joined it, is done. */
  whenWritten(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#written ??= Promise.withResolvers<void>();
    return this.#written.promise;
  }

  /** Rejects the senders waiting for room with `error`; with `drop`, unwritten frames go too. */
  release(error: ConnectionClosed, drop: boolean): void {
    if (drop) {
      this.#out = [];
      this.#queuedChars = 0;
    }
    // Never clearTimeout(undefined): see protocol/peer/outgoing.ts.
    if (this.#writeTimer !== undefined) clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    const drained = this.#drained;
    this.#drained = undefined;
    if (drained !== undefined) {
      drained.reject(error);
      drained.promise.catch(ignore);
    }
  }

  /**
   * Writes the rest of a burst once QUIET_TURNS microtask turns passed with
   * no new frame; the burst is over then (the next frame leaves at once).
   */
  #whenQuiet = (): void => {
    if (this.#out.length !== this.#seen) {
      this.#seen = this.#out.length;
      this.#quietTurns = 0;
    } else if (++this.#quietTurns >= QUIET_TURNS) {
      this.#scheduled = false;
      this.#burst = false;
      if (!this.#writing && !this.#stopped && this.#out.length > 0) this.#flush();
      return;
    }
    queueMicrotask(this.#whenQuiet);
  };

  /** Writes everything queued, gathering what arrives meanwhile into the next write. */
  async #flush(): Promise<void> {
    this.#writing = true;
    const sink = this.#sink;
    try {
      while (this.#out.length > 0) {
        const out = this.#out;
        this.#out = [];
        this.#writingChars = this.#queuedChars;
        this.#queuedChars = 0;
        const bytes = sink.encode(out);
        let offset = 0;
        while (offset < bytes.length) {
          const n = await sink.write(offset === 0 ? bytes : bytes.subarray(offset));
          offset += n ?? bytes.length;
        }
        this.#writingChars = 0;
        if (this.#drained !== undefined && this.buffered <= this.#limits.writeHighWaterMark) {
          if (this.#writeTimer !== undefined) clearTimeout(this.#writeTimer);
          this.#writeTimer = undefined;
          const drained = this.#drained;
          this.#drained = undefined;
          drained.resolve();
        }
      }
    } catch (error) {
      this.#out = [];
      this.#queuedChars = 0;
      this.#writingChars = 0;
      if (!this.#stopped) this.#sink.failed(error);
    } finally {
      this.#writing = false;
      const written = this.#written;
      this.#written = undefined;
      written?.resolve();
    }
  }
}

function ignore(): void {}
