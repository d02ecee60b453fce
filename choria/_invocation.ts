/**
 * One Choria invocation as a {@linkcode Channel}: the request file is its
 * one {@linkcode Delivery}, and the first reply handed to it is the reply
 * file. A {@linkcode Peer} reads it like any wire, so the action runs
 * through the one dispatch path. The channel stays open until closed (its
 * `incoming` ends then), so the peer never stops a handler early.
 *
 * @module
 */

import {
  ACCEPTED,
  type CloseReason,
  ConnectionClosed,
  ErrorCode,
  InboxChannel,
  type Message,
  toCloseReason,
} from "./_core.ts";
import type { ChoriaCodec } from "./_codec.ts";
import type { AgentLog } from "./log.ts";

/** A request file in, one reply file out. */
export class InvocationChannel extends InboxChannel {
  #codec: ChoriaCodec;
  #log: AgentLog;
  #reply = Promise.withResolvers<string>();
  #replied = false;

  /**
   * @param request The request file's text, decoded now.
   * @param codec The invocation's codec.
   * @param log Where a reply that cannot be written is logged.
   */
  constructor(request: string, codec: ChoriaCodec, log: AgentLog) {
    super();
    this.#codec = codec;
    this.#log = log;
    this.deliver({ message: codec.decode(request) });
  }

  /** The reply file's text, once the delivery is answered. */
  get reply(): Promise<string> {
    return this.#reply.promise;
  }

  /** Takes the reply (the first result or error); anything else has nowhere to go. */
  send(message: Message): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    if (message.kind !== "result" && message.kind !== "error") {
      return Promise.reject(
        new TypeError(`A Choria agent sends only its reply, not a ${message.kind}`),
      );
    }
    if (this.#replied) return ACCEPTED;
    let text: string;
    try {
      text = this.#codec.encode(message)[0]!;
    } catch (error) {
      this.#log.error(`the reply could not be serialised: ${(error as Error).message}`);
      text = this.#codec.encode({
        kind: "error",
        id: null,
        error: { code: ErrorCode.InternalError, message: "The reply could not be serialised" },
      })[0]!;
    }
    this.#replied = true;
    this.#reply.resolve(text);
    return ACCEPTED;
  }

  /** Ends `incoming`; a delivery never answered gets an Aborted reply. */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.closeReason === undefined) {
      const why = toCloseReason(reason);
      if (!this.#replied) {
        this.send({
          kind: "error",
          id: null,
          error: { code: ErrorCode.ShuttingDown, message: why.message },
        });
      }
      this.beginClose(why);
      this.finishClose();
    }
    return this.closed;
  }

  /** For logs. */
  readonly remote = "choria";
}
