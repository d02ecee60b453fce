/**
 * A bounded, single-reader queue of frames: the receive side of every
 * transport. Producers `push` (and wait while it is full, which is how
 * backpressure reaches the sender); the one reader iterates it.
 *
 * @module
 */

import { ConnectionClosed } from "../protocol/errors.ts";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** A bounded queue that is also the async iterator of its frames. */
export class FrameQueue<F> implements AsyncIterableIterator<F> {
  /** Frames it holds before `push` starts waiting. */
  readonly highWaterMark: number;
  #items: F[] = [];
  #head = 0;
  #ended = false;
  #endReason = "connection closed";
  #reader: PromiseWithResolvers<IteratorResult<F>> | undefined;
  #room: PromiseWithResolvers<void> | undefined;

  constructor(highWaterMark = 1024) {
    this.highWaterMark = highWaterMark;
  }

  /** Frames waiting to be read. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether {@linkcode FrameQueue.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Adds a frame. Returns `undefined` when there is room left, or a promise
   * that resolves when the reader has made room (rejects if the queue ends).
   */
  push(frame: F): Promise<void> | undefined {
    if (this.#ended) return Promise.reject(new ConnectionClosed(this.#endReason));
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.resolve({ done: false, value: frame });
      return undefined;
    }
    this.#items.push(frame);
    if (this.length <= this.highWaterMark) return undefined;
    this.#room ??= Promise.withResolvers<void>();
    return this.#room.promise;
  }

  /**
   * No more frames will come. The reader still gets those already queued
   * unless `discard` is set.
   */
  end(reason = "connection closed", discard = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endReason = reason;
    if (discard) {
      this.#items = [];
      this.#head = 0;
    }
    if (this.#reader !== undefined && this.length === 0) {
      const reader = this.#reader;
      this.#reader = undefined;
      reader.resolve(DONE);
    }
    if (this.#room !== undefined) {
      const room = this.#room;
      this.#room = undefined;
      room.reject(new ConnectionClosed(reason));
      // Nobody may be waiting on it; do not report it as unhandled.
      room.promise.catch(() => {});
    }
  }

  next(): Promise<IteratorResult<F>> {
    if (this.length > 0) {
      const value = this.#items[this.#head]!;
      this.#items[this.#head++] = undefined as F;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (this.#room !== undefined && this.length <= this.highWaterMark) {
        const room = this.#room;
        this.#room = undefined;
        room.resolve();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#ended) return Promise.resolve(DONE);
    this.#reader = Promise.withResolvers<IteratorResult<F>>();
    return this.#reader.promise;
  }

  /** Leaving a `for await` loop early only stops reading. */
  return(): Promise<IteratorResult<F>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<F> {
    return this;
  }
}
