/**
 * The server side of JSON-RPC over HTTP as one long-lived
 * {@linkcode Channel} per endpoint: each POST is a {@linkcode Delivery}
 * whose `from` names its exchange, its replies come back through `send` to
 * that address, and settling it answers the POST. So every POST goes
 * through the peer's one dispatch path (correlation by `(from, id)`,
 * limits, interceptors, contracts) and costs a delivery, not a peer.
 *
 * @module
 */

import type { Delivery, Outcome } from "../../protocol/wire/channel.ts";
import { CloseCode, type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { NotDelivered } from "../../protocol/wire/errors.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import type { ErrorMessage, Message, ResultMessage } from "../../protocol/wire/message.ts";
import { JsonRpcCodec } from "../../protocol/dialects/jsonrpc.ts";
import { unsendableReply } from "../../protocol/dialects/_json_values.ts";
import { ACCEPTED } from "../../protocol/wire/transport.ts";
import { stopSweepWhenIdle } from "./_body.ts";
import { CallTable } from "../../protocol/peer/call_table.ts";

/** The codec of the wire: JSON-RPC 2.0, stateless, shared. */
export const codec: JsonRpcCodec = new JsonRpcCodec();

/** Why a handler cannot call or notify its client here. */
export const NO_PUSH = "JSON-RPC over HTTP cannot carry server -> client calls or notifications: " +
  "a POST is answered once, with the replies to what it carried (use a WebSocket for pushes)";

/** Who is told a POST's answer, once. */
export interface Answered {
  answered(response: Response): void;
}

/** One POST: its messages, and who waits for its answer. */
export class Exchange implements Delivery {
  readonly message: Message | readonly Message[];
  /** Its number; `from` is `h` and it. */
  readonly id: number;
  readonly from: string;
  readonly size: number;
  /** The encoded replies, once the peer sent them. */
  body: string | undefined;
  /** Whether it carries a request (else only notifications: 204). */
  readonly wantsReply: boolean;
  #to: Answered;
  readonly #channel: ExchangeChannel;
  readonly #headers: Record<string, string>;

  constructor(
    channel: ExchangeChannel,
    id: number,
    message: Message | readonly Message[],
    size: number,
    headers: Record<string, string>,
    to: Answered,
  ) {
    this.#channel = channel;
    this.#to = to;
    this.id = id;
    this.from = `h${id}`;
    this.message = message;
    this.size = size;
    this.#headers = headers;
    this.wantsReply = Array.isArray(message)
      ? message.some(isRequest)
      : isRequest(message as Message);
  }

  /** Its answer waits until `taken` (its delivery, by a full inbox) settles. */
  waitFor(taken: Promise<unknown>): void {
    const to = this.#to;
    this.#to = {
      answered(response) {
        const answer = () => to.answered(response);
        taken.then(answer, answer);
      },
    };
  }

  /** Told by the peer once its replies (if any) were sent. */
  settle(outcome: Outcome): void {
    if (!this.#channel.forget(this)) return;
    if (this.body !== undefined) {
      this.#to.answered(json(200, this.body, this.#headers));
    } else if (this.wantsReply && outcome === "cancelled") {
      this.fail(503, "The call was cancelled: the server is closing");
    } else {
      this.#to.answered(new Response(null, { status: 204, headers: this.#headers }));
    }
  }

  /** Answers the POST with a JSON-RPC error (the server is closing, or could not take it). */
  fail(status: number, text: string): void {
    const body = `{"jsonrpc":"2.0","error":{"code":-32002,"message":${
      JSON.stringify(text)
    }},"id":null}`;
    this.#to.answered(json(status, body, this.#headers));
  }
}

/** A reply as JSON; one whose values cannot be sent becomes the -32603 saying so. */
function encodeReply(message: ResultMessage | ErrorMessage): string | undefined {
  try {
    return codec.encode(message)[0];
  } catch (error) {
    return codec.encode(unsendableReply(message, error))[0];
  }
}

/** `message`, or the -32603 reply saying why it cannot be sent. */
function sendable(message: Message): Message {
  if (message.kind !== "result" && message.kind !== "error") return message;
  try {
    codec.encode(message);
    return message;
  } catch (error) {
    return unsendableReply(message, error);
  }
}

function isRequest(message: Message): boolean {
  return message.kind === "request";
}

/** No headers of a request's own to answer with (no CORS). */
export const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The headers of a JSON answer with none of its own: one object for all. */
const JSON_ONLY: Record<string, string> = Object.freeze({ "content-type": "application/json" });

/** A JSON answer. */
export function json(status: number, body: string, headers: Record<string, string>): Response {
  return new Response(body, {
    status,
    headers: headers === NO_HEADERS
      ? JSON_ONLY
      : { "content-type": "application/json", ...headers },
  });
}

/** The endpoint's one channel: POSTs in, replies routed back to their exchange. */
export class ExchangeChannel extends InboxChannel {
  /** POSTs not answered yet, by number (a table: see call_table.ts on a Map's garbage). */
  #open = new CallTable<Exchange>(64);
  #next = 0;
  /** The newest exchange (it may be answered already). */
  #last: Exchange | undefined;
  /** Who is at the other end, for logs. */
  readonly remote: string;
  /** No idle timeout: the channel lives as long as its endpoint. */
  readonly expires = true;

  constructor(remote: string) {
    super();
    this.remote = remote;
  }

  /** POSTs being handled now. */
  get open(): number {
    return this.#open.size;
  }

  /**
   * Hands a decoded POST to the peer; `to` is told its answer (a callback,
   * not a promise: no microtask hop between the reply and `Deno.serve`).
   */
  post(
    message: Message | readonly Message[],
    size: number,
    headers: Record<string, string>,
    to: Answered,
  ): void {
    // Numbers wrap before they leave the table's ring (whole numbers below 2^31).
    this.#next = (this.#next + 1) & 0x3fffffff;
    const exchange = new Exchange(this, this.#next, message, size, headers, to);
    this.#last = exchange;
    if (this.closeReason !== undefined) return exchange.fail(503, "The server is closing");
    this.#open.add(exchange);
    // Backpressure: while the peer's inbox is full, this POST waits (its
    // answer is not given before the delivery was taken).
    const full = this.deliver(exchange);
    if (full !== undefined) exchange.waitFor(full);
  }

  /** Removes an exchange; false when it was answered already. */
  forget(exchange: Exchange): boolean {
    return this.#open.remove(exchange);
  }

  /** The exchange at reply address `to` (`h` and its number). */
  #at(to: string | undefined): Exchange | undefined {
    if (to === undefined) return undefined;
    // The newest first, found without parsing its number (one POST at a time: it).
    const last = this.#last;
    if (last !== undefined && last.from === to) {
      return this.#open.get(last.id) === last ? last : undefined;
    }
    const exchange = this.#open.get(Number(to.slice(1)));
    return exchange?.from === to ? exchange : undefined;
  }

  /** Sends one reply to the POST it answers; calls and notifications cannot go. */
  send(message: Message, to?: string): Promise<void> {
    if (message.kind === "result" || message.kind === "error") {
      const exchange = this.#at(to);
      if (exchange !== undefined) exchange.body = encodeReply(message);
      return ACCEPTED;
    }
    if (message.kind === "cancel") return ACCEPTED;
    return Promise.reject(new NotDelivered(to ?? "the HTTP client", NO_PUSH));
  }

  /** Sends the replies to one batch, as one JSON array. */
  sendBatch(messages: readonly Message[], to?: string): Promise<void> {
    const exchange = this.#at(to);
    if (exchange !== undefined) {
      try {
        exchange.body = codec.encodeBatch(messages)[0];
      } catch {
        exchange.body = codec.encodeBatch(messages.map(sendable))[0];
      }
    }
    return ACCEPTED;
  }

  /** Closes: every POST not answered yet is answered 503. */
  close(reason?: string | CloseReason): Promise<void> {
    const why = this.beginClose(reason ?? closeReason(CloseCode.Shutdown, "endpoint closed"));
    if (why !== undefined) {
      for (const exchange of this.#open.drain()) exchange.fail(503, "The server is closing");
      stopSweepWhenIdle();
      this.finishClose();
    }
    return this.closed;
  }
}
