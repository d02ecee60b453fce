/**
 * The {@linkcode Server}: a registry of connections, one {@linkcode Peer}
 * each, whatever wire they came in on. Connections come from a listener
 * (`serve`) or are pushed to it (`add`: a WebSocket upgrade, a broker
 * channel); each gets an id, a name (its remote address) and `state`.
 * Handlers are shared, or made per connection by a function. The server
 * calls or notifies one, some or all clients, bounds `maxConnections` and
 * `idleTimeout`, and `shutdown()` answers new calls with -32002 while calls
 * in flight finish, up to a deadline.
 *
 * @example A server that pushes to its clients
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server: Server = new Server({
 *   handlers: {
 *     join: (_params, ctx): string => `you are connection ${server.connectionOf(ctx.peer)?.id}`,
 *   },
 * }).serve(listen("tcp://127.0.0.1:0"));
 * const heard = Promise.withResolvers<unknown>();
 * const client = new Peer(await connect(server.addr), {
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

import type { Channel } from "../wire/channel.ts";
import { type CloseReason, toCloseReason } from "../wire/close.ts";
import { CloseCode, closeReason } from "../wire/close.ts";
import type { Dialect } from "../wire/dialect.ts";
import { ConcurrencyLimit } from "./limit.ts";
import { consoleLogger, type Logger } from "../shared/logger.ts";
import type { PeerHandle } from "./context.ts";
import { type CallOptions, type Handler, Peer, type PeerOptions } from "./peer.ts";
import type { Listener, Transport } from "../wire/transport.ts";
import { MAX_DELAY } from "../shared/_timer.ts";
import { withTimeout } from "../shared/_with_timeout.ts";

/**
 * One client connection of a {@linkcode Server}.
 *
 * @typeParam S The per-connection state type.
 *
 * @example A connection's id, name and state
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Server, type Connection } from "@seed/rpc";
 * const server = new Server<{ user?: string }>();
 * const [a, b] = memoryPair();
 * const connection: Connection<{ user?: string }> = server.add(a)!;
 * connection.state.user = "ada";
 * assertEquals([connection.id, connection.name, connection.state.user], ["1", "memory", "ada"]);
 * await b.close();
 * await server.shutdown();
 * ```
 */
export interface Connection<S> {
  /** A server-unique id, in order of arrival (`"1"`, `"2"`, ...). */
  readonly id: string;
  /** The remote address (`127.0.0.1:50123`), or the name given to `add`. */
  readonly name: string;
  /** The peer that calls and serves over this connection. */
  readonly peer: Peer;
  /** Your state for this connection, made by the `state` option. */
  state: S;
  /** When the connection was accepted. */
  readonly connectedAt: Date;
}

/**
 * Options for a {@linkcode Server}.
 */
export interface ServerOptions<S> {
  /**
   * The dialect of every connection that is a transport; its server codec
   * is made per connection.
   *
   * @default {each transport's `dialect`, else `jsonRpc`}
   */
  dialect?: Dialect;
  /** Handlers shared by every connection, or made for each one. */
  handlers?:
    | Readonly<Record<string, Handler>>
    | ((connection: Connection<S>) => Readonly<Record<string, Handler>>);
  /**
   * Makes a connection's initial state.
   *
   * @default {an empty object}
   */
  state?: (connection: Omit<Connection<S>, "state">) => S;
  /** Peer options for every connection (timeout, bounds). */
  peer?: Omit<PeerOptions, "dialect" | "role" | "handlers" | "logger" | "name" | "limit">;
  /**
   * Handlers running at once over all connections; at the bound every
   * connection stops reading until one finishes. Shared fairly: a
   * connection starts one only while it holds fewer than are free, so no
   * client takes them all (one connection alone gets about half).
   *
   * @default {4096}
   */
  maxRunningHandlers?: number;
  /**
   * Where the server and its peers log.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /** Called when a connection is accepted (errors are logged). */
  onConnect?: (connection: Connection<S>) => void | Promise<void>;
  /** Called when a connection has closed, with the reason. */
  onDisconnect?: (connection: Connection<S>, reason: CloseReason) => void;
  /**
   * Connections open at once; more are closed at once.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * Closes a connection that has sent and received nothing, and has no call
   * in flight, for this many milliseconds (a client that must stay quiet
   * longer can use the peer's `keepAlive`). 0: never.
   *
   * @default {300000}
   */
  idleTimeout?: number;
}

