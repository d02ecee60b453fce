/**
 * The {@linkcode Codec} interface: how frames become messages and back.
 *
 * @example A toy codec that carries requests as `method:params-json` lines
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Codec, Message } from "@seed/rpc";
 *
 * const toy: Codec<string> = {
 *   name: "toy",
 *   encode(m: Message): string | undefined {
 *     return m.kind === "notification" ? `${m.method}:${JSON.stringify(m.params)}` : undefined;
 *   },
 *   decode(frame: string): Message {
 *     const at = frame.indexOf(":");
 *     return { kind: "notification", method: frame.slice(0, at), params: JSON.parse(frame.slice(at + 1)) };
 *   },
 * };
 * assertEquals(toy.decode("log:[1]"), { kind: "notification", method: "log", params: [1] });
 * ```
 *
 * @module
 */

import type { Message } from "./message.ts";

/**
 * Turns frames of type `F` (a string line, a byte array, an AMQP body with
 * properties) into messages and messages into frames.
 *
 * A codec is pure, synchronous and total: `decode` never throws. Input it
 * cannot read becomes an `invalid` message that the peer answers or logs.
 *
 * @typeParam F The frame type the transport carries.
 *
 * @example Round-trip a request through the JSON-RPC codec
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc } from "@seed/rpc";
 *
 * const frame = jsonRpc.encode({ kind: "request", id: 1, method: "add", params: [1, 2] });
 * assertEquals(frame, '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}');
 * assertEquals(jsonRpc.decode(frame!), { kind: "request", id: 1, method: "add", params: [1, 2] });
 * ```
 */
export interface Codec<F> {
  /** A short name for logs and the CLI (`jsonrpc`, `simplerpc`, ...). */
  readonly name: string;
  /**
   * The notification method that cancels a call, sent with params `{ id }`.
   * Dialects without one (no ids on the wire) leave it out, and a cancelled
   * or timed-out call is only forgotten locally.
   */
  readonly cancelMethod?: string;
  /**
   * Encodes one message. Returns `undefined` when the dialect has no way to
   * carry this kind (a heartbeat in JSON-RPC): nothing is sent. Throws only
   * when the message's values cannot be serialised (a `BigInt`, a cycle).
   */
  encode(message: Message): F | undefined;
  /**
   * Encodes the replies to one incoming batch as one frame. Codecs without
   * batches leave it out, and the peer sends each reply on its own.
   */
  encodeBatch?(messages: readonly Message[]): F;
  /**
   * Decodes one frame. An array is a batch: the peer answers it with one
   * frame made by {@linkcode Codec.encodeBatch}, or not at all when nothing
   * in it wants a reply.
   */
  decode(frame: F): Message | readonly Message[];
}
