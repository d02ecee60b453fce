/**
 * JSON-RPC over byte streams: this process's stdin and stdout
 * ({@linkcode serveStdio}), a child process's pipes ({@linkcode spawn}), or
 * any `ReadableStream`/`WritableStream` pair ({@linkcode StreamTransport}).
 *
 * Two framings, chosen with `framing`:
 * - `"newline"` (the default): one JSON message per line of UTF-8, as MCP's
 *   stdio transport; a `\r` before the `\n` is dropped, blank lines skipped.
 * - `"content-length"`: `Content-Length: N\r\n` (an optional `Content-Type`
 *   whose charset must be UTF-8), a blank line, then N bytes, as LSP's base
 *   protocol.
 *
 * A frame over `maxFrameBytes` is answered with -32001 and ends the stream;
 * headers over `maxHeaderBytes`, or headers that cannot be trusted (no or a
 * bad `Content-Length`), close it (`CloseCode.Refused`): nothing is buffered
 * without bound. Logs go to stderr, never stdout.
 *
 * @example A server and a client over a pair of pipes
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer } from "@seed/rpc";
 * import { serveStdio, StreamTransport } from "@seed/rpc/stdio";
 *
 * const up = new TransformStream<Uint8Array, Uint8Array>();
 * const down = new TransformStream<Uint8Array, Uint8Array>();
 * const server = serveStdio({ add: ({ a, b }) => a + b }, {
 *   input: up.readable, // stdin, by default
 *   output: down.writable, // stdout, by default
 *   framing: "content-length",
 * });
 * const client = new Peer(
 *   new StreamTransport(down.readable, up.writable, { framing: "content-length" }),
 * );
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close(); // the server's input ends: it ends too
 * await server.closed;
 * ```
 *
 * @module
 */

import { Peer } from "../protocol/peer/peer.ts";
import type { PeerOptions } from "../protocol/peer/peer_options.ts";
import type { Handler } from "../protocol/peer/context.ts";
import { Server } from "../protocol/peer/server.ts";
import { type StreamOptions, StreamTransport } from "./stdio/_stream.ts";

export { type Framing, FramingError } from "./stdio/_framing.ts";
export { type StreamOptions, StreamTransport } from "./stdio/_stream.ts";
export { ChildPeer, exitReason, spawn, type SpawnOptions } from "./stdio/_child.ts";

/** Options for {@linkcode serveStdio}: framing, limits, the peer's options, and the streams. */
export interface ServeStdioOptions extends StreamOptions, PeerOptions {
  /**
   * Where requests come from.
   *
   * @default {Deno.stdin.readable}
   */
  input?: ReadableStream<Uint8Array>;
  /**
   * Where replies go. Nothing else may write there: log to stderr.
   *
   * @default {Deno.stdout.writable}
   */
  output?: WritableStream<Uint8Array>;
}

/**
 * Serves over this process's stdin and stdout (or `input` and `output`):
 * a {@linkcode Server} takes it as one connection; handlers get a
 * {@linkcode Peer} of their own. Returns that peer; it closes when stdin
 * ends (await `peer.closed`, then exit), and closing it closes stdout.
 *
 * @example A process that serves its stdio
 * ```ts ignore
 * import { serveStdio } from "@seed/rpc/stdio";
 * const peer = serveStdio({ add: ({ a, b }) => a + b });
 * await peer.closed; // stdin ended
 * ```
 */
export function serveStdio<S>(server: Server<S>, options?: ServeStdioOptions): Peer;
/** Serves these handlers over this process's stdin and stdout (or `input` and `output`). */
export function serveStdio(
  handlers: Readonly<Record<string, Handler>>,
  options?: ServeStdioOptions,
): Peer;
export function serveStdio<S>(
  server: Server<S> | Readonly<Record<string, Handler>>,
  options: ServeStdioOptions = {},
): Peer {
  const transport = new StreamTransport(
    options.input ?? Deno.stdin.readable,
    options.output ?? Deno.stdout.writable,
    {
      ...options,
      remote: options.remote ?? "stdio",
      // Our own stdin and stdout are read and written without their streams.
      directInput: options.input === undefined ? Deno.stdin : undefined,
      directOutput: options.output === undefined ? Deno.stdout : undefined,
    },
  );
  if (!(server instanceof Server)) {
    return new Peer(transport, { ...options, role: "server", handlers: server });
  }
  const connection = server.add(transport);
  if (connection === undefined) throw new Error("The server refused the stdio connection");
  return connection.peer;
}