/**
 * Which connections a server-to-client call or notification goes to: ids or
 * names (remote addresses). Left out: every connection.
 */
export interface Recipients {
  /** Connection ids or names; every connection when left out. */
  to?: Iterable<string>;
}

/**
 * Options for {@linkcode Server.shutdown}.
 */
export interface ShutdownOptions {
  /**
   * Milliseconds calls in flight may take to finish.
   *
   * @default {5000}
   */
  deadline?: number;
  /** Why, for the connections' close reason and logs. */
  reason?: string;
}

/**
 * Options for {@linkcode Server.add}.
 */
export interface AddOptions {
  /**
   * The connection's name.
   *
   * @default {the connection's `remote`, else its id}
   */
  name?: string;
}

/**
 * A registry of connections, one {@linkcode Peer} each.
 *
 * @typeParam S The per-connection state type.
 *
 * @example Per-connection state and a call back to one client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server<{ name?: string }>({
 *   handlers: (connection) => ({
 *     login: ({ name }) => {
 *       connection.state.name = name;
 *       return "ok";
 *     },
 *   }),
 * }).serve(listen("tcp://127.0.0.1:0"));
 * const client = new Peer(await connect(server.addr), { handlers: { version: () => "1.0" } });
 * await client.call("login", { name: "ada" });
 * const [connection] = server.connections.values();
 * assertEquals(connection!.state.name, "ada");
 * assertEquals(await connection!.peer.call("version"), "1.0");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @example Connections pushed by hand
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, Server } from "@seed/rpc";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } });
 * const [serverEnd, clientEnd] = memoryPair();
 * server.add(serverEnd, { name: "in-process" });
 * const client = new Peer(clientEnd);
 * assertEquals(await client.call("ping"), "pong");
 * assertEquals([...server.connections.values()].map((c) => c.name), ["in-process"]);
 * await client.close();
 * await server.shutdown();
 * ```
 */
export class Server<S = Record<string, unknown>> {
  #options: ServerOptions<S>;
  #logger: Logger;
  #maxConnections: number;
  #limit: ConcurrencyLimit;
  #listeners: Listener<string>[] = [];
  #accepting: Promise<void>[] = [];
  #connections = new Map<string, Connection<S>>();
  #byPeer = new WeakMap<PeerHandle, Connection<S>>();
  #lastId = 0;
  #disconnected = new Set<Promise<void>>();
  #shuttingDown = false;
  /** The pending idle check (see #checkIdleIn); undefined: none. */
  #idleCheck: { signal: AbortSignal; check: () => void } | undefined;
  #activity = new WeakMap<Connection<S>, { messages: number; since: number }>();

  /**
   * Makes an empty server; give it connections with {@linkcode Server.add}
   * or {@linkcode Server.serve}.
   *
   * @param options The dialect, handlers, callbacks and limits.
   */
  constructor(options: ServerOptions<S> = {}) {
    this.#options = options;
    this.#logger = options.logger ?? consoleLogger;
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#limit = new ConcurrencyLimit(options.maxRunningHandlers ?? 4096);
    const idleTimeout = options.idleTimeout ?? 300_000;
    // A timeout too long for a timer means never.
    if (idleTimeout > 0 && idleTimeout <= MAX_DELAY) {
      this.#checkIdleIn(Math.min(1000, idleTimeout / 4), idleTimeout);
    }
  }

  /**
   * Where the first listener given to {@linkcode Server.serve} listens.
   * Throws when the server serves no listener.
   */
  get addr(): string {
    const listener = this.#listeners[0];
    if (listener === undefined) {
      throw new TypeError("This server serves no listener: give it one with serve(listener)");
    }
    return listener.addr;
  }

