/**
 * quickrpc's `tcp:<host>:<port>` (a client) and `tcpserv:<iface>:<port>` (a
 * server: every accepted connection is a peer named `"ip:port"`).
 *
 * @module
 */

import { NotRunning, type QuickRpcSink, type QuickRpcTransport, writeAll } from "./_transport.ts";
import { BoundedWriter, type QuickRpcWriteOptions } from "./_writer.ts";

const READ_BYTES = 65536;

/** A connection and its bounded, in-order writes (a partial write never interleaves). */
class Writer extends BoundedWriter {
  readonly conn: Deno.Conn;

  constructor(conn: Deno.Conn, name: string, options: QuickRpcWriteOptions | undefined) {
    super(name, (data) => writeAll(conn, data), () => conn.close(), options);
    this.conn = conn;
  }
}

/** Reads `conn` into the sink as `name` until it ends; never throws. */
async function pump(conn: Deno.Conn, name: string, sink: QuickRpcSink): Promise<unknown> {
  const buffer = new Uint8Array(READ_BYTES);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return undefined;
      // The sink decodes at once; the buffer is reused for the next read.
      const behind = sink.received(name, buffer.subarray(0, n));
      if (behind !== undefined) await behind;
    }
  } catch (error) {
    return error;
  }
}

/** quickrpc's `tcp:<host>:<port>`: one connection, named `"host:port"`. */
export class QuickRpcTcpClient implements QuickRpcTransport {
  /** `"host:port"`, as the original names it. */
  readonly name: string;
  #host: string;
  #port: number;
  #conn: Writer | undefined;
  #closing = false;
  #reading: Promise<void> | undefined;
  #options: QuickRpcWriteOptions | undefined;

  /**
   * Makes the client; {@linkcode QuickRpcTcpClient.open} connects.
   *
   * @param host Where to connect.
   * @param port Its port.
   * @param options The write bounds.
   */
  constructor(host: string, port: number, options?: QuickRpcWriteOptions) {
    this.#host = host;
    this.#port = port;
    this.name = `${host}:${port}`;
    this.#options = options;
  }

  /** Connects and starts reading; rejects when the connection is refused. */
  async open(sink: QuickRpcSink): Promise<void> {
    this.#closing = false;
    const conn = await Deno.connect({ hostname: this.#host, port: this.#port });
    const writer = new Writer(conn, this.name, this.#options);
    this.#conn = writer;
    this.#reading = pump(conn, this.name, sink).then((error) => {
      if (this.#conn === writer) this.#conn = undefined;
      try {
        conn.close();
      } catch { /* already closed */ }
      // Cut by its write bounds: that is why it ended, not the failed read.
      sink.ended(this.#closing ? undefined : writer.failed ?? error);
    });
  }

  /** Sends to the server, unless `receivers` names someone else. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (receivers !== undefined && !receivers.includes(this.name)) return;
    if (this.#conn === undefined) throw new NotRunning(this.name);
    await this.#conn.write(data);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closing = true;
    const conn = this.#conn?.conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch { /* already closed */ }
    await this.#reading;
  }
}

/** quickrpc's `tcpserv:<iface>:<port>`: every connection is a peer named `"ip:port"`. */
export class QuickRpcTcpServer implements QuickRpcTransport {
  /** `"iface:port"`, as the original names it. */
  readonly name: string;
  #iface: string;
  #port: number;
  #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr> | undefined;
  #conns = new Map<string, Writer>();
  #accepting: Promise<void> | undefined;
  #reading = new Set<Promise<unknown>>();
  #options: QuickRpcWriteOptions | undefined;

  /**
   * Makes the server; {@linkcode QuickRpcTcpServer.open} listens.
   *
   * @param iface The interface to listen on; empty for all (`0.0.0.0`).
   * @param port Its port; 0 picks a free one ({@linkcode QuickRpcTcpServer.port}).
   * @param options The write bounds of each connection: one that reads
   * nothing is cut, the others keep being served.
   */
  constructor(iface: string, port: number, options?: QuickRpcWriteOptions) {
    this.#iface = iface;
    this.#port = port;
    this.name = `${iface}:${port}`;
    this.#options = options;
  }

  /** The port it listens on, once open. */
  get port(): number {
    return this.#listener?.addr.port ?? this.#port;
  }

  /** The names of the connected peers. */
  get peers(): string[] {
    return [...this.#conns.keys()];
  }

  /** Listens and starts accepting; rejects when the port is taken. */
  open(sink: QuickRpcSink): Promise<void> {
    const listener = Deno.listen({ hostname: this.#iface || "0.0.0.0", port: this.#port });
    this.#listener = listener;
    this.#accepting = this.#accept(listener, sink);
    return Promise.resolve();
  }

  async #accept(listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>, sink: QuickRpcSink) {
    let failure: unknown;
    try {
      for await (const conn of listener) {
        const name = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
        this.#conns.set(name, new Writer(conn, name, this.#options));
        const reading = pump(conn, name, sink).then(() => {
          this.#conns.delete(name);
          this.#reading.delete(reading);
          try {
            conn.close();
          } catch { /* already closed */ }
        });
        this.#reading.add(reading);
      }
    } catch (error) {
      if (this.#listener !== undefined) failure = error;
    }
    sink.ended(failure);
  }

  /** Sends to the named connections, or to all of them. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    if (this.#listener === undefined) throw new NotRunning(this.name);
    const targets = receivers === undefined
      ? [...this.#conns.values()]
      : receivers.flatMap((name) => this.#conns.get(name) ?? []);
    if (receivers !== undefined) {
      await Promise.all(targets.map((writer) => writer.write(data)));
      return;
    }
    // A broadcast is not failed by a peer cut meanwhile (it is gone from the list).
    await Promise.allSettled(targets.map((writer) => writer.write(data)));
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    try {
      listener?.close();
    } catch { /* already closed */ }
    for (const { conn } of this.#conns.values()) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    this.#conns.clear();
    await this.#accepting;
    await Promise.all(this.#reading);
  }
}
