/**
 * What a handler receives beside its params: {@linkcode CallContext}.
 *
 * @example Stop work when the caller cancels
 * ```ts
 * import type { CallContext } from "@seed/rpc";
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
 * console.log(typeof sleep);
 * ```
 *
 * @module
 */

import type { Id, Meta } from "./message.ts";
import type { Peer } from "./peer.ts";

/**
 * The context of one incoming call or notification.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, jsonRpc, type CallContext } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   codec: jsonRpc,
 *   handlers: { whoami: (_params: unknown, ctx: CallContext) => `${ctx.method} #${ctx.id}` },
 * });
 * const client = new Peer(b, { codec: jsonRpc });
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
  /** The peer the call came from; call back or notify through it. */
  readonly peer: Peer<unknown>;
}

const NO_META: Meta = Object.freeze({});

/**
 * One call being served. The `AbortController` is made only when a handler
 * reads `signal`, so calls whose handlers ignore cancellation cost nothing.
 *
 * @internal
 */
export class InboundCall implements CallContext {
  readonly method: string;
  readonly id: Id | null | undefined;
  readonly meta: Meta;
  readonly peer: Peer<unknown>;
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  constructor(peer: Peer<unknown>, method: string, id: Id | null | undefined, meta?: Meta) {
    this.peer = peer;
    this.method = method;
    this.id = id;
    this.meta = meta ?? NO_META;
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
