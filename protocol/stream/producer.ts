/**
 * The handler's side of a stream call: pumps the handler's iterator under
 * the caller's credit. `next()` is called only while credit is left, so a
 * slow consumer pauses the producer instead of filling memory; a send that
 * waits for the wire (a congested channel) pauses it too. A cancel (the
 * caller's, or the connection's end) stops the pump and runs the
 * iterator's `return()`, so the handler's `finally` blocks run.
 *
 * Internal to the peer's dispatcher.
 *
 * @module
 */

import type { Channel } from "../wire/channel.ts";
import type { Id, ItemMessage } from "../wire/message.ts";
import { ACCEPTED } from "../wire/transport.ts";

/** Pumps one handler's iterator to one caller. */
export class Producer {
  #iterator: AsyncIterator<unknown>;
  #channel: Channel;
  #id: Id;
  #to: string | undefined;
  #credit: number;
  #stopped = false;
  #wake: PromiseWithResolvers<void> | undefined;

  /**
   * @param iterable What the handler returned.
   * @param credit The caller's window: items it can take at once.
   * @param channel Where the items go.
   * @param id The stream call's id.
   * @param to The caller's reply address.
   */
  constructor(
    iterable: AsyncIterable<unknown>,
    credit: number,
    channel: Channel,
    id: Id,
    to: string | undefined,
  ) {
    this.#iterator = iterable[Symbol.asyncIterator]();
    this.#credit = credit;
    this.#channel = channel;
    this.#id = id;
    this.#to = to;
  }

  /** The caller can take `credit` more items. */
  grant(credit: number): void {
    this.#credit += credit;
    this.#resume();
  }

  /** Stops the pump; the iterator is returned. */
  cancel(): void {
    this.#stopped = true;
    this.#resume();
  }

  /**
   * Sends items while credit lasts, until the iterator ends (resolves with
   * its return value), throws (rejects with that), or the pump is
   * cancelled (resolves once the iterator's `return()` ran).
   */
  async run(): Promise<unknown> {
    const iterator = this.#iterator;
    for (;;) {
      while (this.#credit <= 0 && !this.#stopped) {
        this.#wake = Promise.withResolvers<void>();
        await this.#wake.promise;
      }
      if (this.#stopped) return await this.#close();
      const next = await iterator.next();
      if (next.done) return next.value;
      if (this.#stopped) return await this.#close();
      this.#credit--;
      const item: ItemMessage = { kind: "item", id: this.#id, value: next.value };
      const sent = this.#channel.send(item, this.#to);
      if (sent !== ACCEPTED) {
        try {
          await sent;
        } catch (error) {
          // The connection is gone (the call is aborted with it), or the item
          // cannot be serialised: either way the stream ends here.
          this.#stopped = true;
          await this.#close();
          throw error;
        }
      }
    }
  }

  async #close(): Promise<undefined> {
    await this.#iterator.return?.();
    return undefined;
  }

  #resume(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }
}
