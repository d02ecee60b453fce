/**
 * The caller's side of a stream call: the `AsyncIterable` that
 * `peer.stream()` returns. It buffers at most its window of items (the
 * producer sends no more than the credit granted) and grants more credit
 * as its reader takes them, half a window at a time. Leaving the loop
 * (`break`, `return()`) cancels the call, so the handler's iterator is
 * returned on the other side.
 *
 * Internal to the peer; `peer.stream()` is the public face.
 *
 * @module
 */

import { ErrorCode, RemoteError, RpcError, Unsupported } from "../wire/errors.ts";
import { CALL_METHOD, STREAM_METHOD } from "../dialects/jsonrpc_stream.ts";

/** What a consumer needs from the call that feeds it. */
export interface StreamSource {
  /** Tells the producer it may send `credit` more items. */
  grant(credit: number): void;
}

/**
 * The items of a stream call, as {@linkcode Peer.stream} returns them: an
 * async iterator whose end value is the handler's return value. Leaving a
 * `for await` loop, or calling `return()`, cancels the call.
 *
 * @typeParam T The item type you expect (not checked).
 * @example Reading items and the end value by hand
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, type StreamReader } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: {
 *     async *pages() {
 *       yield "page 1";
 *       return { total: 1 };
 *     },
 *   },
 * });
 * const client = new Peer(b);
 * const pages: StreamReader<string> = client.stream("pages");
 * assertEquals(await pages.next(), { done: false, value: "page 1" });
 * assertEquals(await pages.next(), { done: true, value: { total: 1 } });
 * await client.close();
 * await server.closed;
 * ```
 */
export interface StreamReader<T> extends AsyncIterableIterator<T> {
  /** The next item; `{ done: true, value }` carries the handler's return value. */
  next(): Promise<IteratorResult<T>>;
  /** Stops reading and cancels the call (the handler's iterator is returned). */
  return(value?: unknown): Promise<IteratorResult<T>>;
}

/** The window when the caller gives none: items buffered at most. */
export const DEFAULT_CREDIT = 256;

/** The window when the caller gives none, on channels that send items several to a frame. */
export const BATCHED_CREDIT = 64;

/** The end of a stream: the handler's return value, or why it failed. */
type End = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The items of one stream call, as an async iterator.
 *
 * @typeParam T The item type you expect (not checked).
 */
export class StreamConsumer<T> implements StreamReader<T> {
  /** The window: items the producer may send before more credit. */
  readonly window: number;
  /** Aborts when the reader stops or the caller's signal aborts: it cancels the call. */
  readonly signal: AbortSignal;
  #method: string;
  #source: StreamSource | undefined;
  #items: unknown[] = [];
  #head = 0;
  /** Items taken since credit was last granted. */
  #taken = 0;
  /** Items the producer may still send: the window, plus grants, less arrivals. */
  #allowed: number;
  /** Reads waiting for an item, oldest first (several when `next()` is called without awaiting). */
  #waiters: PromiseWithResolvers<IteratorResult<T>>[] = [];
  #end: End | undefined;
  #stopped = false;
  #controller = new AbortController();

  /**
   * @param method The stream method, for error messages.
   * @param window Items the producer may send before more credit.
   * @param signal The caller's signal, if any.
   */
  constructor(method: string, window: number, signal: AbortSignal | undefined) {
    this.#method = method;
    this.window = window;
    this.#allowed = window;
    this.signal = signal === undefined
      ? this.#controller.signal
      : AbortSignal.any([signal, this.#controller.signal]);
  }

  /** The call is sent: credit goes to `source`. */
  bind(source: StreamSource): void {
    this.#source = source;
  }

  /** Follows the call's final reply: the end of the items. */
  follow(reply: Promise<unknown>): void {
    reply.then(this.#finish, this.#fail);
  }

  /** One item arrived. */
  push(item: unknown): void {
    if (this.#stopped) return;
    if (--this.#allowed < 0) return this.#overrun();
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#took();
      waiter.resolve({ done: false, value: item as T });
    } else {
      this.#items.push(item);
    }
  }

  /** The next item, waiting for it; the end is the handler's return value or error. */
  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      }
      this.#took();
      return Promise.resolve({ done: false, value });
    }
    if (this.#stopped) return Promise.resolve({ done: true, value: undefined });
    const end = this.#end;
    if (end !== undefined) {
      this.#stopped = true;
      return end.ok ? Promise.resolve({ done: true, value: end.value }) : Promise.reject(end.error);
    }
    const waiter = Promise.withResolvers<IteratorResult<T>>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** Stops reading: the call is cancelled (the handler's iterator is returned). */
  return(value?: unknown): Promise<IteratorResult<T>> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#items = [];
      this.#head = 0;
      if (this.#end === undefined) {
        this.#controller.abort(
          new DOMException(`The reader of stream '${this.#method}' stopped`, "AbortError"),
        );
      }
    }
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ done: true, value: undefined });
    return Promise.resolve({ done: true, value });
  }

  /** Itself: one reader. */
  [Symbol.asyncIterator](): StreamReader<T> {
    return this;
  }

  #took(): void {
    if (++this.#taken >= Math.max(1, this.window >> 1) && this.#end === undefined) {
      this.#allowed += this.#taken;
      this.#source?.grant(this.#taken);
      this.#taken = 0;
    }
  }

  #finish = (value: unknown): void => this.#settle({ ok: true, value });

  #fail = (error: unknown): void =>
    this.#settle({ ok: false, error: refusedExtension(error, this.#method, "streams") });

  /**
   * The producer sent more than its credit: what is buffered is dropped, the
   * call is cancelled, and the reader gets the error (memory stays bounded
   * by the window whatever the remote side does).
   */
  #overrun(): void {
    const error = new RpcError(
      ErrorCode.InvalidRequest,
      `stream '${this.#method}': the remote side sent more items than the credit it was granted`,
    );
    this.#items = [];
    this.#head = 0;
    this.#settle({ ok: false, error });
    this.#controller.abort(error);
  }

  #settle(end: End): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    if (this.#waiters.length === 0 || this.#stopped) return;
    // Reads wait only when no item is buffered: the first gets the end, the rest are done.
    const [first, ...rest] = this.#waiters.splice(0);
    this.#stopped = true;
    if (end.ok) first!.resolve({ done: true, value: end.value });
    else first!.reject(end.error);
    for (const waiter of rest) waiter.resolve({ done: true, value: undefined });
  }
}

/**
 * A plain JSON-RPC server answers our `rpc.stream` or `rpc.call` wrapper
 * "Method not found": the remote side does not know the extension. (Ours
 * names the inner method in `data` when that is what it does not know.)
 */
export function refusedExtension(
  error: unknown,
  method: string,
  feature: "streams" | "progress",
): unknown {
  if (
    !(error instanceof RemoteError) || error.code !== ErrorCode.MethodNotFound ||
    (error.data as { method?: unknown } | undefined)?.method === method
  ) {
    return error;
  }
  const wrapper = feature === "streams" ? STREAM_METHOD : CALL_METHOD;
  return new Unsupported(
    feature,
    "the remote side",
    `it answered ${wrapper} for '${method}' with ${error.code} ${error.message}`,
  );
}
