/**
 * A {@linkcode Handler}, what it receives beside its params
 * ({@linkcode CallContext}), and the peer as handlers and interceptors see it
 * ({@linkcode PeerHandle}). They refer to each other, so they live together;
 * the {@linkcode Peer} class implements `PeerHandle`, and nothing here imports
 * the peer engine.
 *
 * @example Stop work when the caller cancels
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { type CallContext, memoryPair, Peer } from "@seed/rpc";
 *
 * async function sleep(params: { ms: number }, ctx: CallContext): Promise<string> {
 *   await new Promise<void>((resolve, reject) => {
 *     const timer = setTimeout(resolve, params.ms);
 *     ctx.signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       reject(ctx.signal.reason);
 *     }, { once: true });
 *   });
 *   return "slept";
 * }
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { handlers: { sleep } });
 * const client = new Peer(b);
 * await assertRejects(() => client.call("sleep", { ms: 60_000 }, { timeout: 10 }));
 * assertEquals(await client.call("sleep", { ms: 1 }), "slept");
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { BatchReplies } from "./batch.ts";
import type { Channel, Delivery } from "../wire/channel.ts";
import type { CloseReason } from "../wire/close.ts";
import type { Id, Meta } from "../wire/message.ts";
import type { CallOptions, NotifyOptions, StreamOptions } from "./outgoing.ts";
import type { Producer } from "../stream/producer.ts";
import type { StreamReader } from "../stream/consumer.ts";
import type { PeerStats } from "./peer_stats.ts";

/**
 * A function that serves one method. It receives the params exactly as the
 * caller sent them (use a contract from `@seed/rpc/contract` to validate and
 * type them) and returns the result, or a promise of it. Throw an
 * {@linkcode RpcError} to choose the error code; any other exception is
 * answered with -32603 and its message. A notification's handler may return
 * anything: nobody sees it. A handler that returns an `AsyncIterable` (an
 * async generator, say) serves stream calls ({@linkcode PeerHandle.stream}).
 */
// deno-lint-ignore no-explicit-any
export type Handler = (params: any, ctx: CallContext) => unknown;

/**
 * A peer as its handlers and interceptors see it (`ctx.peer`, `call.peer`):
 * everything a {@linkcode Peer} offers. {@linkcode Peer} implements it.
 */
export interface PeerHandle {
  /** The channel the peer talks through. */
  readonly channel: Channel;
  /** Resolves once the channel is closed and every message was routed. */
  readonly closed: Promise<void>;
  /** Whether the peer is closing or closed. */
  readonly isClosed: boolean;
  /** Why the peer closed (`undefined` while open). */
  readonly closeReason: CloseReason | undefined;
  /** A snapshot of the peer's counters. */
  stats(): PeerStats;
  /** Registers (or replaces) the handler for `method`. */
  handle(method: string, handler: Handler): this;
  /** Whether a handler is registered for `method`. */
  handles(method: string): boolean;
  /** Calls `method` on the remote side and resolves with its result. */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** Calls stream method `method` on the remote side: its items, as they come. */
  stream<T = unknown>(
    method: string,
    params?: unknown,
    options?: StreamOptions,
  ): StreamReader<T>;
  /** Sends a notification; resolves when the channel accepted it. */
  notify(method: string, params?: unknown, options?: NotifyOptions): Promise<void>;
  /** Closes the channel; resolves when fully closed. */
  close(reason?: string | CloseReason): Promise<void>;
  /** Resolves when no incoming call is being handled. */
  idle(): Promise<void>;
  /** Stops taking new calls; resolves with whether the running ones finished in time. */
  drain(timeout?: number): Promise<boolean>;
}

/**
 * The context of one incoming call or notification.
 *
 * @example A handler reading its context
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type CallContext, memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: { whoami: (_params: unknown, ctx: CallContext) => `${ctx.method} #${ctx.id}` },
 * });
 * const client = new Peer(b);
 * assertEquals(await client.call("whoami"), "whoami #1");
 * await client.close();
 * await server.closed;
 * ```
 */
export interface CallContext {
  /** The method's name. */
  readonly method: string;
  /** The request id; `undefined` for a notification. */
  readonly id: Id | null | undefined;
  /**
   * Fires when the caller cancels or times out, or the connection closes.
   * Its `reason` says which.
   */
  readonly signal: AbortSignal;
  /**
   * The message's metadata (empty when the dialect carries none); an
   * incoming interceptor may add to it for the handler.
   */
  readonly meta: Meta;
  /**
   * Who sent it, on channels with many callers (the reply address);
   * `undefined` on a connection with one party at the other end.
   */
  readonly from: string | undefined;
  /** The peer the call came from; call back or notify through it. */
  readonly peer: PeerHandle;
  /**
   * Reports progress to the caller, when it asked for it (`onProgress`, or
   * a stream call); otherwise does nothing. Resolves when the channel
   * accepted it.
   */
  progress(value: unknown): Promise<void>;
}

/**
 * One call being served: the handler's context, and what the dispatcher
 * needs to finish it (its delivery, its batch slot). The `AbortController`
 * is made only when a handler reads `signal`, so calls whose handlers ignore
 * cancellation cost nothing for it.
 *
 * @internal
 */
export class InboundCall implements CallContext {
  readonly method: string;
  readonly id: Id | null | undefined;
  readonly peer: PeerHandle;
  readonly delivery: Delivery;
  /** The batch this call belongs to, and its place in it. */
  readonly batch: BatchReplies | undefined;
  readonly slot: number;
  /** `performance.now()` when the handler started, when latency is measured. */
  started = 0;
  // Set only on calls that use them (`declare`: plain calls pay nothing).
  /** A stream call's window. */
  declare credit: number | undefined;
  /** The caller asked for progress (a stream call, or a call with `onProgress`). */
  declare wantsProgress: boolean | undefined;
  /** The pump of a stream call's items, once its handler returned them. */
  declare producer: Producer | undefined;
  #controller: AbortController | undefined;
  /** The message's meta; an empty one is made on first read. */
  #meta: Meta | undefined;
  #reason: unknown;
  #aborted = false;

  constructor(
    peer: PeerHandle,
    method: string,
    id: Id | null | undefined,
    meta: Meta | undefined,
    delivery: Delivery,
    batch: BatchReplies | undefined,
  ) {
    this.peer = peer;
    this.method = method;
    this.id = id;
    this.#meta = meta;
    this.delivery = delivery;
    this.batch = batch;
    this.slot = batch === undefined ? 0 : batch.index;
  }

  get meta(): Meta {
    return this.#meta ??= {};
  }

  get from(): string | undefined {
    return this.delivery.from;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the call was cancelled; its reply, if any, is dropped. */
  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.producer?.cancel();
  }

  progress(value: unknown): Promise<void> {
    if (!this.wantsProgress || this.#aborted || this.id === null || this.id === undefined) {
      return Promise.resolve();
    }
    return this.peer.channel.send({ kind: "progress", id: this.id, value }, this.delivery.from);
  }
}
