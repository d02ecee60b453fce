/**
 * The mushroom client, for Deno and browsers: the handshake, then a
 * WebSocket, or long polling when the server offers only that or the
 * WebSocket cannot be opened. A dropped socket is replaced inside the same
 * session: nothing sent is lost (the session resends what the server has
 * not acknowledged) and pending calls stay pending. The session ends when
 * it is closed, when the server ends it, or when no transport could be had
 * for `sessionTimeout`.
 *
 * Also exports mushroom's codec and session layer, which both sides share.
 *
 * @example A typed contract over mushroom
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { defineContract } from "@seed/rpc/contract";
 * import { connect } from "@seed/rpc/mushroom";
 * import { listen } from "@seed/rpc/mushroom/server";
 *
 * const Clock = defineContract({ incoming: { get_time: { result: { type: "integer" } } } });
 * const server = new Server({ handlers: Clock.handlers({ get_time: () => 1342106240 }) })
 *   .serve(listen("http://127.0.0.1:0/"));
 * const client = new Peer(await connect(server.addr));
 * assertEquals(await Clock.invert().remote(client).get_time(), 1342106240);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { CloseCode, type CloseReason, closeReason, toCloseReason } from "../protocol/wire/close.ts";
import { consoleLogger, type Logger } from "../protocol/shared/logger.ts";
import { Backoff, type BackoffOptions } from "../protocol/wire/retry.ts";
import { MushroomSession, type MushroomSessionOptions } from "./mushroom/_session.ts";
import {
  connect as connectWebSocket,
  type ConnectOptions as WebSocketConnectOptions,
} from "./websocket.ts";

export {
  decodeMushroom,
  encodeMushroom,
  MalformedBody,
  type MushroomBody,
  type MushroomCall,
  type MushroomDisconnect,
  type MushroomHeartbeat,
  type MushroomJson,
  type MushroomMessage,
  type MushroomReply,
  parseMushroomBody,
} from "../protocol/dialects/mushroom_codec.ts";
export {
  MushroomBudget,
  MushroomSession,
  type MushroomSessionOptions,
} from "./mushroom/_session.ts";

/**
 * Options for {@linkcode connect}.
 */
export interface MushroomConnectOptions
  extends
    Omit<MushroomSessionOptions, "role" | "id" | "logger" | "pollTimeout" | "budget" | "streams"> {
  /**
   * The transports to ask for, in order of preference.
   *
   * @default {["ws", "poll"] where WebSocket exists, else ["poll"]}
   */
  transports?: readonly ("ws" | "poll")[];
  /**
   * Ask the server for streams and progress (`"streams": true` in the
   * handshake). A server of ours then answers that it streams; mushroom's
   * Python server ignores the key. Off by default so that nothing is sent
   * to the original that it did not ask for.
   *
   * @default {false}
   */
  streams?: boolean;
  /**
   * Sent in the handshake for the server's `authenticate` hook.
   *
   * @default {null}
   */
  auth?: unknown;
  /**
   * Milliseconds `close()` waits for the server to acknowledge what was sent.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * Milliseconds to wait for the handshake's answer.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * The first wait before opening a dropped transport again, doubled after
   * each failure (with jitter) up to `maxDelay`.
   *
   * @default {250}
   */
  minDelay?: number;
  /**
   * The longest wait between attempts.
   *
   * @default {5000}
   */
  maxDelay?: number;
  /**
   * WebSocket options (limits; `caCerts` and `headers` in Deno).
   *
   * @default {{}}
   */
  websocket?: Omit<WebSocketConnectOptions, "dialect" | "protocols">;
  /**
   * `fetch` for the handshake and polls (a `Deno.HttpClient`-bound one
   * for a self-signed server, say).
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
  /**
   * Where dropped connections and refused messages are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * What a failed handshake throws.
 *
 * @example The error for a refused handshake
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { HandshakeFailed } from "@seed/rpc/mushroom";
 * const error = new HandshakeFailed(401, "Unauthorized");
 * assertEquals(error.message, "Transport negotiation failed. Status code=401: Unauthorized");
 * ```
 */
export class HandshakeFailed extends Error {
  /** The HTTP status, or 0 when no answer came. */
  readonly status: number;

  /**
   * Makes the error for a refused or failed handshake.
   *
   * @param status The HTTP status, or 0.
   * @param detail What the server said, or what went wrong.
   */
  constructor(status: number, detail: string) {
    super(`Transport negotiation failed. Status code=${status}: ${detail}`);
    this.name = "HandshakeFailed";
    this.status = status;
  }
}

/** The handshake's answer. */
interface Negotiated {
  transport: "ws" | "poll";
  url: string;
  /** The server is ours and streams (`"streams": true` in its answer). */
  streams?: boolean;
}

async function handshake(url: URL, options: MushroomConnectOptions, doFetch: typeof fetch) {
  const transports = options.transports ??
    (typeof WebSocket === "function" ? ["ws", "poll"] : ["poll"]);
  let response: Response;
  try {
    response = await doFetch(url, {
      method: "POST",
      // text/plain keeps it a CORS "simple request", as mushroom's own client does.
      headers: { "content-type": "text/plain" },
      // `streams`, when asked for: only our server answers it (the original ignores it).
      body: JSON.stringify(
        options.streams === true
          ? { transports, auth: options.auth ?? null, streams: true }
          : { transports, auth: options.auth ?? null },
      ),
      signal: AbortSignal.timeout(options.handshakeTimeout ?? 10_000),
    });
  } catch (error) {
    throw new HandshakeFailed(0, (error as Error).message);
  }
  const text = await response.text();
  if (response.status !== 200) throw new HandshakeFailed(response.status, text.trim());
  let answer: Negotiated;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new HandshakeFailed(200, `not JSON: ${text.slice(0, 80)}`);
  }
  if (
    (answer?.transport !== "ws" && answer?.transport !== "poll") || typeof answer.url !== "string"
  ) {
    throw new HandshakeFailed(200, `not a handshake answer: ${text.slice(0, 80)}`);
  }
  if (!URL.canParse(answer.url, url)) {
    throw new HandshakeFailed(200, `not a session URL: ${answer.url.slice(0, 80)}`);
  }
  // A server that does not know where it is reached answers a relative URL.
  const session = new URL(answer.url, url);
  if (answer.transport === "ws") session.protocol = session.protocol.replace(/^http/, "ws");
  return { transport: answer.transport, url: session.href, streams: answer.streams === true };
}

