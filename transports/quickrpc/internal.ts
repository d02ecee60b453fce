/**
 * quickrpc's `internal:<bus>:<name>`: an in-process bus of named peers,
 * found by the bus name. A send without receivers goes to every other
 * peer on the bus; an unknown receiver is an error, as in the original.
 *
 * @module
 */

import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";

/** The buses of this process, by name. */
const buses = new Map<string, { members: Map<string, QuickRpcSink>; count: number }>();

function bus(name: string) {
  let found = buses.get(name);
  if (found === undefined) buses.set(name, found = { members: new Map(), count: 0 });
  return found;
}

/** quickrpc's `internal:` transport: one peer on an in-process bus. */
export class QuickRpcInternal implements QuickRpcTransport {
  /** Its name on the bus (`<bus>.<n>` when none was given). */
  readonly name: string;
  /** The bus it joins. */
  readonly bus: string;
  #sink: QuickRpcSink | undefined;

  /**
   * Makes a peer of the bus; {@linkcode QuickRpcInternal.open} joins.
   *
   * @param busName The bus.
   * @param name Its name there; empty for `<bus>.<n>`.
   */
  constructor(busName = "internal", name = "") {
    this.bus = busName || "internal";
    const found = bus(this.bus);
    this.name = name || `${this.bus}.${found.count++}`;
  }

  /** Joins the bus; rejects when the name is taken. */
  open(sink: QuickRpcSink): Promise<void> {
    const members = bus(this.bus).members;
    if (members.has(this.name)) {
      return Promise.reject(new Error(`bus ${this.bus} already has a peer ${this.name}`));
    }
    members.set(this.name, sink);
    this.#sink = sink;
    return Promise.resolve();
  }

  /** Hands `data` to the named peers, or to every other one. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (this.#sink === undefined) throw new NotRunning(this.name);
    const members = bus(this.bus).members;
    const names = receivers ?? [...members.keys()].filter((name) => name !== this.name);
    for (const name of names) {
      if (!members.has(name)) {
        throw new Error(`Sending to bus ${this.bus}: Unknown receiver ${name}`);
      }
    }
    // Each receiver decodes the bytes as they come: one copy is shared, read only.
    // A receiver that is behind holds the sender back.
    for (const name of names) await members.get(name)!.received(this.name, data);
  }

  /** Leaves the bus. */
  close(): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined) return Promise.resolve();
    this.#sink = undefined;
    const found = buses.get(this.bus);
    found?.members.delete(this.name);
    if (found !== undefined && found.members.size === 0) buses.delete(this.bus);
    sink.ended();
    return Promise.resolve();
  }
}
