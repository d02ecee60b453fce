/**
 * The {@linkcode Server}: one {@linkcode Peer} per accepted connection, over
 * any {@linkcode Listener} (TCP, TLS, WebSocket...).
 *
 * - Connections get ids (`"1"`, `"2"`, ...) and a name (the remote address,
 *   `127.0.0.1:50123`, which is what quickrpc calls a sender or receiver).
 * - `onConnect` / `onDisconnect` callbacks; per-connection `state`.
 * - Handlers are shared, or made per connection (simplerpc gives each
 *   connection its own handler copy) by passing a function.
 * - Server-to-client calls and notifications to one, some, or all clients.
 * - `shutdown()` stops accepting, answers new calls with
 *   `ErrorCode.ShuttingDown` (-32002), lets calls in flight finish up to a
 *   deadline, then closes every connection.
 *
 * @example A server that pushes to its clients
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc, Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server: Server = new Server(listen("tcp://127.0.0.1:0"), {
 *   codec: jsonRpc,
 *   handlers: {
 *     join: (_params, ctx): string => `you are connection ${server.connectionOf(ctx.peer)?.id}`,
 *   },
 * });
 * const heard = Promise.withResolvers<unknown>();
 * const client = new Peer(await connect(server.addr), {
 *   codec: jsonRpc,
 *   handlers: { news: (params) => heard.resolve(params) },
 * });
 * assertEquals(await client.call("join"), "you are connection 1");
 * assertEquals(await server.notify("news", { text: "hello all" }), 1);
 * assertEquals(await heard.promise, { text: "hello all" });
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import type { Codec } from "./codec.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import { type CallOptions, type Handler, Peer, type PeerOptions } from "./peer.ts";
import type { Listener, Transport } from "../transports/transport.ts";

/**
 * One client connection of a {@linkcode Server}.
 *
 * @typeParam F The frame type.
 * @typeParam S The per-connection state type.
 *
 * @example
 * ```ts
 * import type { Connection } from "@seed/rpc";
 * function describe(connection: Connection<string, { user?: string }>): string {
 *   return `${connection.id} ${connection.name} ${connection.state.user ?? "anonymous"}`;
 * }
 * console.log(typeof describe);
 * ```
 */
export interface Connection<F, S> {
  /** A server-unique id, in order of arrival (`"1"`, `"2"`, ...). */
  readonly id: string;
  /** The remote address (`127.0.0.1:50123`). */
  readonly name: string;
  /** The peer that calls and serves over this connection. */
  readonly peer: Peer<F>;
  /** Your state for this connection, made by the `state` option. */
  state: S;
  /** When the connection was accepted. */
  readonly connectedAt: Date;
}

/**
 * Options for a {@linkcode Server}.
 *
 * @example
 * ```ts
 * import { jsonRpc, type ServerOptions } from "@seed/rpc";
 * const options: ServerOptions<string, { calls: number }> = {
 *   codec: jsonRpc,
 *   state: () => ({ calls: 0 }),
 *   handlers: (connection) => ({ count: () => ++connection.state.calls }),
 *   maxConnections: 100,
 * };
 * console.log(options.maxConnections);
 * ```
 */
export interface ServerOptions<F, S> {
  /**
   * The codec, or a function that makes one per connection (for dialects
   * that keep per-connection state, like simplerpc's reply order).
   */
  codec: Codec<F> | ((transport: Transport<F>) => Codec<F>);
  /** Handlers shared by every connection, or made for each one. */
  handlers?:
    | Readonly<Record<string, Handler>>
    | ((connection: Connection<F, S>) => Record<string, Handler>);
  /** Makes a connection's initial state (default: an empty object). */
  state?: (connection: Omit<Connection<F, S>, "state">) => S;
  /** Peer options for every connection (timeout, bounds). */
  peer?: Omit<PeerOptions<F>, "codec" | "handlers" | "logger" | "name">;
  /** Where the server and its peers log. */
  logger?: Logger;
  /** Called when a connection is accepted (errors are logged). */
  onConnect?: (connection: Connection<F, S>) => void | Promise<void>;
  /** Called when a connection has closed, with the reason. */
  onDisconnect?: (connection: Connection<F, S>, reason: string) => void;
  /** Connections accepted at once; more are closed at once. Default 10 000. */
  maxConnections?: number;
  /**
   * Closes a connection that has sent and received nothing, and has no call
   * in flight, for this many milliseconds. Default 0: never.
   */
  idleTimeout?: number;
}