/** The session id at the end of a session URL, for logs. */
function sessionIdOf(url: string): string {
  return /([A-Za-z0-9]+)\/?$/.exec(new URL(url).pathname)?.[1] ?? "mushroom";
}

/**
 * A client's mushroom session: the channel a {@linkcode Peer} talks
 * through, kept connected by the client. Made by {@linkcode connect}.
 *
 * @example Which transport is in use
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { connect } from "@seed/rpc/mushroom";
 * import { listen } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server({ handlers: { ping: () => "pong" } })
 *   .serve(listen("http://127.0.0.1:0/", { transports: ["poll"] }));
 * const session = await connect(server.addr);
 * assertEquals(session.transport, "poll");
 * const client = new Peer(session);
 * assertEquals(await client.call("ping"), "pong");
 * await client.close();
 * await server.shutdown();
 * ```
 */
export class MushroomClient extends MushroomSession {
  /** The session's URL (ws:// or http://), as the server gave it. */
  readonly url: string;
  #transport: "ws" | "poll";
  /** The session URL for long polling (http:// or https://). */
  #pollUrl: string;
  #options: MushroomConnectOptions;
  #fetch: typeof fetch;
  #log: Logger;
  #stop = new AbortController();
  #backoff: BackoffOptions;
  #running: Promise<void>;

  /** Prefer {@linkcode connect}, which makes the handshake first. */
  constructor(negotiated: Negotiated, options: MushroomConnectOptions, doFetch: typeof fetch) {
    const logger = options.logger ?? consoleLogger;
    super({
      ...options,
      role: "client",
      id: sessionIdOf(negotiated.url),
      logger,
      streams: negotiated.streams === true,
    });
    this.url = negotiated.url;
    this.#pollUrl = negotiated.url.replace(/^ws/, "http");
    this.#transport = negotiated.transport;
    this.#options = options;
    this.#fetch = doFetch;
    this.#log = logger;
    this.#backoff = { minDelay: options.minDelay, maxDelay: options.maxDelay ?? 5000 };
    this.#running = this.#run();
  }

  /** The transport in use now: `ws` or `poll`. */
  get transport(): "ws" | "poll" {
    return this.#transport;
  }

