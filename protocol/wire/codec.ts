/**
 * The {@linkcode Codec} interface: how frames become messages and back.
 *
 * @example A toy codec that carries notifications as `method:params-json` lines
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { Codec, Message } from "@seed/rpc";
 *
 * const toy: Codec<string> = {
 *   name: "toy",
 *   encode(m: Message): readonly string[] {
 *     return m.kind === "notification" ? [`${m.method}:${JSON.stringify(m.params)}`] : [];
 *   },
 *   decode(frame: string): Message {
 *     const at = frame.indexOf(":");
 *     return { kind: "notification", method: frame.slice(0, at), params: JSON.parse(frame.slice(at + 1)) };
 *   },
 * };
 * assertEquals(toy.encode({ kind: "notification", method: "log", params: [1] }), ["log:[1]"]);
 * assertEquals(toy.decode("log:[1]"), { kind: "notification", method: "log", params: [1] });
 * ```
 *
 * @module
 */

import type { Message } from "./message.ts";

/**
 * What a codec can carry beyond plain calls. A feature left out is not
 * carried: the peer refuses it at once with {@linkcode Unsupported} instead
 * of sending what the other side cannot read.
 *
 * @example What a channel can carry
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { framed, JsonRpcCodec, memoryPair } from "@seed/rpc";
 * import { SimpleRpcClientCodec } from "@seed/rpc/simplerpc";
 * const [a, b] = memoryPair();
 * assertEquals(framed(a, new JsonRpcCodec()).features?.streams, true);
 * assertEquals(framed(b, new SimpleRpcClientCodec()).features?.streams, undefined);
 * await a.close();
 * ```
 */
export interface CodecFeatures {
  /** Stream calls, their items and credit, and progress (`item`, `credit`, `progress` messages). */
  readonly streams?: boolean;
  /** Why something is off and how to turn it on, for the error that says so. */
  readonly hint?: string;
}

/**
 * Turns frames of type `F` (a line of text, a WebSocket message, an AMQP
 * body) into messages and messages into frames, for one connection.
 *
 * A codec is synchronous and total: `decode` never throws. Input it cannot
 * read becomes an `invalid` message that the peer answers or logs. A codec
 * that keeps state (simplerpc's reply order, quickrpc's security header) is
 * made per connection by its {@linkcode Dialect}.
 *
 * @typeParam F The frame type the transport carries.
 *
 * @example Round-trip a request through the JSON-RPC codec
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { JsonRpcCodec } from "@seed/rpc";
 *
 * const codec = new JsonRpcCodec();
 * const [frame] = codec.encode({ kind: "request", id: 1, method: "add", params: [1, 2] });
 * assertEquals(frame, '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}');
 * assertEquals(codec.decode(frame!), { kind: "request", id: 1, method: "add", params: [1, 2] });
 * ```
 */
export interface Codec<F> {
  /** A short name for logs and the CLI (`jsonrpc`, `simplerpc`, ...). */
  readonly name: string;
  /**
   * Whether replies must leave in the order their requests arrived (a
   * dialect without ids on the wire, such as simplerpc's server side). The
   * channel then holds a reply until those before it are sent; its send
   * resolves only once it is, so a reply waiting for its turn keeps its
   * handler's slot and a slow call pauses reading instead of piling up
   * replies. Every request must then be answered.
   */
  readonly inOrder?: boolean;
  /** What it can carry beyond plain calls; left out: nothing. */
  readonly features?: CodecFeatures;
  /**
   * Encodes one message into the frames to send, in order: usually one;
   * none when the dialect has no way to carry this kind (a cancel in
   * simplerpc) or holds it back (a reply that must wait for an earlier one);
   * several when it releases held-back replies. Each frame is sent on its
   * own, never joined with a delimiter. Throws only when the message's values
   * cannot be serialised (a `BigInt`, a cycle).
   */
  encode(message: Message): readonly F[];
  /**
   * Encodes the replies to one incoming batch. Codecs without batches leave
   * it out, and each reply is encoded on its own.
   */
  encodeBatch?(messages: readonly Message[]): readonly F[];
  /**
   * Decodes one frame. An array is a batch: its replies are sent together
   * with {@linkcode Codec.encodeBatch}, or not at all when nothing in it
   * wants a reply. An empty array is a frame that carries nothing to handle
   * (a blank line, a header frame).
   */
  decode(frame: F): Message | readonly Message[];
}