/**
 * Which connections a server-to-client call or notification goes to: ids or
 * names (remote addresses). Left out: every connection.
 *
 * @example
 * ```ts
 * import type { Recipients } from "@seed/rpc";
 * const some: Recipients = { to: ["1", "127.0.0.1:50123"] };
 * console.log([...some.to ?? []].length);
 * ```
 */
export interface Recipients {
  /** Connection ids or names; every connection when left out. */
  to?: Iterable<string>;
}

/**
 * Options for {@linkcode Server.shutdown}.
 *
 * @example
 * ```ts
 * import type { ShutdownOptions } from "@seed/rpc";
 * const options: ShutdownOptions = { deadline: 2000, reason: "maintenance" };
 * console.log(options.deadline);
 * ```
 */
export interface ShutdownOptions {
  /** Milliseconds calls in flight may take to finish. Default 5000. */
  deadline?: number;
  /** Why, for the connections' close reason and logs. */
  reason?: string;
}

/**
 * Serves every connection a listener accepts, one {@linkcode Peer} each.
 *
 * @typeParam F The frame type.
 * @typeParam S The per-connection state type.
 *
 * @example Per-connection state and a call back to one client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { jsonRpc, Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server<string, { name?: string }>(listen("tcp://127.0.0.1:0"), {
 *   codec: jsonRpc,
 *   handlers: (connection) => ({
 *     login: ({ name }) => {
 *       connection.state.name = name;
 *       return "ok";
 *     },
 *   }),
 * });
 * const client = new Peer(await connect(server.addr), {
 *   codec: jsonRpc,
 *   handlers: { version: () => "1.0" },
 * });
 * await client.call("login", { name: "ada" });
 * const [connection] = server.connections.values();
 * assertEquals(connection!.state.name, "ada");
 * assertEquals(await connection!.peer.call("version"), "1.0");
 * await client.close();
 * await server.shutdown();
 * ```
 */
export class Server<F = string, S = Record<string, unknown>> {
  /** Where the listener listens. */
  readonly addr: string;
  #listener: Listener<F>;
  #options: ServerOptions<F, S>;
  #logger: Logger;
  #connections = new Map<string, Connection<F, S>>();
  #byPeer = new WeakMap<Peer<F>, Connection<F, S>>();
  #lastId = 0;
  #accepting: Promise<void>;
  #disconnected = new Set<Promise<void>>();
  #shuttingDown = false;
  #idleTimer: ReturnType<typeof setInterval> | undefined;
  #activity = new WeakMap<Connection<F, S>, { frames: number; since: number }>();

