/**
 * The shape of a quickrpc transport: a byte channel to one or many peers,
 * each with a name (`"ip:port"`, an IP, `"stdio"`, a bus name), as the
 * original's `Transport` (`send(data, receivers)`, `received(sender, data)`).
 *
 * @module
 */

/** Where a quickrpc transport hands what it receives. */
export interface QuickRpcSink {
  /**
   * Bytes from `sender`. `whole` (a datagram) means no reassembly: an
   * unterminated tail is dropped, never joined to the next. Returns a
   * promise when the reader is behind: a stream waits on it before reading
   * more (a datagram that comes meanwhile is dropped by the sink).
   */
  received(sender: string, data: Uint8Array, whole?: boolean): Promise<void> | undefined;
  /** The transport stopped (the other side went away, or it failed); `error` says why. */
  ended(error?: unknown): void;
}

/** A quickrpc transport: opened once with a sink, then sends to receivers by name. */
export interface QuickRpcTransport {
  /** Its own name (what the original calls `name`), for logs and routing. */
  readonly name: string;
  /** Opens the channel (binds, connects); rejects when it cannot. */
  open(sink: QuickRpcSink): Promise<void>;
  /**
   * Sends `data` to the named receivers, or to every peer (a broadcast on
   * UDP) when `receivers` is left out. Names that are not this transport's
   * are ignored, as in the original, so a mux can offer a send to all.
   */
  send(data: Uint8Array, receivers?: readonly string[]): Promise<void>;
  /** Stops it; the sink is told `ended`. Safe to call more than once. */
  close(): Promise<void>;
}

/** Rejected by `send` when a transport is not running. */
export class NotRunning extends Error {
  /**
   * Makes the error for a transport that is not running.
   *
   * @param name The transport's name.
   */
  constructor(name: string) {
    super(`quickrpc transport ${name} is not running`);
    this.name = "NotRunning";
  }
}

/** Writes all of `data` to a Deno writer. */
export async function writeAll(
  writer: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
) {
  let offset = 0;
  while (offset < data.length) offset += await writer.write(data.subarray(offset));
}
