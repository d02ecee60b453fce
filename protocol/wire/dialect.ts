/**
 * The {@linkcode Dialect} interface: everything a wire format needs, in one
 * value. A dialect names its framing on byte streams (the delimiter and the
 * largest frame) and makes the codecs for each side of one connection.
 * Cancellation is the codecs' business: each dialect encodes a `cancel`
 * message its own way, or not at all.
 *
 * The library's dialects are values with lower-case names: `jsonRpc` (here,
 * the default everywhere), `simpleRpc` (`@seed/rpc/simplerpc`) and
 * `quickRpc` (`@seed/rpc/quickrpc`). Name a dialect once, where the
 * connection is made, and the peer or server on it speaks it too.
 *
 * @example A custom dialect: JSON-RPC with NUL-delimited frames over TCP
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type Dialect, jsonRpc, Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const nulJsonRpc: Dialect = { ...jsonRpc, name: "jsonrpc-nul", delimiter: "\0" };
 * const server = new Server({ handlers: { ping: () => "pong" } })
 *   .serve(listen("tcp://127.0.0.1:0", { dialect: nulJsonRpc }));
 * const client = new Peer(await connect(server.addr, { dialect: nulJsonRpc }));
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import type { Codec } from "./codec.ts";

/**
 * A wire format: framing on byte streams, and a codec factory per side.
 *
 * @example The JSON-RPC dialect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc } from "@seed/rpc";
 * assertEquals([jsonRpc.name, jsonRpc.delimiter, jsonRpc.maxFrameBytes], ["jsonrpc", "\n", 16 * 1024 * 1024]);
 * assertEquals(jsonRpc.client().name, "jsonrpc");
 * ```
 */
export interface Dialect {
  /** Its name, for logs and the CLI's `--dialect`. */
  readonly name: string;
  /** The byte that ends each frame on a byte stream (TCP). */
  readonly delimiter: "\n" | "\0";
  /** The largest frame accepted, in bytes. */
  readonly maxFrameBytes: number;
  /** A codec for the calling side of one connection (a client). */
  client(): Codec<string>;
  /** A codec for the serving side of one connection (a server's connection). */
  server(): Codec<string>;
}

/** 16 MiB: the default frame size limit. */
export const DEFAULT_MAX_FRAME_BYTES: number = 16 * 1024 * 1024;