  /**
   * Starts accepting at once.
   *
   * @param listener Where connections come from.
   * @param options The codec, handlers, callbacks and limits.
   */
  constructor(listener: Listener<F>, options: ServerOptions<F, S>) {
    this.#listener = listener;
    this.#options = options;
    this.#logger = options.logger ?? consoleLogger;
    this.addr = listener.addr;
    const idleTimeout = options.idleTimeout ?? 0;
    if (idleTimeout > 0) {
      this.#idleTimer = setInterval(
        () => this.#closeIdle(idleTimeout),
        Math.min(1000, idleTimeout / 4),
      );
    }
    this.#accepting = this.#accept();
  }

  /** Open connections by id, in order of arrival. */
  get connections(): ReadonlyMap<string, Connection<F, S>> {
    return this.#connections;
  }

  /**
   * The connection a peer belongs to; in a handler, `server.connectionOf(ctx.peer)`.
   *
   * @example
   * ```ts
   * import { jsonRpc, memoryPair, Peer, Server } from "@seed/rpc";
   * import { listen } from "@seed/rpc/tcp";
   * const server = new Server(listen("tcp://127.0.0.1:0"), { codec: jsonRpc });
   * const [a, b] = memoryPair();
   * const stranger = new Peer(a, { codec: jsonRpc });
   * console.log(server.connectionOf(stranger)); // undefined: not one of the server's
   * await stranger.close();
   * await b.closed;
   * await server.shutdown();
   * ```
   */
  connectionOf(peer: Peer<unknown>): Connection<F, S> | undefined {
    return this.#byPeer.get(peer as Peer<F>);
  }

  /**
   * Notifies the connections in `to` (all by default). Resolves with how
   * many accepted it; a connection that fails is logged and skipped.
   */
  async notify(method: string, params?: unknown, recipients: Recipients = {}): Promise<number> {
    const targets = this.#select(recipients.to);
    const sent = await Promise.allSettled(targets.map((c) => c.peer.notify(method, params)));
    let count = 0;
    sent.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") count++;
      else this.#logger.debug(`notify '${method}' to ${targets[i]!.id} failed`, outcome.reason);
    });
    return count;
  }

  /**
   * Calls `method` on the connections in `to` (all by default), at once.
   * Resolves with each connection's outcome, by connection id.
   */
  async call(
    method: string,
    params?: unknown,
    options: Recipients & CallOptions = {},
  ): Promise<Map<string, PromiseSettledResult<unknown>>> {
    const targets = this.#select(options.to);
    const outcomes = await Promise.allSettled(
      targets.map((c) => c.peer.call(method, params, options)),
    );
    return new Map(targets.map((c, i) => [c.id, outcomes[i]!]));
  }

  /**
   * Stops accepting, answers new calls with `ErrorCode.ShuttingDown` (-32002),
   * waits up to `deadline` for calls in flight, then closes every
   * connection. Resolves when all are closed.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const reason = options.reason ?? "server shutting down";
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      clearInterval(this.#idleTimer);
      await this.#listener.close();
      const deadline = options.deadline ?? 5000;
      const peers = [...this.#connections.values()].map((c) => c.peer);
      const finished = await Promise.all(peers.map((peer) => peer.drain(deadline)));
      const cut = finished.filter((done) => !done).length;
      if (cut > 0) {
        this.#logger.warn(`shutdown: ${cut} connection(s) still busy after ${deadline} ms`);
      }
      await Promise.all(peers.map((peer) => peer.close(reason)));
    }
    await this.#accepting;
    await Promise.all(this.#disconnected);
  }

  /** Closes every connection now, without waiting for calls in flight. */
  close(reason = "server closed"): Promise<void> {
    return this.shutdown({ deadline: 0, reason });
  }

  #select(to: Iterable<string> | undefined): Connection<F, S>[] {
    if (to === undefined) return [...this.#connections.values()];
    const wanted = new Set(to);
    return [...this.#connections.values()].filter((c) => wanted.has(c.id) || wanted.has(c.name));
  }

  async #accept(): Promise<void> {
    try {
      for await (const transport of this.#listener) {
        if (this.#shuttingDown) {
          await transport.close("server shutting down");
          continue;
        }
        if (this.#connections.size >= (this.#options.maxConnections ?? 10_000)) {
          this.#logger.warn(`refused a connection from ${transport.remote}: too many connections`);
          await transport.close("too many connections");
          continue;
        }
        this.#open(transport);
      }
    } catch (error) {
      if (!this.#shuttingDown) this.#logger.error("the listener failed", error);
    }
  }

  #open(transport: Transport<F>): void {
    const options = this.#options;
    const id = String(++this.#lastId);
    const name = transport.remote ?? id;
    const codec = typeof options.codec === "function" ? options.codec(transport) : options.codec;
    const peer = new Peer<F>(transport, {
      ...options.peer,
      codec,
      logger: this.#logger,
      name,
    });
    const base = { id, name, peer, connectedAt: new Date() };
    const connection: Connection<F, S> = {
      ...base,
      state: options.state ? options.state(base) : ({} as S),
    };
    const handlers = typeof options.handlers === "function"
      ? options.handlers(connection)
      : options.handlers ?? {};
    for (const method of Object.keys(handlers)) peer.handle(method, handlers[method]!);
    this.#connections.set(id, connection);
    this.#byPeer.set(peer, connection);
    this.#activity.set(connection, { frames: 0, since: Date.now() });

    const done = peer.closed.then(() => {
      this.#connections.delete(id);
      this.#disconnected.delete(done);
      try {
        options.onDisconnect?.(connection, peer.closeReason ?? "closed");
      } catch (error) {
        this.#logger.error(`onDisconnect for ${name} threw`, error);
      }
    });
    this.#disconnected.add(done);
    if (options.onConnect !== undefined) {
      (async () => {
        try {
          await options.onConnect!(connection);
        } catch (error) {
          this.#logger.error(`onConnect for ${name} threw`, error);
        }
      })();
    }
  }

  #closeIdle(idleTimeout: number): void {
    const now = Date.now();
    for (const connection of this.#connections.values()) {
      const stats = connection.peer.stats();
      const frames = stats.framesReceived + stats.framesSent;
      const seen = this.#activity.get(connection)!;
      if (frames !== seen.frames || stats.runningHandlers > 0 || stats.pendingCalls > 0) {
        seen.frames = frames;
        seen.since = now;
      } else if (now - seen.since >= idleTimeout) {
        this.#logger.debug(`closing ${connection.name}: idle for ${idleTimeout} ms`);
        connection.peer.close(`idle for ${idleTimeout} ms`);
      }
    }
  }
}