  /**
   * Ends the session: what was sent before is delivered first (over a
   * WebSocket, until the server acknowledged it or `closeTimeout` passed),
   * then the server is told, and the transports stop.
   */
  override async close(reason?: string | CloseReason): Promise<void> {
    const first = this.closeReason === undefined;
    if (first && this.#transport === "ws" && toCloseReason(reason).code === CloseCode.Local) {
      await this.flushed(this.#options.closeTimeout ?? 2000);
    }
    const closing = super.close(reason);
    if (first) {
      const why = this.closeReason as CloseReason | undefined;
      if (this.#transport === "poll" && why?.code !== CloseCode.Remote) {
        // The disconnect goes out in one last send.
        await this.#post(this.pollBody({ heartbeat: false, messages: true }).body, 2000)
          .catch(() => {});
      }
      this.#stop.abort();
      await this.#running;
    }
    return await closing;
  }

  async #run(): Promise<void> {
    if (this.#transport === "ws") await this.#runWebSocket();
    if (this.closeReason === undefined && this.#transport === "poll") await this.#runPolling();
  }

  /** Keeps a WebSocket attached; falls back to polling when none can be opened at first. */
  async #runWebSocket(): Promise<void> {
    const backoff = new Backoff(this.#backoff);
    let everOpen = false;
    while (this.closeReason === undefined && !this.#stop.signal.aborted) {
      let socket;
      try {
        socket = await connectWebSocket(this.url, {
          ...this.#options.websocket,
          logger: this.#log,
        });
      } catch (error) {
        backoff.fail();
        this.#log.debug(`${this.id}: could not open the WebSocket`, error);
        const canPoll = (this.#options.transports ?? ["ws", "poll"]).includes("poll");
        if (!everOpen && canPoll) {
          this.#log.debug(`${this.id}: falling back to long polling`);
          this.#transport = "poll";
          return;
        }
        await backoff.wait(this.#stop.signal);
        continue;
      }
      everOpen = true;
      backoff.reset();
      const ended = await this.attach(socket);
      if (this.closeReason === undefined) {
        this.#log.debug(`${this.id}: the WebSocket dropped (${ended.message}); reconnecting`);
        backoff.fail();
        await backoff.wait(this.#stop.signal);
      }
    }
  }

  /** Long polling: one loop polls, another sends what is queued. */
  async #runPolling(): Promise<void> {
    await Promise.all([this.#pollLoop(), this.#sendLoop()]);
  }

  async #pollLoop(): Promise<void> {
    const backoff = new Backoff(this.#backoff);
    while (this.closeReason === undefined && !this.#stop.signal.aborted) {
      const { body } = this.pollBody({ heartbeat: true, messages: false });
      this.hold();
      let text: string;
      try {
        text = await this.#post(body);
        backoff.reset();
      } catch (error) {
        this.release();
        if (this.#stop.signal.aborted || this.closeReason !== undefined) return;
        if (await this.#gone(error)) return;
        this.#log.debug(`${this.id}: a poll failed`, error);
        backoff.fail();
        await backoff.wait(this.#stop.signal);
        continue;
      }
      this.release();
      await this.receive(text);
    }
  }

  async #sendLoop(): Promise<void> {
    const backoff = new Backoff(this.#backoff);
    while (this.closeReason === undefined && !this.#stop.signal.aborted) {
      await Promise.race([this.changed(), this.#stopped()]);
      if (this.closeReason !== undefined || this.#stop.signal.aborted) return;
      const { body, sentUpTo } = this.pollBody({
        heartbeat: false,
        messages: true,
        maxBytes: this.maxPollBytes,
      });
      try {
        await this.#post(body);
        backoff.reset();
        if (sentUpTo !== undefined) this.acknowledge(sentUpTo);
      } catch (error) {
        if (this.#stop.signal.aborted || this.closeReason !== undefined) return;
        if (await this.#gone(error)) return;
        this.#log.debug(`${this.id}: a send failed`, error);
        backoff.fail();
        await backoff.wait(this.#stop.signal);
      }
    }
  }

  /** POSTs `body` to the session URL; the answer's text, or throws with the status. */
  async #post(body: string, timeout?: number): Promise<string> {
    const signal = timeout === undefined
      ? this.#stop.signal
      : AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeout)]);
    const response = await this.#fetch(this.#pollUrl, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body,
      signal,
    });
    const text = await response.text();
    if (response.status !== 200) throw new PollRefused(response.status, text.trim());
    return text;
  }

  /** Whether `error` says the server has no such session: then the session ends. */
  async #gone(error: unknown): Promise<boolean> {
    if (!(error instanceof PollRefused) || error.status !== 404) return false;
    await this.close(closeReason(CloseCode.Expired, "the server no longer has this session"));
    return true;
  }

  #stopped(): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
}

/** A poll or send the server answered with another status than 200. */
class PollRefused extends Error {
  readonly status: number;
  constructor(status: number, text: string) {
    super(`the server answered ${status}: ${text}`);
    this.status = status;
  }
}

/**
 * Starts a mushroom session with the server whose handshake is at `url`
 * (`http://host:port/path/`), and keeps it connected. Give the result to a
 * {@linkcode Peer}. Rejects with {@linkcode HandshakeFailed} when the
 * server refuses (401, 501...) or cannot be reached.
 *
 * @example Refused without the right credentials
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { Server } from "@seed/rpc";
 * import { connect, HandshakeFailed } from "@seed/rpc/mushroom";
 * import { listen } from "@seed/rpc/mushroom/server";
 *
 * const server = new Server().serve(
 *   listen("http://127.0.0.1:0/", { authenticate: (auth) => auth === "open sesame" }),
 * );
 * const error = await assertRejects(() => connect(server.addr, { auth: "guess" }), HandshakeFailed);
 * assertEquals(error.status, 401);
 * await server.shutdown();
 * ```
 */
export async function connect(
  url: string | URL,
  options: MushroomConnectOptions = {},
): Promise<MushroomClient> {
  const target = typeof url === "string" ? new URL(url) : url;
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new TypeError(`Expected an http:// or https:// URL, got '${target.href}'`);
  }
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const negotiated = await handshake(target, options, doFetch);
  return new MushroomClient(negotiated, options, doFetch);
}
