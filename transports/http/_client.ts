/**
 * The client side of JSON-RPC over HTTP, on `fetch` alone (Deno and
 * browsers): a {@linkcode Channel} whose calls are POSTs, one each or, with
 * `batch`, gathered into one JSON array per tick (or per `maxDelay`).
 *
 * @module
 */

import type { Channel } from "../../protocol/wire/channel.ts";
import { CloseCode, type CloseReason, closeReason } from "../../protocol/wire/close.ts";
import { ConnectionClosed } from "../../protocol/wire/errors.ts";
import { InboxChannel } from "../../protocol/wire/inbox.ts";
import type { Id, Message } from "../../protocol/wire/message.ts";
import { JsonRpcCodec } from "../../protocol/dialects/jsonrpc.ts";
import { ACCEPTED } from "../../protocol/wire/transport.ts";
import { CallTable } from "../../protocol/peer/call_table.ts";

const codec = new JsonRpcCodec();

/** When calls go out together as one batch. */
export interface HttpBatchOptions {
  /**
   * Milliseconds to wait for more calls before the batch goes; 0 sends
   * what was called in the same tick.
   *
   * @default {0}
   */
  maxDelay?: number;
  /**
   * The most messages in one batch; a full batch goes at once.
   *
   * @default {100}
   */
  maxBatch?: number;
}

/** Options for {@linkcode connect}. */
export interface HttpConnectOptions {
  /**
   * The `fetch` to POST with (a wrapper that adds auth, a test double).
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
  /** Headers sent with every POST (`authorization`, say). */
  headers?: Record<string, string>;
  /**
   * Gathers calls and notifications into batches; `false` (or left out)
   * sends each in a POST of its own.
   *
   * @default {false}
   */
  batch?: HttpBatchOptions | false;
  /** PEM certificates to trust for `https://` (Deno only). */
  caCerts?: string[];
}

/**
 * A POST that failed at the HTTP level: its calls reject with it, and a
 * notification's `notify` too. `status` is 0 when no answer came.
 *
 * @example What a 401 says
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { HttpError } from "@seed/rpc/http";
 * const error = new HttpError(401, "");
 * assertEquals(error.status, 401);
 * assertEquals(error.message.startsWith("HTTP 401: the server wants credentials"), true);
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status, or 0. */
  readonly status: number;

  /**
   * Makes the error for an answer.
   *
   * @param status The HTTP status.
   * @param body The start of the answer's body, for the message.
   */
  constructor(status: number, body: string) {
    super(`HTTP ${status}: ${meaning(status, body)}`);
    this.name = "HttpError";
    this.status = status;
  }
}

/** What a status means to a JSON-RPC caller. */
function meaning(status: number, body: string): string {
  const said = body.trim().slice(0, 200);
  const tail = said === "" ? "" : ` (the server said: ${said})`;
  switch (status) {
    case 401:
      return `the server wants credentials (give them in the headers option)${tail}`;
    case 403:
      return `the server refused this client (its origin, host or credentials)${tail}`;
    case 404:
      return `nothing is served at this path${tail}`;
    case 405:
      return `the server does not take POST here${tail}`;
    case 413:
      return `the request body is over the server's limit (its maxBodyBytes)${tail}`;
    case 415:
      return `the server does not take application/json here${tail}`;
    default:
      return said === "" ? "unexpected answer" : said;
  }
}

/** `Deno`, when the code runs in Deno. */
interface DenoLike {
  createHttpClient(options: { caCerts: string[] }): { close(): void };
}

function ignore(): void {}

/** A pending call: its id, and the POST it went in. */
interface Pending {
  readonly id: Id;
  readonly post: Post;
}

/**
 * One POST: the messages it carries, and how to abort it. It is also the
 * {@linkcode Pending} entry of its first call (one entry less per call).
 */
class Post implements Pending {
  readonly messages: Message[] = [];
  /** Requests in it not cancelled yet. */
  calls = 0;
  readonly controller = new AbortController();
  readonly done = Promise.withResolvers<void>();
  sent = false;
  /** Its first call's id (0 until it has one). */
  id: Id = 0;
  /** Neighbours in the list of POSTs in flight. */
  prev: Post | undefined;
  next: Post | undefined;

