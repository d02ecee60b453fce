/**
 * {@linkcode MemoryBus}: an in-process message bus. Each {@linkcode BusChannel}
 * has a name on the bus; a message is sent *to* a name and arrives with the
 * sender's name as its reply address, so many callers can share one service
 * channel, with the same call ids, and each gets its own answers. It is
 * quickrpc's `internal:` bus, and the same shape as a broker queue: every
 * delivery is settled, a `"retry"` is delivered once more, a `"failed"` one
 * is kept as a dead letter.
 *
 * Messages are copied with `structuredClone` on the way, as a wire would:
 * the receiver never shares an object with the sender.
 *
 * @example Two callers with the same call ids, one service
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { MemoryBus, Peer } from "@seed/rpc";
 *
 * const bus = new MemoryBus();
 * const service = new Peer(bus.channel("calc"), {
 *   handlers: { add: ({ a, b }, ctx) => `${ctx.from}: ${a + b}` },
 * });
 * const alice = new Peer(bus.channel("alice"));
 * const bob = new Peer(bus.channel("bob"));
 * // Both send call id 1 to "calc"; each reply goes back to its own caller.
 * const [a, b] = await Promise.all([
 *   alice.call("add", { a: 1, b: 2 }, { to: "calc" }),
 *   bob.call("add", { a: 10, b: 20 }, { to: "calc" }),
 * ]);
 * assertEquals([a, b], ["alice: 3", "bob: 30"]);
 * await Promise.all([alice.close(), bob.close(), service.close()]);
 * ```
 *
 * @module
 */

import type { Delivery, Outcome } from "../protocol/wire/channel.ts";
import type { CloseReason } from "../protocol/wire/close.ts";
import { ConnectionClosed, ErrorCode, NotDelivered } from "../protocol/wire/errors.ts";
import { InboxChannel } from "../protocol/wire/inbox.ts";
import type { Message } from "../protocol/wire/message.ts";
import { ACCEPTED } from "../protocol/wire/transport.ts";

/**
 * One settled delivery, as {@linkcode MemoryBusOptions.onSettle} sees it.
 */
export interface BusSettlement {
  /** The channel that received it. */
  readonly to: string;
  /** The channel that sent it. */
  readonly from: string;
  /** What was delivered. */
  readonly message: Message | readonly Message[];
  /** How it ended. */
  readonly outcome: Outcome;
  /** 1 for the first delivery, 2 for the redelivery after a `"retry"`. */
  readonly attempt: number;
}

/**
 * Options for a {@linkcode MemoryBus}.
 */
export interface MemoryBusOptions {
  /**
   * Undelivered messages each channel holds before `send` to it waits.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /**
   * Dead letters kept (the oldest are dropped beyond it).
   *
   * @default {1000}
   */
  maxDeadLetters?: number;
  /** Told of every settled delivery (for tests and metrics). */
  onSettle?: (settlement: BusSettlement) => void;
}

/**
 * An in-process bus of named channels. See the module docs.
 *
 * @example A call that fails is dead-lettered
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { MemoryBus, Peer, RemoteError } from "@seed/rpc";
 * const bus = new MemoryBus();
 * const service = new Peer(bus.channel("svc"), {
 *   handlers: {
 *     boom: () => {
 *       throw new Error("kaboom");
 *     },
 *   },
 * });
 * const client = new Peer(bus.channel("client"));
 * await assertRejects(() => client.call("boom", {}, { to: "svc" }), RemoteError, "kaboom");
 * assertEquals(bus.deadLetters.map((letter) => letter.to), ["svc"]);
 * await Promise.all([client.close(), service.close()]);
 * ```
 */
export class MemoryBus {
  #channels = new Map<string, BusChannel>();
  #highWaterMark: number;
  #maxDeadLetters: number;
  #onSettle: ((settlement: BusSettlement) => void) | undefined;
  #deadLetters: BusSettlement[] = [];

