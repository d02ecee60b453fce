/**
 * The mushroom session: a {@linkcode Channel} that outlives its sockets.
 * Each side numbers its messages from 0 with no gaps (responses and errors
 * use ids too); every message it sends stays in its outbox until the other
 * side's heartbeat acknowledges it, and is sent again on the next
 * transport; a message whose id was already seen is dropped. Transports
 * come and go (a WebSocket, long polls); the session expires a while after
 * the last one went away (`sessionTimeout`), and only then do its pending
 * calls fail.
 *
 * The session only moves and settles: its codec
 * (`protocol/dialects/mushroom_calls.ts`) numbers our messages and turns
 * them into mushroom's and back; the lists are written by
 * `protocol/dialects/mushroom_codec.ts`. Browser-safe: the server
 * ({@linkcode mushroomHandler}) and the client ({@linkcode connect}) attach
 * sockets and polls to it.
 *
 * @example Two sessions joined by a memory pair: resends after a drop
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { MushroomSession } from "@seed/rpc/mushroom";
 *
 * const serverSession = new MushroomSession({ role: "server" });
 * const clientSession = new MushroomSession({ role: "client" });
 * const server = new Peer(serverSession, { handlers: { add: ([a, b]) => a + b } });
 * const client = new Peer(clientSession);
 *
 * // A call made while no transport is attached waits in the outbox.
 * const sum = client.call("add", [1, 2]);
 * const [a, b] = memoryPair();
 * serverSession.attach(a);
 * clientSession.attach(b);
 * assertEquals(await sum, 3);
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import { CloseCode, type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed } from "../../protocol/wire/errors.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import { Fifo } from "../../protocol/wire/_fifo.ts";
import { consoleLogger, type Logger, rateLimitedLogger } from "../../protocol/shared/logger.ts";
import type { Message } from "../../protocol/wire/message.ts";
import type { CodecFeatures } from "../../protocol/wire/codec.ts";
import { ACCEPTED, InvalidFrame, type Transport } from "../../protocol/wire/transport.ts";
import { startInterval, startTimer } from "../../protocol/shared/_timer.ts";
import {
  encodeMushroom,
  MalformedBody,
  type MushroomJson,
  type MushroomMessage,
  parseMushroomBody,
  parseMushroomFrame,
} from "../../protocol/dialects/mushroom_codec.ts";
import { MushroomCallCodec } from "../../protocol/dialects/mushroom_calls.ts";

/**
 * Options for a {@linkcode MushroomSession}.
 */
