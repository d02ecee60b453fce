/**
 * quickrpc's `internal:<bus>:<name>`: in-process peers on a
 * {@linkcode MemoryBus} per bus name, each a {@linkcode BusChannel} named as
 * the original names it. A telegram crosses the bus as its text (copied, as
 * the bus copies every message), so the codec string still applies and a
 * mux can join the bus with sockets. A send without receivers goes to every
 * other peer on the bus; an unknown receiver is an error, as in the original.
 *
 * @module
 */

import type { Message } from "../../protocol/wire/message.ts";
import { type BusChannel, MemoryBus } from "../memory_bus.ts";
import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";

/** The method of the bus message that carries a telegram's text. */
const TELEGRAM = "quickrpc.telegram";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The buses of this process, by name, and who is on each. */
const buses = new Map<string, { bus: MemoryBus; members: Set<string>; count: number }>();

function busNamed(name: string) {
  let found = buses.get(name);
  if (found === undefined) {
    buses.set(name, found = { bus: new MemoryBus(), members: new Set(), count: 0 });
  }
  return found;
}

/** quickrpc's `internal:` transport: one peer on an in-process bus. */
export class QuickRpcInternal implements QuickRpcTransport {
  /** Its name on the bus (`<bus>.<n>` when none was given). */
  readonly name: string;
  /** The bus it joins. */
  readonly bus: string;
  #channel: BusChannel | undefined;
  #reading: Promise<void> | undefined;

  /**
   * Makes a peer of the bus; {@linkcode QuickRpcInternal.open} joins.
   *
   * @param busName The bus.
   * @param name Its name there; empty for `<bus>.<n>`.
   */
  constructor(busName = "internal", name = "") {
    this.bus = busName || "internal";
    this.name = name || `${this.bus}.${busNamed(this.bus).count++}`;
  }

  /** Joins the bus; rejects when the name is taken. */
  open(sink: QuickRpcSink): Promise<void> {
    const found = busNamed(this.bus);
    let channel: BusChannel;
    try {
      channel = found.bus.channel(this.name);
    } catch (error) {
      return Promise.reject(error);
    }
    found.members.add(this.name);
    this.#channel = channel;
    this.#reading = (async () => {
      for await (const delivery of channel.incoming) {
        const message = delivery.message as Message;
        if (message.kind === "notification" && typeof message.params === "string") {
          const behind = sink.received(
            delivery.from!,
            encoder.encode(message.params),
          );
          if (behind !== undefined) await behind;
        }
        delivery.settle?.("ok");
      }
      sink.ended();
    })();
    return Promise.resolve();
  }

  /** Hands the telegram's text to the named peers, or to every other one. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    const channel = this.#channel;
    if (channel === undefined) throw new NotRunning(this.name);
    const members = busNamed(this.bus).members;
    const names = receivers ?? [...members].filter((name) => name !== this.name);
    for (const name of names) {
      if (!members.has(name)) {
        throw new Error(`Sending to bus ${this.bus}: Unknown receiver ${name}`);
      }
    }
    const message = {
      kind: "notification",
      method: TELEGRAM,
      params: decoder.decode(data),
    } as const;
    // A receiver that is behind holds the sender back (the bus's own backpressure).
    for (const name of names) await channel.send(message, name);
  }

  /** Leaves the bus. */
  async close(): Promise<void> {
    const channel = this.#channel;
    if (channel === undefined) return;
    this.#channel = undefined;
    const found = buses.get(this.bus);
    found?.members.delete(this.name);
    if (found !== undefined && found.members.size === 0) buses.delete(this.bus);
    await channel.close();
    await this.#reading;
  }
}
