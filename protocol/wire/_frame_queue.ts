/**
 * A bounded, single-reader queue of frames: the receive side of every
 * transport. Producers `push` (and wait while it is full, which is how
 * backpressure reaches the sender); the one reader iterates it.
 *
 * @module
 */

import type { CloseReason } from "./close.ts";
import { ConnectionClosed } from "./errors.ts";
import { Fifo } from "./_fifo.ts";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** A bounded queue that is also the async iterator of its frames. */
export class FrameQueue<F> implements AsyncIterableIterator<F> {
  /** Frames it holds before `push` starts waiting. */
  readonly highWaterMark: number;
  /** Total size (by `sizeOf`) it holds before `push` starts waiting. */
  readonly highWaterBytes: number;
  #sizeOf: ((frame: F) => number) | undefined;
  #bytes = 0;
  #items = new Fifo<F>();
  #ended = false;
  #endReason: CloseReason | undefined;
  #error: unknown;
  #reader: PromiseWithResolvers<IteratorResult<F>> | undefined;
  #finished = Promise.withResolvers<void>();
  #room: PromiseWithResolvers<void> | undefined;

  /**
   * @param highWaterMark Frames held before `push` waits.
   * @param highWaterBytes Total size held before `push` waits.
   * @param sizeOf The size of a frame (its length, for text).
   */
  constructor(
    highWaterMark = 1024,
    highWaterBytes = Infinity,
    sizeOf?: (frame: F) => number,
  ) {
    this.highWaterMark = highWaterMark;
    this.highWaterBytes = highWaterBytes;
    this.#sizeOf = sizeOf;
  }

  /** Frames waiting to be read. */
  get length(): number {
    return this.#items.length;
  }

  /** The total size of the frames waiting to be read. */
  get bytes(): number {
    return this.#bytes;
  }

  #full(): boolean {
    return this.length > this.highWaterMark || this.#bytes > this.highWaterBytes;
  }

  /** Resolves when the reader has been told the frames ended (after the last one). */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Adds a frame. Returns `undefined` when there is room left, or a promise
   * that resolves when the reader has made room (rejects if the queue ends).
   */
  push(frame: F): Promise<void> | undefined {
    if (this.#ended) {
      const refused = Promise.reject(new ConnectionClosed(this.#endReason));
      // A producer may not wait on it (a frame that came after the end); do
      // not report it as unhandled, which would end a Deno process.
      refused.catch(() => {});
      return refused;
    }
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.resolve({ done: false, value: frame });
      return undefined;
    }
    this.#items.push(frame);
    if (this.#sizeOf !== undefined) this.#bytes += this.#sizeOf(frame);
    if (!this.#full()) return undefined;
    this.#room ??= Promise.withResolvers<void>();
    return this.#room.promise;
  }

  /**
   * No more frames will come. The reader still gets those already queued
   * unless `discard` is set; then the iteration ends, or throws `error` when
   * one is given (a frame over the size limit, say).
   */
  end(reason: CloseReason, discard = false, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endReason = reason;
    this.#error = error;
    if (discard) {
      this.#items.clear();
      this.#bytes = 0;
    }
    if (this.#reader !== undefined && this.length === 0) {
      const reader = this.#reader;
      this.#reader = undefined;
      this.#finish(reader);
    }
    if (this.#room !== undefined) {
      const room = this.#room;
      this.#room = undefined;
      room.reject(new ConnectionClosed(reason));
      // Nobody may be waiting on it; do not report it as unhandled.
      room.promise.catch(() => {});
    }
  }

  /**
   * Takes the next buffered frame without waiting, or returns `undefined`
   * when none is buffered (frames are never `undefined`): a transport's
   * `take()`.
   */
  take(): F | undefined {
    return this.length > 0 ? this.#take() : undefined;
  }

  #take(): F {
    const value = this.#items.shift()!;
    if (this.#sizeOf !== undefined) this.#bytes -= this.#sizeOf(value);
    if (this.#room !== undefined && !this.#full()) {
      const room = this.#room;
      this.#room = undefined;
      room.resolve();
    }
    return value;
  }

  next(): Promise<IteratorResult<F>> {
    if (this.length > 0) return Promise.resolve({ done: false, value: this.#take() });
    if (this.#ended) {
      const last = Promise.withResolvers<IteratorResult<F>>();
      this.#finish(last);
      return last.promise;
    }
    this.#reader = Promise.withResolvers<IteratorResult<F>>();
    return this.#reader.promise;
  }

  #finish(reader: PromiseWithResolvers<IteratorResult<F>>): void {
    this.#finished.resolve();
    if (this.#error === undefined) {
      reader.resolve(DONE);
    } else {
      const error = this.#error;
      this.#error = undefined;
      reader.reject(error);
    }
  }

  /** Leaving a `for await` loop early only stops reading. */
  return(): Promise<IteratorResult<F>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<F> {
    return this;
  }
}
