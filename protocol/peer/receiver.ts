/**
 * The peer's incoming side: reads deliveries from the channel, waits for
 * room at the handler bounds, and routes every message: replies settle the
 * peer's own calls (`outgoing.ts`); requests, notifications, cancels and
 * invalid input take the one dispatch path (`dispatch.ts`).
 *
 * Internal to the {@linkcode Peer}.
 *
 * @module
 */

import type { BatchReplies } from "./batch.ts";
import type { Channel, Delivery } from "../wire/channel.ts";
import { CLOSED_REMOTELY, type CloseReason } from "../wire/close.ts";
import type { Dispatcher } from "./dispatch.ts";
import { ConnectionClosed, RemoteError } from "../wire/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { Id, Message } from "../wire/message.ts";
import type { OutgoingCalls } from "./outgoing.ts";
import { unreadable, wrongDialect } from "./peer_close.ts";

/** What a {@linkcode Receiver} needs from its peer. */
export interface ReceiverHost {
  /** Closes the peer; the receiver stops (closing again does nothing). */
  shutdown(reason: CloseReason): void;
  readonly logger: Logger;
  readonly name: string;
}

/** Reads one channel and routes its messages, until stopped or the channel ends. */
export class Receiver {
  #channel: Channel;
  #dispatcher: Dispatcher;
  #outgoing: OutgoingCalls;
  #host: ReceiverHost;
  #stopped = false;
  #received = 0;
  /**
   * While waiting for room: deliveries that need room, read ahead (a few,
   * bounded), and a read in progress. What needs no room (a reply, a
   * stream's credit, a cancel) is routed as it comes, since it may be what
   * frees room: streams waiting for credit may hold every handler slot.
   */
  #held: Delivery[] = [];
  #heldBytes = 0;
  #reading: Promise<IteratorResult<Delivery>> | undefined;
  #ended = false;
  /** The last error the other side sent without an id, and `#received` then. */
  #lastWords: { error: RemoteError; at: number } | undefined;

  constructor(
    channel: Channel,
    dispatcher: Dispatcher,
    outgoing: OutgoingCalls,
    host: ReceiverHost,
  ) {
    this.#channel = channel;
    this.#dispatcher = dispatcher;
    this.#outgoing = outgoing;
    this.#host = host;
  }

  /** Messages received (each entry of a batch counts). */
  get received(): number {
    return this.#received;
  }

  /**
   * The error without an id the other side sent last, when nothing came
   * after it: the other side may have closed because of it.
   */
  get lastWords(): RemoteError | undefined {
    const last = this.#lastWords;
    return last !== undefined && last.at === this.#received ? last.error : undefined;
  }

  /** Stops routing: the peer is closing. */
  stop(): void {
    this.#stopped = true;
  }

  /** The read loop; when the channel ends, shuts the peer down with its reason. */
  async run(): Promise<void> {
    // Let the peer's constructor finish before the first message is handled.
    await Promise.resolve();
    const channel = this.#channel;
    const incoming = channel.incoming[Symbol.asyncIterator]();
    const dispatcher = this.#dispatcher;
    try {
      reading: while (!this.#stopped) {
        // What has already arrived is handled without a promise each.
        let delivery = this.#held.length === 0 ? undefined : this.#unhold();
        if (delivery === undefined && this.#reading === undefined) {
          if (this.#ended) break;
          delivery = channel.take?.();
        }
        if (delivery === undefined) {
          const next = await (this.#reading ?? incoming.next());
          this.#reading = undefined;
          if (next.done) break;
          delivery = next.value;
        }
        // At a bound, wait before starting more work; a reply needs no
        // room (and a handler may be waiting for it).
        // (Checked again after each wait: other peers may share the bound.)
        while (dispatcher.full && needsRoom(delivery) && !this.#stopped) {
          if (await this.#roomOrClose(incoming)) continue;
          // Closed while every handler was busy: the replies behind this
          // request still settle their calls; nothing more can be answered.
          delivery.settle?.("cancelled");
          await this.#drainReplies(incoming);
          break reading;
        }
        if (this.#stopped) break;
        const routing = this.#receive(delivery);
        if (routing !== undefined) await routing;
      }
    } catch (error) {
      if (!this.#stopped) this.#host.logger.warn(`${this.#host.name}: the channel failed`, error);
    }
    this.#host.shutdown(channel.closeReason ?? CLOSED_REMOTELY);
  }

  /**
   * Waits for room at the bounds: true once there is room (or a message
   * that needs none was routed: the caller checks again), false when the
   * channel closed first. Meanwhile it reads ahead up to one delivery that
   * needs room, routing what needs none: a stream's credit or cancel behind
   * a request may be what ends the stream holding the room.
   */
  async #roomOrClose(incoming: AsyncIterator<Delivery>): Promise<boolean> {
    if (this.#reading === undefined && this.#canReadAhead()) {
      const taken = this.#channel.take?.();
      if (taken !== undefined) return this.#readAhead(taken);
      this.#reading = incoming.next();
    }
    let closed = false;
    let read: IteratorResult<Delivery> | undefined;
    const waits: Promise<unknown>[] = [
      this.#dispatcher.room(),
      this.#channel.closed.then(() => closed = true),
    ];
    const reading = this.#reading;
    if (reading !== undefined) waits.push(reading.then((next) => read = next));
    await Promise.race(waits);
    if (read === undefined || closed) return !closed;
    this.#reading = undefined;
    if (read.done) {
      this.#ended = true;
      return true;
    }
    return this.#readAhead(read.value);
  }

  /** A delivery read while waiting for room: routed if it needs none, else held. */
  #readAhead(delivery: Delivery): boolean {
    if (needsRoom(delivery)) {
      this.#held.push(delivery);
      this.#heldBytes += delivery.size ?? 0;
      return true;
    }
    const message = delivery.message as Message;
    if (message.kind === "cancel") this.#dropHeld(message.id, delivery.from);
    this.#receive(delivery);
    return true;
  }

  /** A cancel overtook its request, held unstarted: that request is dropped. */
  #dropHeld(id: Id, from: string | undefined): void {
    const at = this.#held.findIndex((held) => {
      const m = held.message as Message;
      return held.from === from && m.kind === "request" && m.id === id;
    });
    if (at < 0) return;
    const [dropped] = this.#held.splice(at, 1);
    this.#heldBytes -= dropped!.size ?? 0;
    dropped!.settle?.("cancelled");
  }

