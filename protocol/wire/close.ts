/**
 * Why a connection or channel ended, as a value: a {@linkcode CloseCode} to
 * match on and a message for people. Transports, channels and peers pass the
 * same value along, so code never compares close messages as strings.
 *
 * @example Tell a remote close from a local one
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { CloseCode, memoryPair, Peer } from "@seed/rpc";
 *
 * const [a, b] = memoryPair();
 * const left = new Peer(a);
 * const right = new Peer(b);
 * await left.close("done for today");
 * await right.closed;
 * assertEquals(left.closeReason, { code: CloseCode.Local, message: "done for today" });
 * assertEquals(right.closeReason?.code, CloseCode.Remote);
 * ```
 *
 * @module
 */

/**
 * The kinds of reasons a connection ends.
 *
 * @example Close codes are strings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { CloseCode } from "@seed/rpc";
 * assertEquals(CloseCode.Remote, "remote");
 * ```
 */
export const CloseCode = {
  /** `close()` was called on this side. */
  Local: "local",
  /** The other side closed, or its end of the stream ended. */
  Remote: "remote",
  /** The wire failed: a reset, a failed write, a broken broker connection. */
  Failed: "failed",
  /** Nothing crossed the connection for longer than its idle timeout. */
  Idle: "idle",
  /** The other side did not answer a keep-alive ping in time. */
  Unresponsive: "unresponsive",
  /** The other side read nothing for longer than the write timeout. */
  WriteTimeout: "write-timeout",
  /** The other side left more unread than the sender keeps for it (`maxUnsentBytes`). */
  WriteOverflow: "write-overflow",
  /** A frame was larger than the receiver's limit. */
  FrameTooLarge: "frame-too-large",
  /** Refused: too many connections, failed authentication, a refused frame. */
  Refused: "refused",
  /** The server is shutting down. */
  Shutdown: "shutdown",
  /** A session outlived its transports for longer than allowed. */
  Expired: "expired",
  /** The other side answered our first call with something our dialect cannot read. */
  WrongDialect: "wrong-dialect",
} as const;

/**
 * One of the {@linkcode CloseCode} values.
 */
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

/**
 * Why a connection ended.
 */
export interface CloseReason {
  /** What kind of reason, to match on. */
  readonly code: CloseCode;
  /** What happened, for logs and people. */
  readonly message: string;
}

/**
 * Makes a (frozen) {@linkcode CloseReason}.
 *
 * @example Making a close reason
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { closeReason } from "@seed/rpc";
 * assertEquals(closeReason("remote", "closed by the other end"), {
 *   code: "remote",
 *   message: "closed by the other end",
 * });
 * ```
 */
export function closeReason(code: CloseCode, message: string): CloseReason {
  return Object.freeze({ code, message });
}

/**
 * The reason for a `close(reason)` call: a {@linkcode CloseReason} is kept
 * as it is, a string becomes a {@linkcode CloseCode.Local} reason.
 *
 * @example A close reason from a string
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { toCloseReason } from "@seed/rpc";
 * assertEquals(toCloseReason("bye"), { code: "local", message: "bye" });
 * assertEquals(toCloseReason(undefined), { code: "local", message: "closed locally" });
 * ```
 */
export function toCloseReason(reason: string | CloseReason | undefined): CloseReason {
  if (reason === undefined) return CLOSED_LOCALLY;
  return typeof reason === "string" ? closeReason(CloseCode.Local, reason) : reason;
}

/** `close()` with no reason given. */
export const CLOSED_LOCALLY: CloseReason = closeReason(CloseCode.Local, "closed locally");
/** The other end closed. */
export const CLOSED_REMOTELY: CloseReason = closeReason(
  CloseCode.Remote,
  "closed by the other end",
);
