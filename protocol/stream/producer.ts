/**
 * The handler's side of a stream call: pumps the handler's iterator under
 * the caller's credit. `next()` runs at most one item ahead of the credit
 * left, so a slow consumer pauses the producer instead of filling memory; a send that
 * waits for the wire (a congested channel) pauses it too. A cancel (the
 * caller's, or the connection's end) stops the pump and runs the
 * iterator's `return()`, so the handler's `finally` blocks run.
 *
 * Where the channel sends items several to a frame (`sendItems`, a
 * WebSocket), the items the iterator yields back to back are gathered and
 * sent together: when the credit runs out, at {@linkcode ITEMS_PER_FRAME},
 * or once the iterator has produced nothing for a few microtask turns (it
 * waits for something), so a slow handler's item is never held back.
 *
 * Internal to the peer's dispatcher.
 *
 * @module
 */

import type { Channel } from "../wire/channel.ts";
import type { Id, ItemMessage } from "../wire/message.ts";
import { ACCEPTED } from "../wire/transport.ts";

/** The most items sent together in one frame. */
export const ITEMS_PER_FRAME = 64;

/** Microtask turns without a new item after which the gathered items go. */
const QUIET_TURNS = 3;

/** Pumps one handler's iterator to one caller. */
export class Producer {
  #iterator: AsyncIterator<unknown>;
  #channel: Channel;
  #id: Id;
  #to: string | undefined;
  #credit: number;
  #stopped = false;
  #wake: PromiseWithResolvers<void> | undefined;
  /** Items gathered for one frame, where the channel sends them so. */
  #gathered: ItemMessage[] = [];
  #seen = 0;
  #quietTurns = 0;
  #watching = false;
  /** A send of gathered items the channel did not accept at once. */
  #sending: Promise<void> | undefined;

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
    const gather = this.#channel.sendItems !== undefined;
    for (;;) {
      if (this.#stopped) return await this.#close();
      // One item ahead of the credit at most: the iterator's end is seen (and
      // the reply sent) without waiting for credit the caller would grant for
      // nothing; an item made without credit waits here for it.
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (error) {
        // The items it yielded before go out ahead of its error.
        if (gather) await this.#sendGathered();
        throw error;
      }
      if (this.#stopped) return await this.#close();
      if (next.done) {
        if (gather) await this.#sendGathered();
        return next.value;
      }
      while (this.#credit <= 0 && !this.#stopped) {
        this.#wake = Promise.withResolvers<void>();
        await this.#wake.promise;
      }
      if (this.#stopped) return await this.#close();
      this.#credit--;
      const item: ItemMessage = { kind: "item", id: this.#id, value: next.value };
      let sent: Promise<void>;
      if (gather) {
        this.#gathered.push(item);
        if (this.#credit <= 0 || this.#gathered.length >= ITEMS_PER_FRAME) this.#flush();
        else if (!this.#watching) {
          this.#watching = true;
          queueMicrotask(this.#whenQuiet);
        }
        sent = this.#sending ?? ACCEPTED;
        this.#sending = undefined;
      } else {
        sent = this.#channel.send(item, this.#to);
      }
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

  /** Sends what is gathered and waits until the channel accepted it. */
  async #sendGathered(): Promise<void> {
    this.#flush();
    const sending = this.#sending;
    this.#sending = undefined;
    if (sending !== undefined) await sending;
  }

  /** Sends the gathered items as one frame (or a few, if large). */
  #flush(): void {
    const items = this.#gathered;
    if (items.length === 0) return;
    this.#gathered = [];
    this.#seen = 0;
    const sent = this.#channel.sendItems!(items, this.#to);
    if (sent === ACCEPTED) return;
    // Awaited by the loop before its next item; marked handled meanwhile,
    // since a handler waiting for ever may never get there.
    sent.catch(ignore);
    const sending = this.#sending === undefined ? sent : this.#sending.then(() => sent);
    sending.catch(ignore);
    this.#sending = sending;
  }

  /** Sends the gathered items once QUIET_TURNS microtask turns pass with no new one. */
  #whenQuiet = (): void => {
    if (this.#gathered.length !== this.#seen) {
      this.#seen = this.#gathered.length;
      this.#quietTurns = 0;
    } else if (++this.#quietTurns >= QUIET_TURNS || this.#gathered.length === 0) {
      this.#watching = false;
      this.#quietTurns = 0;
      if (!this.#stopped) this.#flush();
      return;
    }
    queueMicrotask(this.#whenQuiet);
  };

  async #close(): Promise<undefined> {
    this.#gathered = [];
    await this.#iterator.return?.();
    return undefined;
  }

  #resume(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }
}

function ignore(): void {}
