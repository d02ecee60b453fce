/**
 * The counters a {@linkcode Peer} keeps: {@linkcode PeerStats}, read with
 * `peer.stats()`.
 *
 * @module
 */

import type { LatencySummary } from "./latency.ts";

/**
 * Counters a peer keeps; read them with {@linkcode Peer.stats}.
 *
 * @example A new peer's counters
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const peer = new Peer(a);
 * assertEquals(peer.stats(), {
 *   pendingCalls: 0,
 *   runningHandlers: 0,
 *   lateReplies: 0,
 *   unknownReplies: 0,
 *   invalidMessages: 0,
 *   messagesReceived: 0,
 *   messagesSent: 0,
 * });
 * await peer.close();
 * await b.closed;
 * ```
 */
export interface PeerStats {
  /** Our calls awaiting a reply. */
  pendingCalls: number;
  /** Incoming calls and notifications being handled. */
  runningHandlers: number;
  /** Replies to calls that had already timed out or been cancelled (dropped). */
  lateReplies: number;
  /** Replies to ids this peer was not waiting for (dropped). */
  unknownReplies: number;
  /** Messages that were not valid (answered or logged). */
  invalidMessages: number;
  /** Messages received (each entry of a batch counts). */
  messagesReceived: number;
  /** Messages handed to the channel (a batch of replies counts once). */
  messagesSent: number;
  /** From a call to its reply, answered calls only (with the `latency` option). */
  callLatency?: LatencySummary;
  /** From a handler's start to its end (with the `latency` option). */
  handlerLatency?: LatencySummary;
}
