/**
 * Why a peer closed, in words that say what to fix: a close right after the
 * other side's error that named no call is explained by that error, and a
 * first answer the dialect cannot read means the other side speaks another
 * dialect.
 *
 * Internal to the {@linkcode Peer}.
 *
 * @module
 */

import type { Channel } from "../wire/channel.ts";
import { CloseCode, type CloseReason, closeReason } from "../wire/close.ts";
import { ErrorCode, type RemoteError } from "../wire/errors.ts";
import type { InvalidMessage } from "../wire/message.ts";

/** A close reason, and the remote error that caused it, if one did. */
export interface ExplainedClose {
  reason: CloseReason;
  cause: RemoteError | undefined;
}

/**
 * `reason`, told better when the other side closed (or the channel failed)
 * right after an error that named no call (its -32001 for a frame over its
 * limit, say): that error is why.
 */
export function explainClose(
  reason: CloseReason,
  lastWords: RemoteError | undefined,
): ExplainedClose {
  if (
    lastWords === undefined ||
    (reason.code !== CloseCode.Remote && reason.code !== CloseCode.Failed)
  ) {
    return { reason, cause: undefined };
  }
  return {
    reason: lastWords.code === ErrorCode.FrameTooLarge
      ? closeReason(
        CloseCode.FrameTooLarge,
        `the other side refused a frame as too large (${lastWords.data ?? lastWords.message})`,
      )
      : closeReason(reason.code, `${reason.message}, after the error '${lastWords.message}'`),
    cause: lastWords,
  };
}

/** Whether an invalid message is input the dialect cannot read (not a frame over a limit). */
export function unreadable(message: InvalidMessage): boolean {
  const code = message.error.code;
  return code !== ErrorCode.FrameTooLarge && code !== ErrorCode.InternalError;
}

/** The reason to close when the other side answered in another dialect (`excerpt`). */
export function wrongDialect(channel: Channel, excerpt: string | undefined): CloseReason {
  const codec = (channel as { codec?: { name?: unknown } }).codec;
  const dialect = typeof codec?.name === "string" ? codec.name : "this dialect";
  const said = excerpt === undefined ? "" : `: it answered '${visible(excerpt)}'`;
  return closeReason(CloseCode.WrongDialect, `the other side does not speak ${dialect}${said}`);
}

/** `text` with control characters escaped, for a one-line message. */
function visible(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
