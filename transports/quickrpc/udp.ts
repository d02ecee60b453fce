/**
 * quickrpc's `udp:<port>`: one datagram per telegram, sent and received on
 * one port, over `node:dgram` (no unstable Deno flag). A peer is named by
 * its IP (the original's naming), or `"ip:port"` with `names: "ip:port"`.
 * A send without receivers is a broadcast. Datagrams are never joined: an
 * unterminated tail is dropped, and a datagram over `maxDatagramBytes` is
 * dropped and counted.
 *
 * @module
 */

import dgram from "node:dgram";
import { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./_transport.ts";

/** Options for {@linkcode QuickRpcUdp}. */
export interface QuickRpcUdpOptions {
  /**
   * The address to bind. The default, as the original, is every interface
   * (broadcasts and unicast both reach it). On Linux a socket bound to a
   * broadcast address (`127.255.255.255`) hears the broadcasts sent there
   * and no unicast, and one bound to `127.0.0.1` the reverse: tests stay on
   * loopback that way.
   *
   * @default {"0.0.0.0"}
   */
  bind?: string;
  /**
   * Where a send without receivers goes (`127.255.255.255` keeps it on loopback).
   *
   * @default {"255.255.255.255"}
   */
  broadcastAddress?: string;
  /**
   * The largest datagram taken or sent, in bytes (the original reads 2048).
   *
   * @default {2048}
   */
  maxDatagramBytes?: number;
  /**
   * How peers are named: `"ip"` (the original; a receiver is reached on this
   * transport's port) or `"ip:port"` (several peers on one host).
   *
   * @default {"ip"}
   */
  names?: "ip" | "ip:port";
}

/** What a {@linkcode QuickRpcUdp} counted. */
export interface QuickRpcUdpStats {
  /** Datagrams received and handed on. */
  received: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams dropped for being over `maxDatagramBytes` (both ways). */
  tooLarge: number;
}

/** quickrpc's `udp:<port>` transport. */
export class QuickRpcUdp implements QuickRpcTransport {
  /** `"udp:<port>"`. */
  readonly name: string;
  /** What was received, sent and dropped. */
  readonly stats: QuickRpcUdpStats = { received: 0, sent: 0, tooLarge: 0 };
  #port: number;
  #bind: string;
  #broadcast: string;
  #max: number;
  #withPort: boolean;
  #socket: dgram.Socket | undefined;

  /**
   * Makes the transport; {@linkcode QuickRpcUdp.open} binds.
   *
   * @param port The port sent from and received on (0 picks one: {@linkcode QuickRpcUdp.port}).
   * @param options Binding, broadcast address, size limit, naming.
   */
  constructor(port: number, options: QuickRpcUdpOptions = {}) {
    this.#port = port;
    this.name = `udp:${port}`;
    this.#bind = options.bind ?? "0.0.0.0";
    this.#broadcast = options.broadcastAddress ?? "255.255.255.255";
    this.#max = options.maxDatagramBytes ?? 2048;
    this.#withPort = options.names === "ip:port";
  }

  /** The bound port, once open. */
  get port(): number {
    return this.#socket?.address().port ?? this.#port;
  }

  /** Binds (address reuse on, as the original) and starts receiving. */
  open(sink: QuickRpcSink): Promise<void> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    socket.once("error", reject);
    socket.on("message", (data: Uint8Array, from: dgram.RemoteInfo) => {
      if (data.length > this.#max) {
        this.stats.tooLarge++;
        return;
      }
      this.stats.received++;
      sink.received(this.#withPort ? `${from.address}:${from.port}` : from.address, data, true);
    });
    socket.on("close", () => sink.ended());
    socket.bind(this.#port, this.#bind, () => {
      socket.off("error", reject);
      socket.on("error", (error) => {
        socket.close();
        sink.ended(error);
      });
      socket.setBroadcast(true);
      this.#socket = socket;
      resolve();
    });
    return promise;
  }

  /** One datagram to each receiver, or one broadcast. */
  async send(data: Uint8Array, receivers?: readonly string[]): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) throw new NotRunning(this.name);
    if (data.length > this.#max) {
      this.stats.tooLarge++;
      throw new RangeError(
        `${this.name}: a ${data.length}-byte datagram is over the limit of ${this.#max}`,
      );
    }
    const targets = receivers === undefined
      ? [[this.#broadcast, this.#port] as const]
      : receivers.map((name) => this.#address(name));
    await Promise.all(
      targets.map(([host, port]) =>
        new Promise<void>((resolve, reject) =>
          socket.send(data, port, host, (error) => {
            if (error) return reject(error);
            this.stats.sent++;
            resolve();
          })
        )
      ),
    );
  }

  #address(name: string): readonly [string, number] {
    const colon = name.lastIndexOf(":");
    if (colon === -1 || !/^\d+$/.test(name.slice(colon + 1))) return [name, this.port];
    return [name.slice(0, colon), Number(name.slice(colon + 1))];
  }

  /** Closes the socket. */
  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