  /** Whether {@linkcode Server.add} would take a connection now. */
  get accepting(): boolean {
    return !this.#shuttingDown && this.#connections.size < this.#maxConnections;
  }

  /** Open connections by id, in order of arrival. */
  get connections(): ReadonlyMap<string, Connection<S>> {
    return this.#connections;
  }

  /**
   * Serves every connection `listener` accepts, until the listener closes
   * or the server shuts down (which closes it).
   *
   * @example Serving a TCP listener
   * ```ts
   * import { assertMatch } from "@std/assert";
   * import { Server } from "@seed/rpc";
   * import { listen } from "@seed/rpc/tcp";
   * const server = new Server().serve(listen("tcp://127.0.0.1:0"));
   * assertMatch(server.addr, /^tcp:\/\/127\.0\.0\.1:\d+$/);
   * await server.shutdown();
   * ```
   */
  serve(listener: Listener<string>): this {
    this.#listeners.push(listener);
    if (this.#shuttingDown) {
      listener.close().catch(() => {});
      return this;
    }
    listener.admit?.(() => this.accepting);
    this.#accepting.push(this.#accept(listener));
    return this;
  }

  /**
   * Takes one connection: a transport (framed with the server's dialect) or
   * a channel. Returns its {@linkcode Connection}, or `undefined` when the
   * server refused it (shutting down, or at `maxConnections`): then the
   * connection was closed, and the refusal logged.
   */
  add(
    connection: Transport<string> | Channel,
    options: AddOptions = {},
  ): Connection<S> | undefined {
    if (!this.accepting) {
      const why = this.#shuttingDown ? "server shutting down" : "too many connections";
      this.#logger.warn(`refused a connection from ${connection.remote ?? "?"}: ${why}`);
      connection.close(closeReason(CloseCode.Refused, why)).catch(() => {});
      return undefined;
    }
    const id = String(++this.#lastId);
    const name = options.name ?? connection.remote ?? id;
    const peer = new Peer(connection, {
      ...this.#options.peer,
      dialect: this.#options.dialect,
      role: "server",
      limit: this.#limit,
      logger: this.#logger,
      name,
    });
    const base = { id, name, peer, connectedAt: new Date() };
    const entry: Connection<S> = {
      ...base,
      state: this.#options.state ? this.#options.state(base) : ({} as S),
    };
    const handlers = typeof this.#options.handlers === "function"
      ? this.#options.handlers(entry)
      : this.#options.handlers ?? {};
    for (const method of Object.keys(handlers)) peer.handle(method, handlers[method]!);
    this.#connections.set(id, entry);
    this.#byPeer.set(peer, entry);
    this.#activity.set(entry, { messages: 0, since: Date.now() });
    this.#watch(entry);
    return entry;
  }

  /**
   * The connection a peer belongs to; in a handler, `server.connectionOf(ctx.peer)`.
   *
   * @example The connection of a peer
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { memoryPair, Peer, Server } from "@seed/rpc";
   * const server = new Server();
   * const [a, b] = memoryPair();
   * const stranger = new Peer(a);
   * assertEquals(server.connectionOf(stranger), undefined); // not one of the server's
   * await stranger.close();
   * await b.closed;
   * await server.shutdown();
   * ```
   */
  connectionOf(peer: PeerHandle): Connection<S> | undefined {
    return this.#byPeer.get(peer);
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
    options: Recipients & Omit<CallOptions, "to"> = {},
  ): Promise<Map<string, PromiseSettledResult<unknown>>> {
    const { to, ...callOptions } = options;
    const targets = this.#select(to);
    const outcomes = await Promise.allSettled(
      targets.map((c) => c.peer.call(method, params, callOptions)),
    );
    return new Map(targets.map((c, i) => [c.id, outcomes[i]!]));
  }

  /**
   * Stops accepting (closes every listener, refuses `add`), answers new
   * calls with `ErrorCode.ShuttingDown` (-32002), waits up to `deadline`
   * for calls in flight, then closes every connection, and resolves when
   * all are closed: by the deadline (a connection still flushing what it
   * was sending then is closed at once).
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      const started = Date.now();
      this.#stopIdleCheck();
      const reason = closeReason(CloseCode.Shutdown, options.reason ?? "server shutting down");
      await Promise.all(this.#listeners.map((listener) => listener.close()));
      const deadline = options.deadline ?? 5000;
      const peers = [...this.#connections.values()].map((c) => c.peer);
      const finished = await Promise.all(peers.map((peer) => peer.drain(deadline)));
      const cut = finished.filter((done) => !done).length;
      if (cut > 0) {
        this.#logger.warn(`shutdown: ${cut} connection(s) still busy after ${deadline} ms`);
      }
      // Close gracefully while the deadline lasts; past it, at once.
      const closing = Promise.all(peers.map((peer) => peer.close(reason)));
      const left = deadline - (Date.now() - started);
      const late = await withTimeout(closing.then(() => false), left, true);
      if (late) { for (const peer of peers) peer.close(reason); }
      await closing;
    }
    await Promise.all(this.#accepting);
    await Promise.all(this.#disconnected);
  }

  /** Closes every connection now, without waiting for calls in flight. */
  close(reason = "server closed"): Promise<void> {
    return this.shutdown({ deadline: 0, reason });
  }

  #select(to: Iterable<string> | undefined): Connection<S>[] {
    if (to === undefined) return [...this.#connections.values()];
    const wanted = new Set(to);
    return [...this.#connections.values()].filter((c) => wanted.has(c.id) || wanted.has(c.name));
  }

  async #accept(listener: Listener<string>): Promise<void> {
    try {
      for await (const transport of listener) this.add(transport);
    } catch (error) {
      if (!this.#shuttingDown) this.#logger.error(`the listener on ${listener.addr} failed`, error);
    }
  }

  /** Runs `onConnect` now and `onDisconnect` when the peer closes. */
  #watch(connection: Connection<S>): void {
    const { id, name, peer } = connection;
    const options = this.#options;
    const done = peer.closed.then(() => {
      this.#connections.delete(id);
      this.#disconnected.delete(done);
      try {
        options.onDisconnect?.(connection, peer.closeReason ?? toCloseReason(undefined));
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

  /**
   * Checks for idle connections in `ms`, and so on until shutdown, on
   * `AbortSignal.timeout`: in Deno (2.9) the first `setTimeout` or
   * `setInterval` loads its Node-compatible timers, 3 to 4 MiB of memory
   * and tens of ms, which a server needs for nothing else (a signal's timer
   * does not). Such a timer cannot be cleared, but without a listener it
   * no longer holds the process (see #stopIdleCheck).
   */
  #checkIdleIn(ms: number, idleTimeout: number): void {
    const signal = AbortSignal.timeout(ms);
    const check = () => {
      this.#checkIdleIn(ms, idleTimeout);
      this.#closeIdle(idleTimeout);
    };
    signal.addEventListener("abort", check, { once: true });
    this.#idleCheck = { signal, check };
  }

  /** Ends the idle checks: the pending one, its listener gone, lets the process exit. */
  #stopIdleCheck(): void {
    const pending = this.#idleCheck;
    this.#idleCheck = undefined;
    pending?.signal.removeEventListener("abort", pending.check);
  }

  #closeIdle(idleTimeout: number): void {
    const now = Date.now();
    for (const connection of this.#connections.values()) {
      if (connection.peer.channel.expires === true) continue;
      const stats = connection.peer.stats();
      const messages = stats.messagesReceived + stats.messagesSent;
      const seen = this.#activity.get(connection)!;
      if (messages !== seen.messages || stats.runningHandlers > 0 || stats.pendingCalls > 0) {
        seen.messages = messages;
        seen.since = now;
      } else if (now - seen.since >= idleTimeout) {
        this.#logger.debug(`closing ${connection.name}: idle for ${idleTimeout} ms`);
        connection.peer.close(closeReason(CloseCode.Idle, `idle for ${idleTimeout} ms`));
      }
    }
  }
}
