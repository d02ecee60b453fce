/**
 * The replies to one incoming batch, collected to leave together, in the
 * order of the requests, once every entry of the batch is done.
 *
 * Internal to the dispatcher; not exported from `mod.ts`.
 *
 * @module
 */

import type { Delivery, Outcome } from "../wire/channel.ts";
import type { ErrorMessage, ResultMessage } from "../wire/message.ts";

/** One incoming batch being handled. */
export class BatchReplies {
  /** The delivery the batch came in. */
  readonly delivery: Delivery;
  /** One slot per entry; entries that need no reply stay empty. */
  readonly slots: (ResultMessage | ErrorMessage | undefined)[];
  /** The entry being routed. */
  index = 0;
  /** Entries started and not yet done. */
  #pending = 0;
  #sealed = false;
  #failed = false;

  constructor(delivery: Delivery, size: number) {
    this.delivery = delivery;
    this.slots = new Array(size);
  }

  /** An entry starts. */
  begin(): void {
    this.#pending++;
  }

  /** An entry is done; true when that completes a sealed batch. */
  end(outcome: Outcome): boolean {
    if (outcome === "failed") this.#failed = true;
    return --this.#pending === 0 && this.#sealed;
  }

  /** Every entry has started; true when they are all done already. */
  seal(): boolean {
    this.#sealed = true;
    return this.#pending === 0;
  }

  /** The batch's outcome: failed when any entry failed. */
  get outcome(): Outcome {
    return this.#failed ? "failed" : "ok";
  }

  /** The replies, in the order of the requests. */
  replies(): (ResultMessage | ErrorMessage)[] {
    return this.slots.filter((reply) => reply !== undefined);
  }
}