export interface MushroomSessionOptions {
  /** Which side this is: the server writes JSON as Python does, the client compactly. */
  role: "server" | "client";
  /**
   * The session's id, for logs.
   *
   * @default {"mushroom"}
   */
  id?: string;
  /**
   * How message lists are written.
   *
   * @default {"python" for the server, "compact" for the client}
   */
  json?: MushroomJson;
  /**
   * Milliseconds without any transport after which the session expires:
   * it closes, and its pending calls fail. 0: never.
   *
   * @default {60000}
   */
  sessionTimeout?: number;
  /**
   * Milliseconds a long poll is held when there is nothing to send.
   *
   * @default {40000}
   */
  pollTimeout?: number;
  /**
   * Milliseconds between heartbeats on a socket (they also keep it alive
   * through proxies).
   *
   * @default {20000}
   */
  heartbeatInterval?: number;
  /**
   * A heartbeat acknowledges what was received after this many messages
   * (or `ackBytes` characters), or 50 ms after the first unacknowledged
   * one, whichever comes first; it goes at the end of the turn, after the
   * call or reply written in it. (A server counts to twice as many for a
   * client that sends heartbeats: it answers those too.) While calls flow,
   * the 50 ms usually come first: a Deno client's WebSocket keeps Nagle's
   * algorithm on, so its next write after a heartbeat waits for the
   * server's answer, and a heartbeat every few calls would stall that many.
   *
   * @default {1024}
   */
  ackEvery?: number;
  /**
   * A heartbeat acknowledges what was received once this many characters
   * came unacknowledged (large messages), whatever their number.
   *
   * @default {1048576}
   */
  ackBytes?: number;
  /**
   * Messages kept for resending until acknowledged. Beyond it (a peer that
   * never acknowledges, such as the published JavaScript client over a
   * WebSocket), the oldest are no longer kept, and a warning says so once.
   *
   * @default {4096}
   */
  maxUnacknowledged?: number;
  /**
   * The total size, in characters, of the messages kept for resending.
   *
   * @default {16777216}
   */
  maxUnacknowledgedBytes?: number;
  /**
   * A bound on what many sessions keep together (a server shares one among
   * its sessions); beyond it, the sessions keeping the most drop their
   * oldest messages, and one keeping only its newest is closed.
   *
   * @default {none: only this session's own bounds}
   */
  budget?: MushroomBudget;
  /**
   * The most characters of messages in one long-polling body (a poll's
   * answer, a client's send); the rest go in the next one. One message
   * always goes, however large.
   *
   * @default {1048576}
   */
  maxPollBytes?: number;
  /**
   * Received messages waiting for the peer before reading pauses.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /**
   * Whether the other side is ours and said in the handshake that it
   * streams: stream calls, items, credit, progress and cancels are then
   * carried (as `rpc.*` mushroom calls). Set by the client and the server
   * from the handshake; never on for mushroom.js or the Python original.
   *
   * @default {false}
   */
  streams?: boolean;
  /**
   * Where refused messages and dropped replies are logged (rate-limited).
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/** One message kept until the other side acknowledges it. */
interface Kept {
  readonly id: number;
  readonly text: string;
}

/** A long poll waiting for something to send. */
interface Waiting {
  wake(): void;
}

const ACK_DELAY_MS = 50;

/** No refusals: a frame whose one message was read. */
const NONE: readonly string[] = Object.freeze([]);

const STREAMS: CodecFeatures = Object.freeze({ streams: true });
const NO_STREAMS_CLIENT: CodecFeatures = Object.freeze({
  streams: false,
  hint: "connect with { streams: true } to ask a server of ours for them " +
    "(mushroom's Python server cannot stream)",
});
const NO_STREAMS_SERVER: CodecFeatures = Object.freeze({
  streams: false,
  hint: "the client did not ask for streams in its handshake (mushroom.js cannot stream)",
});

/**
 * A bound on the unacknowledged messages many sessions keep together, in
 * characters. When a session's new message takes the total past `limit`,
 * the session keeping the most gives way, again and again until the total
 * is back under 7/8 of it: it drops its oldest messages, or, when it keeps
 * only its newest (which is never dropped) and the total is still past
 * `limit`, it is closed ({@linkcode CloseCode.WriteOverflow}, a warning
 * each) and lets go of what it kept. So once a message is counted, the
 * total is within `limit` again: only that message, while it is being
 * counted, is ever over it. Each session's own bounds hold too.
 *
 * @example Two sessions under one bound
 * ```ts
 * import { assertEquals, assertLessOrEqual } from "@std/assert";
 * import { MushroomBudget, MushroomSession } from "@seed/rpc/mushroom";
 *
 * const budget = new MushroomBudget(1000);
 * const quiet = { debug() {}, warn() {}, error() {} };
 * const a = new MushroomSession({ role: "server", budget, logger: quiet });
 * const b = new MushroomSession({ role: "server", budget, logger: quiet });
 * for (let i = 0; i < 20; i++) {
 *   await a.send({ kind: "notification", method: "tick", params: ["x".repeat(80)] });
 * }
 * await b.send({ kind: "notification", method: "tick", params: ["y".repeat(80)] });
 * assertLessOrEqual(budget.bytes, 1000);
 * assertEquals(budget.bytes, a.unacknowledgedBytes + b.unacknowledgedBytes);
 * assertEquals(b.unacknowledged, 1); // the session keeping the most gave way
 * await a.close();
 * await b.close();
 * assertEquals(budget.bytes, 0);
 * ```
 *
 * @example A session whose one message does not fit is closed, the others keep theirs
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { CloseCode } from "@seed/rpc";
 * import { MushroomBudget, MushroomSession } from "@seed/rpc/mushroom";
 *
 * const budget = new MushroomBudget(1000);
 * const quiet = { debug() {}, warn() {}, error() {} };
 * const small = new MushroomSession({ role: "server", budget, logger: quiet });
 * const large = new MushroomSession({ role: "server", budget, logger: quiet });
 * await small.send({ kind: "notification", method: "tick", params: ["x".repeat(100)] });
 * // A newest message is never dropped: past the bound, its session is closed.
 * await assertRejects(() =>
 *   large.send({ kind: "notification", method: "big", params: ["y".repeat(2000)] })
 * );
 * assertEquals(large.closeReason?.code, CloseCode.WriteOverflow);
 * assertEquals(small.unacknowledged, 1);
 * assertEquals(budget.bytes, small.unacknowledgedBytes);
 * await small.close();
 * ```
 */
export class MushroomBudget {
  /** The bound, in characters. */
  readonly limit: number;
  #bytes = 0;
  /** Sessions keeping something now. */
  #holders = new Set<MushroomSession>();

