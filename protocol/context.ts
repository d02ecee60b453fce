/**
 * What a handler receives beside its params: {@linkcode CallContext}.
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
import type { Delivery } from "./channel.ts";
import type { Id, Meta } from "./message.ts";
import type { Peer } from "./peer.ts";

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
  /** The message's metadata (empty when the dialect carries none). */
  readonly meta: Meta;
  /**
   * Who sent it, on channels with many callers (the reply address);
   * `undefined` on a connection with one party at the other end.
   */
  readonly from: string | undefined;
  /** The peer the call came from; call back or notify through it. */
  readonly peer: Peer;
}

const NO_META: Meta = Object.freeze({});

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
  readonly meta: Meta;
  readonly peer: Peer;
  readonly delivery: Delivery;
  /** The batch this call belongs to, and its place in it. */
  readonly batch: BatchReplies | undefined;
  readonly slot: number;
  /** `performance.now()` when the handler started, when latency is measured. */
  started = 0;
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  constructor(
    peer: Peer,
    method: string,
    id: Id | null | undefined,
    meta: Meta | undefined,
    delivery: Delivery,
    batch: BatchReplies | undefined,
  ) {
    this.peer = peer;
    this.method = method;
    this.id = id;
    this.meta = meta ?? NO_META;
    this.delivery = delivery;
    this.batch = batch;
    this.slot = batch === undefined ? 0 : batch.index;
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
  }
}