  /** Whether to read on while waiting: what is held stays small. */
  #canReadAhead(): boolean {
    return !this.#ended && this.#held.length < MAX_HELD && this.#heldBytes < MAX_HELD_BYTES;
  }

  #unhold(): Delivery {
    const delivery = this.#held.shift()!;
    this.#heldBytes -= delivery.size ?? 0;
    return delivery;
  }

  /** After the channel closed: routes the replies still unread, cancels the rest. */
  async #drainReplies(incoming: AsyncIterator<Delivery>): Promise<void> {
    for (const held of this.#held.splice(0)) held.settle?.("cancelled");
    this.#heldBytes = 0;
    if (this.#reading !== undefined) {
      const next = await this.#reading;
      this.#reading = undefined;
      if (next.done) return;
      if (needsRoom(next.value)) next.value.settle?.("cancelled");
      else this.#receive(next.value);
    }
    if (this.#ended) return;
    for (;;) {
      let delivery = this.#channel.take?.();
      if (delivery === undefined) {
        const next = await incoming.next();
        if (next.done) return;
        delivery = next.value;
      }
      if (needsRoom(delivery)) delivery.settle?.("cancelled");
      else this.#receive(delivery);
    }
  }

  /**
   * Routes every message of one delivery; a promise when a batch has to wait
   * for room between its entries.
   */
  #receive(delivery: Delivery): Promise<void> | undefined {
    const message = delivery.message;
    if (!Array.isArray(message)) {
      this.#route(message as Message, delivery, undefined);
      return undefined;
    }
    const messages = message as readonly Message[];
    // Nothing to handle: a blank line, a header frame, a reply consumed by the codec.
    if (messages.length === 0) {
      delivery.settle?.("ok");
      return undefined;
    }
    return this.#routeBatch(delivery, messages);
  }

  /** A batch's entries take a handler slot each, like single calls. */
  async #routeBatch(delivery: Delivery, messages: readonly Message[]): Promise<void> {
    const dispatcher = this.#dispatcher;
    const batch = dispatcher.openBatch(delivery, messages.length);
    for (; batch.index < messages.length && !this.#stopped; batch.index++) {
      // A stream's items start no work: they never wait (streams may hold every slot).
      while (dispatcher.full && messages[batch.index]!.kind !== "item" && !this.#stopped) {
        await dispatcher.room();
      }
      batch.begin();
      this.#route(messages[batch.index]!, delivery, batch);
    }
    dispatcher.sealBatch(batch);
  }

  #route(message: Message, delivery: Delivery, batch: BatchReplies | undefined): void {
    this.#received++;
    const dispatcher = this.#dispatcher;
    switch (message.kind) {
      case "request":
        dispatcher.request(message, delivery, batch);
        return;
      case "notification":
        dispatcher.notification(message, delivery, batch);
        return;
      case "result":
      case "error":
        if (message.id === null && message.kind === "error") {
          // An error with no id: the other side may be about to close because of it.
          this.#lastWords = { error: new RemoteError(message.error), at: this.#received };
        }
        this.#outgoing.settle(message);
        dispatcher.done(delivery, batch, "ok");
        return;
      case "cancel":
        dispatcher.cancel(message, delivery, batch);
        return;
      case "item":
        this.#outgoing.item(message);
        dispatcher.done(delivery, batch, "ok");
        return;
      case "progress":
        this.#outgoing.progress(message);
        dispatcher.done(delivery, batch, "ok");
        return;
      case "credit":
        dispatcher.credit(message, delivery, batch);
        return;
      case "lost":
        this.#outgoing.lose(message.id, new ConnectionClosed(message.reason));
        dispatcher.done(delivery, batch, "ok");
        return;
      case "invalid":
        if (this.#received === 1 && this.#outgoing.size > 0 && unreadable(message)) {
          // We spoke first, and the first thing back is unreadable: the other
          // side speaks another dialect. Answering would only add noise (and
          // could start an exchange of errors); waiting would only time out.
          const reason = wrongDialect(this.#channel, message.excerpt);
          this.#host.logger.warn(`${this.#host.name}: ${reason.message}; closing`);
          this.#host.shutdown(reason);
          dispatcher.done(delivery, batch, "failed");
          return;
        }
        dispatcher.invalidMessage(message, delivery, batch);
        return;
    }
  }
}

/** Deliveries that need room read ahead while waiting for it, at most. */
const MAX_HELD = 64;
/** Their size at most (characters of text frames); the last one may pass it. */
const MAX_HELD_BYTES = 1024 * 1024;

/** Whether a delivery starts work (a request, a notification, a batch but one of items). */
function needsRoom(delivery: Delivery): boolean {
  const message = delivery.message;
  if (Array.isArray(message)) return !(message as readonly Message[]).every(isItem);
  const kind = (message as Message).kind;
  return kind === "request" || kind === "notification" || kind === "invalid";
}

function isItem(message: Message): boolean {
  return message.kind === "item";
}