  constructor() {
    // A send's caller may not await it (a call awaits its reply instead).
    this.done.promise.catch(ignore);
  }

  get post(): Post {
    return this;
  }
}

/**
 * A channel over HTTP POSTs to one URL. Made by {@linkcode connect}; give
 * it to `new Peer(...)`.
 */
export class HttpClientChannel extends InboxChannel implements Channel {
  /** The URL POSTs go to, for logs. */
  readonly remote: string;
  readonly #url: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #client: { close(): void } | undefined;
  readonly #maxDelay: number;
  readonly #maxBatch: number;
  readonly #batching: boolean;
  /** The batch being gathered. */
  #gathering: Post | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The POST each pending call went in (a table, not a `Map`: see
   * call_table.ts on the garbage a Map that fills and empties leaves).
   */
  #byId = new CallTable<Pending>(64);
  /** POSTs in flight, a list (the newest first), for `close` to abort. */
  #inFlight: Post | undefined;

  /** Prefer {@linkcode connect}. */
  constructor(url: string, options: HttpConnectOptions = {}) {
    super();
    this.remote = url;
    this.#url = url;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#headers = { "content-type": "application/json", ...options.headers };
    if (options.caCerts !== undefined) {
      const deno = (globalThis as { Deno?: DenoLike }).Deno;
      if (deno === undefined) throw new TypeError("caCerts works in Deno only");
      this.#client = deno.createHttpClient({ caCerts: options.caCerts });
    }
    this.#batching = options.batch !== undefined && options.batch !== false;
    const batch = options.batch || {};
    this.#maxDelay = batch.maxDelay ?? 0;
    this.#maxBatch = Math.max(1, batch.maxBatch ?? 100);
  }

  /**
   * Sends a call or notification: it resolves once the POST carrying it
   * was answered, and rejects with {@linkcode HttpError} when that failed.
   * A cancel aborts the call's POST when it is alone in it, or takes it
   * out of a batch not sent yet.
   */
  send(message: Message): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new ConnectionClosed(this.closeReason));
    }
    if (message.kind === "cancel") {
      this.#cancel(message.id);
      return ACCEPTED;
    }
    if (message.kind !== "request" && message.kind !== "notification") {
      return Promise.reject(new TypeError(`JSON-RPC over HTTP cannot send a ${message.kind}`));
    }
    let post: Post;
    if (!this.#batching) {
      post = new Post();
      this.#add(post, message);
      this.#post(post);
    } else {
      post = this.#gathering ??= new Post();
      this.#add(post, message);
      if (post.messages.length >= this.#maxBatch) this.#flush();
      else this.#timer ??= setTimeout(this.#flush, this.#maxDelay);
    }
    return post.done.promise;
  }

  #add(post: Post, message: Message): void {
    post.messages.push(message);
    if (message.kind === "request" && message.id !== null) {
      const known = this.#byId.get(message.id);
      if (known !== undefined) this.#byId.remove(known);
      if (post.calls++ === 0 && post.messages.length === 1) {
        post.id = message.id;
        this.#byId.add(post);
      } else {
        this.#byId.add({ id: message.id, post });
      }
    }
  }

  /** The gathered batch goes. */
  #flush = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const post = this.#gathering;
    this.#gathering = undefined;
    if (post !== undefined && post.messages.length > 0) this.#post(post);
  };

  #cancel(id: Id): void {
    const pending = this.#byId.get(id);
    if (pending === undefined) return;
    this.#byId.remove(pending);
    const post = pending.post;
    post.calls--;
    if (!post.sent) {
      const at = post.messages.findIndex((m) => m.kind === "request" && m.id === id);
      if (at >= 0) post.messages.splice(at, 1);
      if (post.messages.length === 0 && post === this.#gathering) this.#flush();
    } else if (post.calls === 0 && post.messages.every((m) => m.kind === "request")) {
      // Alone in its POST (nothing else waits on it): stop the request.
      post.controller.abort();
    }
  }

  async #post(post: Post): Promise<void> {
    post.sent = true;
    post.next = this.#inFlight;
    if (post.next !== undefined) post.next.prev = post;
    this.#inFlight = post;
    const body = post.messages.length === 1 && !this.#batching
      ? codec.encode(post.messages[0]!)[0]
      : codec.encodeBatch(post.messages)[0];
    try {
      const init: RequestInit & { client?: unknown } = {
        method: "POST",
        headers: this.#headers,
        body,
        signal: post.controller.signal,
      };
      if (this.#client !== undefined) init.client = this.#client;
      const response = await this.#fetch(this.#url, init);
      const text = await response.text();
      if (response.status === 204 || (response.ok && text.trim() === "")) {
        this.#unanswered(post, "the server answered no reply");
      } else if (response.ok) {
        const replies = codec.decode(text);
        if (!Array.isArray(replies) && (replies as Message).kind === "invalid") {
          throw new HttpError(response.status, `not JSON-RPC: ${text.slice(0, 80)}`);
        }
        this.#forget(post);
        if (this.closeReason === undefined) this.deliver({ message: replies, size: text.length });
        this.#unanswered(post, "the server's answer left it out");
      } else {
        throw new HttpError(response.status, response.status === 400 ? errorText(text) : text);
      }
      post.done.resolve();
    } catch (error) {
      this.#forget(post);
      post.done.reject(
        error instanceof HttpError || post.controller.signal.aborted
          ? error
          : new HttpError(0, `no answer from ${this.#url}: ${(error as Error).message}`),
      );
    } finally {
      if (post.prev !== undefined) post.prev.next = post.next;
      else if (this.#inFlight === post) this.#inFlight = post.next;
      if (post.next !== undefined) post.next.prev = post.prev;
      post.prev = post.next = undefined;
    }
  }

  /** The calls of `post` still pending get no reply: they fail. */
  #unanswered(post: Post, why: string): void {
    for (const message of post.messages) {
      if (message.kind !== "request" || message.id === null) continue;
      const pending = this.#byId.get(message.id);
      if (pending?.post === post) {
        this.#byId.remove(pending);
        this.deliver({
          message: { kind: "lost", id: message.id, reason: closeReason(CloseCode.Failed, why) },
        });
      }
    }
  }

  #forget(post: Post): void {
    for (const message of post.messages) {
      if (message.kind !== "request" || message.id === null) continue;
      const pending = this.#byId.get(message.id);
      if (pending?.post === post) this.#byId.remove(pending);
    }
  }

  /** Closes: POSTs in flight are aborted; their calls fail with the peer's close. */
  close(reason?: string | CloseReason): Promise<void> {
    if (this.beginClose(reason) !== undefined) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#gathering = undefined;
      for (let post = this.#inFlight; post !== undefined; post = post.next) {
        post.controller.abort();
      }
      this.#client?.close();
      this.finishClose();
    }
    return this.closed;
  }
}

/** The message of a JSON-RPC error body (a 400), or the body. */
function errorText(text: string): string {
  try {
    const error = JSON.parse(text)?.error;
    if (typeof error?.message === "string") {
      return typeof error.data === "string" ? `${error.message}: ${error.data}` : error.message;
    }
  } catch {
    // not JSON: the text as it is
  }
  return text;
}

/**
 * A channel to the JSON-RPC over HTTP endpoint at `url`, for
 * `new Peer(...)`; nothing is sent until the first call.
 */
export function connect(
  url: string | URL,
  options: HttpConnectOptions = {},
): Promise<HttpClientChannel> {
  const target = typeof url === "string" ? new URL(url) : url;
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(
      new TypeError(`Expected an http:// or https:// URL, got '${target.href}'`),
    );
  }
  try {
    return Promise.resolve(new HttpClientChannel(target.href, options));
  } catch (error) {
    return Promise.reject(error);
  }
}
