/**
 * quickrpc's announcer (`announcer_api.py`): a seeker notifies
 * `seek(filter)`, every service that matches notifies `advertise(description)`
 * back. Both are notifications, so it works over any quickrpc dialect
 * and any transport, usually terse over UDP broadcast.
 *
 * @module
 */

import type { ContractDefinition } from "../contract/contract.ts";
import type { CallContext, Handler, PeerHandle } from "../peer/context.ts";

/**
 * The announcer's methods, seen from the announcing side: it takes `seek`
 * and sends `advertise`. Give it to `defineContract` (`@seed/rpc/contract`);
 * the seeker uses its `invert()`.
 *
 * @example The seeking side of the contract
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { defineContract } from "@seed/rpc/contract";
 * import { announcerContract } from "@seed/rpc/quickrpc";
 * const Seeker = defineContract(announcerContract).invert();
 * assertEquals(Object.keys(Seeker.outgoing), ["seek"]);
 * ```
 */
export const announcerContract = {
  name: "quickrpc.announcer",
  incoming: {
    seek: {
      notification: true,
      description: "Asks services that match `filter` to advertise themselves.",
      params: { type: "object", properties: { filter: {} } },
    },
  },
  outgoing: {
    advertise: {
      notification: true,
      description: "Tells a seeker that this service is present, and what it is.",
      params: { type: "object", properties: { description: {} } },
    },
  },
} as const satisfies ContractDefinition;

/** Options for {@linkcode announcerHandlers} and {@linkcode announce}. */
export interface AnnouncerOptions {
  /** What this service advertises (any value the dialect carries). */
  description: unknown;
  /**
   * Whether a seek's `filter` (`""` when the seeker gave none) matches this
   * service.
   *
   * @default {every filter matches}
   */
  matches?: (filter: unknown) => boolean;
}

/**
 * The `seek` handler, for a `Server`'s or `Peer`'s `handlers`: it answers a
 * matching seek with `advertise(description)`, sent to the seeker alone on
 * channels that route (the original broadcasts it to everyone).
 *
 * @example An announcing server
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { announcerHandlers } from "@seed/rpc/quickrpc";
 * const [a, b] = memoryPair();
 * const service = new Peer(a, { handlers: announcerHandlers({ description: "printer" }) });
 * const seen = Promise.withResolvers<unknown>();
 * const seeker = new Peer(b, { handlers: { advertise: (p: unknown) => seen.resolve(p) } });
 * await seeker.notify("seek", { filter: "" });
 * assertEquals(await seen.promise, { description: "printer" });
 * await seeker.close();
 * await service.closed;
 * ```
 */
export function announcerHandlers(options: AnnouncerOptions): { seek: Handler } {
  const { description, matches } = options;
  return {
    seek: (params: unknown, ctx: CallContext) => {
      const filter = isRecord(params) && params.filter !== undefined ? params.filter : "";
      if (matches !== undefined && !matches(filter)) return undefined;
      return ctx.peer.notify(
        "advertise",
        { description },
        ctx.from === undefined ? undefined : { to: ctx.from },
      );
    },
  };
}

/**
 * Makes `peer` answer seeks: registers {@linkcode announcerHandlers}'s
 * `seek` on it.
 */
export function announce<P extends PeerHandle>(peer: P, options: AnnouncerOptions): P {
  peer.handle("seek", announcerHandlers(options).seek);
  return peer;
}

/** One advertisement a seek collected. */
export interface Advertisement {
  /** What the service advertised. */
  description: unknown;
  /** Who sent it, on channels that say (`ctx.from`). */
  from: string | undefined;
}

/** Options for {@linkcode seek}. */
export interface SeekOptions {
  /**
   * Ends the window: advertisements are collected until it aborts (or the
   * peer closes). The caller owns the timer, e.g. `AbortSignal.timeout(500)`.
   */
  signal: AbortSignal;
  /**
   * What services are wanted; the original leaves its form open.
   *
   * @default {""}
   */
  filter?: unknown;
  /**
   * Whom to ask, on channels that route (names on a `MemoryBus`); left out,
   * the seek goes where the channel sends (its one party, or a broadcast).
   *
   * @default {the channel's default}
   */
  to?: string | readonly string[];
  /** Called with each advertisement as it arrives. */
  onAdvertise?: (advertisement: Advertisement) => void;
}

/** One running seek: takes advertisements, and ends early when the peer closes. */
interface Collector {
  collect(advertisement: Advertisement): void;
  end(): void;
}

/** The seeks running on each peer; its `advertise` handler and its close feed them. */
const seeking = new WeakMap<PeerHandle, Set<Collector>>();

/** The seeks of `peer`, registering its `advertise` handler the first time. */
function collectorsOf(peer: PeerHandle): Set<Collector> {
  let collectors = seeking.get(peer);
  if (collectors !== undefined) return collectors;
  if (peer.handles("advertise")) {
    throw new TypeError("seek: the peer already handles 'advertise' itself");
  }
  const set = collectors = new Set();
  seeking.set(peer, set);
  peer.handle("advertise", (params: unknown, ctx: CallContext) => {
    const description = isRecord(params) && params.description !== undefined
      ? params.description
      : "";
    const advertisement: Advertisement = { description, from: ctx.from };
    for (const collector of set) collector.collect(advertisement);
  });
  const endAll = () => {
    for (const collector of set) collector.end();
  };
  peer.closed.then(endAll, endAll);
  return set;
}

/**
 * Notifies `seek(filter)` and collects the advertisements that arrive until
 * `signal` aborts. The first seek on a peer registers its `advertise`
 * handler (it throws if the peer already has another one); between seeks,
 * advertisements are dropped.
 *
 * @example Seeking over the memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { announce, seek } from "@seed/rpc/quickrpc";
 * const [a, b] = memoryPair();
 * const service = announce(new Peer(a), { description: { kind: "printer" } });
 * const seeker = new Peer(b);
 * const stop = new AbortController();
 * const found = seek(seeker, { signal: stop.signal, onAdvertise: () => stop.abort() });
 * assertEquals((await found).map((ad) => ad.description), [{ kind: "printer" }]);
 * await seeker.close();
 * await service.closed;
 * ```
 */
export async function seek(peer: PeerHandle, options: SeekOptions): Promise<Advertisement[]> {
  const { signal, onAdvertise } = options;
  const collectors = collectorsOf(peer);
  const found: Advertisement[] = [];
  const ended = Promise.withResolvers<void>();
  const collector: Collector = {
    collect: (advertisement) => {
      found.push(advertisement);
      onAdvertise?.(advertisement);
    },
    end: () => ended.resolve(),
  };
  collectors.add(collector);
  signal.addEventListener("abort", collector.end, { once: true });
  try {
    if (!signal.aborted && !peer.isClosed) {
      const params = options.filter === undefined ? {} : { filter: options.filter };
      const to = options.to;
      if (to === undefined) await peer.notify("seek", params);
      else {for (const name of typeof to === "string" ? [to] : to) {
          await peer.notify("seek", params, { to: name });
        }}
      await ended.promise;
    }
  } finally {
    collectors.delete(collector);
    signal.removeEventListener("abort", collector.end);
  }
  return found;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
