/**
 * quickrpc's `mux:(<t1>)(<t2>)…`: one API over several transports. What
 * comes in is tagged with the transport it came from, so a reply to a
 * sender goes back on that transport only (the original offers it to all).
 *
 * @module
 */

import type { QuickRpcSink, QuickRpcTransport } from "./_transport.ts";

/** quickrpc's `mux:` transport. */
export class QuickRpcMux implements QuickRpcTransport {
  /** `mux:(…)(…)`. */
  readonly name: string;
  /** The transports it joins. */
  readonly parts: readonly QuickRpcTransport[];
  #routes = new Map<string, QuickRpcTransport>();
  #running = 0;

  /**
   * Joins `parts`; {@linkcode QuickRpcMux.open} opens them all.
   *
   * @param parts The transports.
   */
  constructor(parts: readonly QuickRpcTransport[]) {
    this.parts = parts;
    this.name = `mux:${parts.map((part) => `(${part.name})`).join("")}`;
  }

  /**
   * Opens every part at once; when one fails, the others are closed again
   * and it rejects with an `AggregateError` of the failures.
   */
  async open(sink: QuickRpcSink): Promise<void> {
    this.#running = this.parts.length;
    const results = await Promise.allSettled(
      this.parts.map((part) =>
        part.open({
          received: (sender, data, whole) => {
            this.#routes.set(sender, part);
            return sink.received(sender, data, whole);
          },
          ended: (error) => {
            for (const [sender, route] of this.#routes) {
              if (route === part) this.#routes.delete(sender);
            }
            if (--this.#running === 0) sink.ended(error);
          },
        })
      ),
    );
    const failures = results.flatMap((result) =>
      result.status === "rejected" ? [result.reason] : []
    );
    if (failures.length === 0) return;
    await Promise.all(
      this.parts.filter((_, i) => results[i]!.status === "fulfilled").map((part) => part.close()),
    );
    throw new AggregateError(
      failures,
      `${this.name}: ${failures.length} transport(s) failed to open`,
    );
  }

  /**
   * Sends to known senders on their own transport; a broadcast, or a
   * receiver not heard from yet, is offered to every part.
   */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (receivers === undefined) {
      await Promise.all(this.parts.map((part) => part.send(data)));
      return;
    }
    const byPart = new Map<QuickRpcTransport, string[]>();
    const unknown: string[] = [];
    for (const name of receivers) {
      const part = this.#routes.get(name);
      if (part === undefined) unknown.push(name);
      else byPart.set(part, [...byPart.get(part) ?? [], name]);
    }
    const sends = [...byPart].map(([part, names]) => part.send(data, names));
    if (unknown.length > 0) sends.push(...this.parts.map((part) => part.send(data, unknown)));
    await Promise.all(sends);
  }

  /** Closes every part. */
  async close(): Promise<void> {
    await Promise.all(this.parts.map((part) => part.close()));
  }
}