  /**
   * Makes an empty bus.
   *
   * @param options Queue bounds, dead letters kept, and a settle observer.
   */
  constructor(options: MemoryBusOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? 1024;
    this.#maxDeadLetters = options.maxDeadLetters ?? 1000;
    this.#onSettle = options.onSettle;
  }

  /** Deliveries settled `"failed"`, oldest first. */
  get deadLetters(): readonly BusSettlement[] {
    return this.#deadLetters;
  }

  /**
   * A new channel named `name` on this bus. Throws when the name is taken
   * by an open channel.
   */
  channel(name: string): BusChannel {
    if (this.#channels.has(name)) {
      throw new TypeError(`The name '${name}' is taken on this bus`);
    }
    const channel = new BusChannel(this, name, this.#highWaterMark);
    this.#channels.set(name, channel);
    return channel;
  }

  /** @internal The open channel named `name`. */
  find(name: string): BusChannel | undefined {
    return this.#channels.get(name);
  }

  /** @internal A channel closed: its name is free again. */
  release(channel: BusChannel): void {
    if (this.#channels.get(channel.name) === channel) this.#channels.delete(channel.name);
  }

  /** @internal A delivery was settled. */
  settled(settlement: BusSettlement): void {
    if (settlement.outcome === "failed") {
      this.#deadLetters.push(settlement);
      if (this.#deadLetters.length > this.#maxDeadLetters) this.#deadLetters.shift();
    }
    this.#onSettle?.(settlement);
  }
}

/**
 * One named channel on a {@linkcode MemoryBus}. Made by
 * {@linkcode MemoryBus.channel}.
 *
 * @example A channel on the bus
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { MemoryBus, NotDelivered } from "@seed/rpc";
 * const bus = new MemoryBus();
 * const lonely = bus.channel("lonely");
 * await assertRejects(
 *   () => lonely.send({ kind: "notification", method: "hello" }, "nobody"),
 *   NotDelivered,
 * );
 * assertEquals(lonely.remote, "lonely");
 * await lonely.close();
 * ```
 */
export class BusChannel extends InboxChannel {
  /** Its name on the bus: where replies to what it sends go. */
  readonly name: string;
  #bus: MemoryBus;

  /** Prefer {@linkcode MemoryBus.channel}. */
  constructor(bus: MemoryBus, name: string, highWaterMark: number) {
    super(highWaterMark);
    this.#bus = bus;
    this.name = name;
  }

  /** Its own name (for logs). */
  get remote(): string {
    return this.name;
  }

  /**
   * Sends a copy of `message` to the channel named `to`. Rejects with
   * {@linkcode NotDelivered} when no open channel has that name.
   */
  send(message: Message, to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    if (to === undefined) {
      return Promise.reject(new TypeError("A message on a MemoryBus needs a recipient (to)"));
    }
    const target = this.#bus.find(to);
    if (target === undefined) return Promise.reject(new NotDelivered(to, "no such channel"));
    let copy: Message;
    try {
      copy = structuredClone(message);
    } catch (error) {
      if (message.kind !== "result" && message.kind !== "error") return Promise.reject(error);
      copy = {
        kind: "error",
        id: message.id,
        error: {
          code: ErrorCode.InternalError,
          message: "Internal error",
          data: "the result could not be serialised",
        },
      };
    }
    return target.#deliver(copy, this.name, 1) ?? ACCEPTED;
  }

  #deliver(message: Message, from: string, attempt: number): Promise<void> | undefined {
    let settled = false;
    const delivery: Delivery = {
      message,
      from,
      retryable: attempt === 1,
      settle: (outcome) => {
        if (settled) throw new Error("A delivery was settled twice");
        settled = true;
        if (outcome === "retry" && attempt === 1 && this.closeReason === undefined) {
          this.#deliver(message, from, 2)?.catch(() => {});
        }
        this.#bus.settled({ to: this.name, from, message, outcome, attempt });
      },
    };
    return this.deliver(delivery);
  }

  /** Leaves the bus: deliveries not yet read are dropped. */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.beginClose(reason, true) !== undefined) {
      this.#bus.release(this);
      this.finishClose();
    }
    return this.closed;
  }
}