  /**
   * Makes a bound shared by the sessions given it as their `budget`.
   *
   * @param limit The most characters kept by all of them together.
   */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** What the sessions keep now, in characters. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Counts `bytes` more kept by `session` (sessions call it); past the
   * limit, the sessions keeping the most drop their oldest messages.
   */
  charge(session: MushroomSession, bytes: number): void {
    this.#bytes += bytes;
    this.#holders.add(session);
    if (this.#bytes > this.limit) this.#reclaim(session);
  }

  /** Counts `bytes` that `session` no longer keeps (sessions call it). */
  release(session: MushroomSession, bytes: number): void {
    this.#bytes -= bytes;
    if (session.unacknowledgedBytes === 0 || session.closeReason !== undefined) {
      this.#holders.delete(session);
    }
  }

  /**
   * The largest holder gives way until the total is under 7/8 of the limit:
   * it sheds its oldest messages, or, keeping only its newest while the
   * total is past the limit, it is closed (which releases what it kept).
   * Of equals, `charged` (whose message did not fit) gives way first.
   */
  #reclaim(charged: MushroomSession): void {
    const target = this.limit - Math.floor(this.limit / 8);
    while (this.#bytes > target) {
      let largest = this.#holders.has(charged) ? charged : undefined;
      for (const session of this.#holders) {
        if (largest === undefined || session.unacknowledgedBytes > largest.unacknowledgedBytes) {
          largest = session;
        }
      }
      if (largest === undefined) return;
      if (largest.shed(this.#bytes - target) > 0) continue;
      if (this.#bytes <= this.limit) return;
      const kept = largest.unacknowledgedBytes;
      // Closing releases its characters at once (and drops them).
      largest.close(closeReason(
        CloseCode.WriteOverflow,
        `it kept ${kept} characters unacknowledged, the most of the sessions sharing a bound ` +
          `of ${this.limit} (maxUnacknowledgedBytesTotal), and they were past it`,
      ));
      if (this.#holders.has(largest)) return; // closing released it; never loop forever
    }
  }
}

/**
 * One mushroom session: the channel a {@linkcode Peer} talks through,
 * whichever transports carry it.
 *
 * @example Long polling by hand: a poll is answered with what is unacknowledged
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer } from "@seed/rpc";
 * import { MushroomSession } from "@seed/rpc/mushroom";
 *
 * const session = new MushroomSession({ role: "server" });
 * const server = new Peer(session, { handlers: { get_time: () => 1342106240 } });
 * // The published client sends its queue, then polls with a heartbeat.
 * assertEquals(await session.poll('[[2, 6, "get_time"]]'), "null");
 * assertEquals(await session.poll("[[0, null]]"), "[[3, 0, 6, 1342106240]]");
 * await server.close();
 * ```
 */
export class MushroomSession extends InboxChannel {
  /** The session's id. */
  readonly id: string;
  /** Milliseconds without a transport before the session expires (0: never). */
  readonly sessionTimeout: number;
  /** A session ends by itself when its other side is gone: a server's idle timeout does not apply. */
  readonly expires = true;
  /** What the session carries beyond plain calls: streams, when both sides said so. */
  readonly features: CodecFeatures | undefined;
  #json: MushroomJson;
  #server: boolean;
  /** Whether the other side sends heartbeats (mushroom.js does not, and chokes on ours). */
  #peerBeats = false;
  #logger: Logger;
  #pollTimeout: number;
  #heartbeatInterval: number;
  #ackEvery: number;
  #ackBytes: number;
  #maxKept: number;
  #maxKeptBytes: number;
  #budget: MushroomBudget | undefined;
  /** The most characters of messages in one poll body. */
  readonly maxPollBytes: number;
  /** Numbers our messages and maps them to mushroom's and back. */
  #codec: MushroomCallCodec;
  /** Messages kept until acknowledged, oldest first. */
  #kept = new Fifo<Kept>();
  #keptBytes = 0;
  #warnedUnacknowledged = false;
  #lastSeen: number | null = null;
  #lastAcked: number | null = null;
  #unacked = 0;
  /** Characters of frames received on the socket since the last heartbeat. */
  #unackedBytes = 0;
  /** A heartbeat goes at the end of this turn (the count or size was reached). */
  #ackDue = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** A server read from the socket and has written nothing since (see #noteReceived). */
  #owed = false;
  /** Requests received and not answered yet: their replies will carry the TCP ACK. */
  #repliesDue = 0;
  /** The pending check of #owe and #ackDue (a `soon` handle). */
  #guardTimer: unknown;
  #socket: Transport<string> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #waiting: Waiting | undefined;
  #changed: PromiseWithResolvers<void> | undefined;
  #flushed: PromiseWithResolvers<void> | undefined;
  /** Transports attached now: a socket, polls in progress. */
  #attached = 0;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  /** Duplicates dropped (messages whose id was already seen). */
  duplicates = 0;
  /** Messages whose id skipped ahead (lost or reordered on the way). */
  gaps = 0;

  /**
   * Makes a session with no transport yet; its expiry clock starts now.
   *
   * @param options The side, timeouts and bounds.
   */
  constructor(options: MushroomSessionOptions) {
    super(options.highWaterMark ?? 1024);
    this.id = options.id ?? "mushroom";
    this.#server = options.role === "server";
    this.#json = options.json ?? (options.role === "server" ? "python" : "compact");
    this.#logger = rateLimitedLogger(options.logger ?? consoleLogger);
    this.sessionTimeout = options.sessionTimeout ?? 60_000;
    this.#pollTimeout = options.pollTimeout ?? 40_000;
    this.#heartbeatInterval = options.heartbeatInterval ?? 20_000;
    this.#ackEvery = options.ackEvery ?? 1024;
    this.#ackBytes = options.ackBytes ?? 1024 * 1024;
    this.#maxKept = options.maxUnacknowledged ?? 4096;
    this.#maxKeptBytes = options.maxUnacknowledgedBytes ?? 16 * 1024 * 1024;
    this.#budget = options.budget;
    this.maxPollBytes = options.maxPollBytes ?? 1024 * 1024;
    this.#codec = new MushroomCallCodec(this.#logger, this.id, options.streams === true);
    this.features = options.streams === true
      ? STREAMS
      : options.role === "client"
      ? NO_STREAMS_CLIENT
      : NO_STREAMS_SERVER;
    this.#startExpiry();
  }

  // ---- the Channel --------------------------------------------------------

  /** The session's codec: its `name`, `mushroom`, names the wire in errors. */
  get codec(): { readonly name: string } {
    return this.#codec;
  }

  /** The session's id, for logs. */
  get remote(): string {
    return this.id;
  }

  /** Whether a socket is attached now. */
  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /** How many messages are kept, unacknowledged. */
  get unacknowledged(): number {
    return this.#kept.length;
  }

  /** The size of the messages kept, unacknowledged, in characters. */
  get unacknowledgedBytes(): number {
    return this.#keptBytes;
  }

  /** The highest message id received from the other side (`null`: none yet). */
  get lastSeen(): number | null {
    return this.#lastSeen;
  }

  /**
   * Encodes `message` (the codec numbers it), keeps it until acknowledged,
   * and writes it to the socket if one is attached (or hands it to the
   * waiting poll).
   */
  send(message: Message, _to?: string): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    const wire = this.#codec.encodeOne(message);
    if (wire === undefined) return ACCEPTED;
    if ((wire.code === 3 || wire.code === 4) && this.#repliesDue > 0) this.#repliesDue--;
    let text: string;
    try {
      text = encodeMushroom(wire, this.#json);
    } catch (error) {
      if (wire.code === 2) this.#codec.forget(wire.id);
      if (wire.code !== 3 && wire.code !== 4) return Promise.reject(error);
      // A reply that cannot be serialised (a result, a stream call's whole
      // error) is answered as an internal error.
      text = encodeMushroom({ ...wire, code: 4, data: "Internal server error" }, this.#json);
    }
    this.#keep({ id: (wire as { id: number }).id, text });
    // The shared bound closed this session for keeping the most.
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    const socket = this.#socket;
    let sent: Promise<void> = ACCEPTED;
    if (socket !== undefined) {
      this.#owed = false;
      sent = socket.send(text);
    }
    this.#wakePoll();
    return sent === ACCEPTED ? ACCEPTED : sent.catch(ignore);
  }

  /**
   * Ends the session: tells the other side (`[-1]`) where a transport is
   * there to carry it, closes the socket, answers a waiting poll, and fails
   * what is pending.
   */
  async close(reason?: string | CloseReason): Promise<void> {
    const why = this.beginClose(reason);
    if (why === undefined) return this.closed;
    clearTimeout(this.#expiry);
    clearTimeout(this.#ackTimer);
    if (this.#guardTimer !== undefined) cancelSoon(this.#guardTimer);
    clearInterval(this.#heartbeatTimer);
    // What a last poll may still take is no longer counted against others.
    this.#budget?.release(this, this.#keptBytes);
    this.#budget = undefined;
    if (why.code === CloseCode.WriteOverflow) {
      // Closed for keeping too much: what it kept goes too.
      this.#logger.warn(`${this.id}: closed: ${why.message}`);
      this.#kept.clear();
      this.#keptBytes = 0;
    }
    if (why.code !== CloseCode.Remote) {
      // The other side is told, unless it is the one that ended it.
      this.#keep({ id: -1, text: encodeMushroom({ code: -1 }, this.#json) });
    }
    this.#wakePoll();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      if (why.code !== CloseCode.Remote) {
        await socket.send(encodeMushroom({ code: -1 }, this.#json)).catch(ignore);
      }
      await socket.close(why);
    }
    this.finishClose();
    return this.closed;
  }

  // ---- transports ---------------------------------------------------------

  /**
   * Carries the session over `socket` (a WebSocket, one message per frame)
   * until it ends; a socket attached earlier is closed. What is
   * unacknowledged is sent again first. Resolves with why the socket ended.
   */
  async attach(socket: Transport<string>): Promise<CloseReason> {
    if (this.closeReason !== undefined) {
      await socket.close(this.closeReason);
      return this.closeReason;
    }
    const previous = this.#socket;
    this.#socket = socket;
    this.#hold();
    previous?.close(closeReason(CloseCode.Local, "replaced by a newer connection")).catch(ignore);
    for (let i = 0; i < this.#kept.length; i++) {
      socket.send(this.#kept.at(i)!.text).catch(ignore);
    }
    if (this.#lastSeen !== null && this.#speaksHeartbeats()) this.#sendHeartbeat();
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = startInterval(this.#periodic, this.#heartbeatInterval);
    const one: MushroomMessage[] = [];
    try {
      for await (const frame of socket.frames) {
        if (frame instanceof InvalidFrame) {
          this.#logger.warn(`${this.id}: refused a frame: ${frame.reason}`);
          continue;
        }
        this.#unackedBytes += frame.length;
        // A frame holds one message: delivered from `one`, with no body made
        // for it (the next frame is read once this one is delivered).
        const parsed = parseMushroomFrame(frame);
        let delivered;
        if ("code" in parsed) {
          one[0] = parsed;
          delivered = this.#deliver(one, NONE);
        } else {
          delivered = this.#deliver(parsed.messages, parsed.refused);
        }
        if (typeof delivered !== "boolean") await delivered;
        if (this.closeReason !== undefined) break;
      }
    } catch (error) {
      this.#logger.debug(`${this.id}: the socket failed`, error);
    }
    if (this.#socket === socket) {
      this.#socket = undefined;
      clearInterval(this.#heartbeatTimer);
      this.#heartbeatTimer = undefined;
    }
    this.#release();
    await socket.close();
    return socket.closeReason ?? closeReason(CloseCode.Remote, "the socket ended");
  }

  /**
   * Drops the current socket and answers a waiting poll, without ending the
   * session: the other side reconnects, and what was unacknowledged is sent
   * again. (For tests of reconnects, or to move clients off a server.)
   */
  async detach(reason = "detached"): Promise<void> {
    const socket = this.#socket;
    this.#waiting?.wake();
    if (socket !== undefined) await socket.close(closeReason(CloseCode.Local, reason));
  }

  /**
   * Serves one long-polling request (the server's side): reads the
   * messages in `body`; a body with a heartbeat is a poll, held until there
   * is something to send (up to `pollTimeout`, or until `signal` aborts or
   * a newer poll comes) and answered with every unacknowledged message; a
   * body without one is a send, answered `null`.
   */
  async poll(body: string, signal?: AbortSignal): Promise<string> {
    const parsed = parseMushroomBody(body);
    if (parsed.messages.length === 0 && parsed.refused.length > 0) {
      throw new MalformedBody(parsed.refused[0]!);
    }
    this.#hold();
    try {
      const heartbeat = await this.#deliver(parsed.messages, parsed.refused);
      if (!heartbeat) return "null";
      if (this.unacknowledged === 0 && this.closeReason === undefined && !signal?.aborted) {
        await this.#waitForSomething(signal);
      }
      return this.pollBody({ heartbeat: false, messages: true, maxBytes: this.maxPollBytes }).body;
    } finally {
      this.#release();
    }
  }

  /**
   * Reads one frame or body of messages from the other side; resolves with
   * whether it held a heartbeat, once every message is delivered (waiting
   * while the peer is behind).
   */
  receive(text: string): Promise<boolean> {
    const body = parseMushroomBody(text);
    const delivered = this.#deliver(body.messages, body.refused);
    return typeof delivered === "boolean" ? Promise.resolve(delivered) : delivered;
  }

  /**
   * Delivers `messages` from the `from`th on (saying why each `refused` one was); whether it held a
   * heartbeat, or a promise of it while the peer is behind (the rest are
   * delivered once it made room). Synchronous otherwise: a frame costs no
   * promise.
   */
  #deliver(
    messages: readonly MushroomMessage[],
    refused: readonly string[],
    from = 0,
    beat = false,
  ): boolean | Promise<boolean> {
    if (from === 0) {
      for (const reason of refused) {
        this.#logger.warn(`${this.id}: refused a message: ${reason}`);
      }
    }
    let heartbeat = beat;
    for (let i = from; i < messages.length; i++) {
      const message = messages[i]!;
      if (this.closeReason !== undefined) break;
      if (message.code === 0) {
        heartbeat = true;
        this.#peerBeats = true;
        if (message.lastId !== null) this.acknowledge(message.lastId);
        // The client's next write waits for an answer (see #noteReceived):
        // a reply that is due carries it, else a heartbeat at once.
        if (this.#server && this.#socket !== undefined) {
          if (this.#repliesDue > 0) this.#owe();
          else this.#sendHeartbeat();
        }
        continue;
      }
      if (message.code === -1) {
        this.close(closeReason(CloseCode.Remote, "the other side ended the session"));
        break;
      }
      if (this.#lastSeen !== null && message.id <= this.#lastSeen) {
        this.duplicates++;
        continue;
      }
      if (message.id !== (this.#lastSeen ?? -1) + 1) this.#gap(message.id);
      this.#lastSeen = message.id;
      if (message.code === 2) this.#repliesDue++;
      this.#noteReceived();
      const delivered = this.#codec.decode(message);
      // One message in, at most one out: none is a reply to no call of ours.
      if ("kind" in delivered) {
        const room = this.deliver({ message: delivered });
        if (room !== undefined) return this.#deliverLater(room, messages, i + 1, heartbeat);
      }
    }
    return heartbeat;
  }

  /** The rest of `body`, once the peer made `room`. */
  async #deliverLater(
    room: Promise<void>,
    messages: readonly MushroomMessage[],
    from: number,
    heartbeat: boolean,
  ): Promise<boolean> {
    await room.catch(ignore);
    return await this.#deliver(messages, NONE, from, heartbeat);
  }

  /** Forgets what the other side has received: every kept message up to `lastId`. */
  acknowledge(lastId: number): void {
    const kept = this.#kept;
    let freed = 0;
    for (let next = kept.peek(); next !== undefined && next.id <= lastId && next.id >= 0;) {
      freed += next.text.length;
      kept.shift();
      next = kept.peek();
    }
    if (freed > 0) {
      this.#keptBytes -= freed;
      this.#budget?.release(this, freed);
    }
    if (this.#flushed !== undefined && this.unacknowledged === 0) {
      this.#flushed.resolve();
      this.#flushed = undefined;
    }
  }

  /**
   * Resolves with true once the other side has acknowledged everything
   * sent so far, or with false after `timeout` milliseconds. Over a socket,
   * a heartbeat asks for the acknowledgement at once.
   */
  async flushed(timeout: number): Promise<boolean> {
    if (this.unacknowledged === 0) return true;
    // A heartbeat asks for the acknowledgement now (ours answer one at once).
    if (this.#speaksHeartbeats()) this.#sendHeartbeat();
    this.#flushed ??= Promise.withResolvers<void>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) =>
      timer = startTimer(() => resolve(false), timeout)
    );
    try {
      return await Promise.race([this.#flushed.promise.then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A long-polling body: a heartbeat with the highest id received (a
   * client's poll), and the unacknowledged messages, oldest first, up to
   * `maxBytes` characters (a client's send, or the server's answer to a
   * poll; at least one message). Once the server answered a client's body,
   * HTTP delivered it: acknowledge `sentUpTo`.
   */
  pollBody(
    parts: { heartbeat: boolean; messages: boolean; maxBytes?: number },
  ): { body: string; sentUpTo: number | undefined } {
    const texts: string[] = parts.heartbeat
      ? [encodeMushroom({ code: 0, lastId: this.#lastSeen }, this.#json)]
      : [];
    let sentUpTo: number | undefined;
    if (parts.messages) {
      const max = parts.maxBytes ?? Infinity;
      let size = 0;
      for (let i = 0; i < this.#kept.length; i++) {
        const kept = this.#kept.at(i)!;
        if (size > 0 && size + kept.text.length > max) break;
        size += kept.text.length;
        texts.push(kept.text);
        if (kept.id >= 0) sentUpTo = kept.id;
      }
    }
    const separator = this.#json === "python" ? ", " : ",";
    return { body: `[${texts.join(separator)}]`, sentUpTo };
  }

  /** Resolves when a message is queued to send (for a client's poll loop). */
  changed(): Promise<void> {
    if (this.unacknowledged > 0 || this.closeReason !== undefined) return Promise.resolve();
    this.#changed ??= Promise.withResolvers<void>();
    return this.#changed.promise;
  }

  /** A transport that is not a socket (a client's poll loop) is carrying the session. */
  hold(): void {
    this.#hold();
  }

  /** That transport stopped. */
  release(): void {
    this.#release();
  }

  // ---- keeping, acknowledging ---------------------------------------------------

  #keep(entry: Kept): void {
    this.#kept.push(entry);
    this.#keptBytes += entry.text.length;
    let dropped = 0;
    while (
      this.unacknowledged > this.#maxKept ||
      (this.#keptBytes > this.#maxKeptBytes && this.unacknowledged > 1)
    ) {
      dropped += this.#dropOldest();
    }
    this.#budget?.charge(this, entry.text.length - dropped);
  }

  /**
   * Drops the oldest kept messages (never the newest) until `bytes`
   * characters are freed or one is left; returns how many were freed. A
   * shared {@linkcode MushroomBudget} calls it.
   */
  shed(bytes: number): number {
    let freed = 0;
    while (freed < bytes && this.unacknowledged > 1) freed += this.#dropOldest();
    if (freed > 0) this.#budget?.release(this, freed);
    return freed;
  }

  /** Drops the oldest kept message (said once per session); its size. */
  #dropOldest(): number {
    if (!this.#warnedUnacknowledged) {
      this.#warnedUnacknowledged = true;
      this.#logger.warn(
        `${this.id}: the other side acknowledges nothing (${this.unacknowledged} messages kept); ` +
          "the oldest are no longer kept for resending after a reconnect",
      );
    }
    const size = this.#kept.shift()!.text.length;
    this.#keptBytes -= size;
    return size;
  }

  /** A message id skipped ahead: counted, and said once per session. */
  #gap(id: number): void {
    if (this.gaps++ === 0) {
      this.#logger.warn(
        `${this.id}: message ids skipped from ${this.#lastSeen ?? "none"} to ${id}: ` +
          "messages were lost or reordered on the way (said once per session)",
      );
    }
  }

  /** Whether heartbeats go to the other side: ours always, a server's only to a peer that sends them. */
  #speaksHeartbeats(): boolean {
    return !this.#server || this.#peerBeats;
  }

  /**
   * Acknowledges after `ackEvery` messages (a server: twice as many, since
   * it also answers its client's heartbeats) or `ackBytes` characters, at the
   * end of the turn, or `ACK_DELAY_MS` after the first one unacknowledged. A
   * Deno client's heartbeat holds back its next write until the server
   * answers it (Nagle): written after the turn's call, it goes when that
   * call's reply brings the ACK, while the client reads the reply; and with
   * the default count the timer comes first while calls flow (a heartbeat
   * in a few hundred calls, not one in 32). A server also writes something
   * by the end of the turn that read: a client write it does not answer
   * would hold the client's next write for the 40 ms of a delayed ACK. A
   * reply written in that turn carries the ACK, so the heartbeat goes only
   * when nothing was written (no frame per call, and no timer: see `soon`).
   */
  #noteReceived(): void {
    if (this.#socket === undefined) return; // polls acknowledge by their heartbeat
    let every = this.#ackEvery;
    if (this.#server) {
      if (!this.#peerBeats) return; // mushroom.js: no heartbeats for it
      this.#owe();
      // Its client's heartbeats, each answered, acknowledge it about as
      // often: counting to twice as many spares a frame per `ackEvery`.
      every *= 2;
    }
    if (++this.#unacked >= every || this.#unackedBytes >= this.#ackBytes) {
      // After what this turn writes (the next call, a reply): written
      // before it, the heartbeat would hold it back (Nagle, above).
      this.#ackDue = true;
      this.#guardTimer ??= soon(this.#guard);
    } else if (this.#ackTimer === undefined) {
      this.#ackTimer = setTimeout(this.#ackNow, ACK_DELAY_MS);
    }
  }

  #ackNow = (): void => {
    this.#ackTimer = undefined;
    if (this.#lastSeen !== this.#lastAcked) this.#sendHeartbeat();
  };

  /** Something must be written soon: a heartbeat once this turn is over, unless a frame went. */
  #owe(): void {
    this.#owed = true;
    this.#guardTimer ??= soon(this.#guard);
  }

  /** A heartbeat that is due, or owed by a server that read and wrote nothing back since (Nagle, above). */
  #guard = (): void => {
    this.#guardTimer = undefined;
    if (this.#owed || this.#ackDue) this.#sendHeartbeat();
  };

  /** The heartbeat on a timer, which also keeps the socket alive through proxies. */
  #periodic = (): void => {
    if (this.#speaksHeartbeats()) this.#sendHeartbeat();
  };

  #sendHeartbeat(): void {
    const socket = this.#socket;
    if (socket === undefined || this.closeReason !== undefined) return;
    this.#unacked = 0;
    this.#unackedBytes = 0;
    this.#ackDue = false;
    this.#owed = false;
    this.#lastAcked = this.#lastSeen;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    socket.send(encodeMushroom({ code: 0, lastId: this.#lastSeen }, this.#json)).catch(ignore);
  }

  // ---- polls and expiry -----------------------------------------------------------

  #waitForSomething(signal: AbortSignal | undefined): Promise<void> {
    // A newer poll answers the older one at once.
    this.#waiting?.wake();
    return new Promise<void>((resolve) => {
      const waiting: Waiting = {
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", waiting.wake);
          if (this.#waiting === waiting) this.#waiting = undefined;
          resolve();
        },
      };
      const timer = startTimer(waiting.wake, this.#pollTimeout);
      signal?.addEventListener("abort", waiting.wake, { once: true });
      this.#waiting = waiting;
    });
  }

  #wakePoll(): void {
    this.#waiting?.wake();
    const changed = this.#changed;
    this.#changed = undefined;
    changed?.resolve();
  }

  #hold(): void {
    this.#attached++;
    clearTimeout(this.#expiry);
    this.#expiry = undefined;
  }

  #release(): void {
    this.#attached--;
    if (this.#attached === 0) this.#startExpiry();
  }

  #startExpiry(): void {
    if (this.sessionTimeout <= 0 || this.closeReason !== undefined) return;
    clearTimeout(this.#expiry);
    this.#expiry = startTimer(() => {
      this.#logger.debug(`${this.id}: expired`);
      this.close(
        closeReason(
          CloseCode.Expired,
          `no transport for ${this.sessionTimeout} ms: the session expired`,
        ),
      );
    }, this.sessionTimeout);
  }
}

function ignore(): void {}

/**
 * Runs `callback` once this turn's microtasks have run (a reply made in
 * them has gone): `setImmediate` where there is one (Deno, Node), which
 * costs no timer, else a timer.
 */
const soon: (callback: () => void) => unknown = typeof globalThis.setImmediate === "function"
  ? globalThis.setImmediate
  : (callback) => setTimeout(callback, 0);

/** Cancels what {@linkcode soon} started. */
const cancelSoon: (handle: unknown) => void = typeof globalThis.clearImmediate === "function"
  ? (handle) => clearImmediate(handle as ReturnType<typeof setImmediate>)
  : (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>);
