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
import { DEFAULT_MAX_FRAME_BYTES } from "../../protocol/wire/dialect.ts";
import { never } from "../../protocol/shared/_timer.ts";
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
  /**
   * The largest reply body, in bytes: a longer one is cut off and its
   * POST fails with an {@linkcode HttpError}, so a hostile server cannot
   * grow the client's memory without bound.
   *
   * @default {16777216}
   */
  maxReplyBytes?: number;
  /**
   * Milliseconds a POST of notifications waits for its answer (in a batch,
   * from when no call of it waits any more); then it is aborted and fails
   * with an {@linkcode HttpError} (status 0); Infinity: never. Calls have
   * the peer's timeout.
   *
   * @default {30000}
   */
  notifyTimeout?: number;
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

/** Control and bidi characters, escaped in what a server said (a log line stays one line). */
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** What a status means to a JSON-RPC caller. */
function meaning(status: number, body: string): string {
  const said = body.trim().slice(0, 200).replace(UNPRINTABLE, escapeChar);
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
  readonly messages: Message[];
  /** Each message as JSON, encoded when it was sent (so one that cannot be fails alone). */
  readonly texts: string[];
  /** Requests in it not cancelled yet. */
  calls = 0;
  readonly controller = new AbortController();
  readonly done = Promise.withResolvers<void>();
  sent = false;
  /** Aborts it once only notifications wait on its answer, after `notifyTimeout`. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /** Its first call's id (0 until it has one). */
  id: Id = 0;
  /** Neighbours in the list of POSTs in flight. */
  prev: Post | undefined;
  next: Post | undefined;

  /** A POST of one message (arrays of its size: most POSTs carry one), or of none yet. */
  constructor(message?: Message, text?: string) {
    this.messages = message === undefined ? [] : [message];
    this.texts = text === undefined ? [] : [text];
  }

  /**
   * Fails the POST. A send's caller may not await it (a call awaits its
   * reply instead): the rejection is marked handled here, when it happens,
   * not with a `catch` made for every POST (a promise and a microtask each).
   */
  fail(error: unknown): void {
    this.done.promise.catch(ignore);
    this.done.reject(error);
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
  readonly #maxReply: number;
  readonly #notifyTimeout: number;
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
    this.#maxReply = options.maxReplyBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#notifyTimeout = options.notifyTimeout ?? 30_000;
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
    // Encoded here, so a value that cannot be sent fails this send alone.
    let body: string;
    try {
      body = codec.encode(message)[0]!;
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#batching) {
      post = new Post(message, body);
      this.#track(post, message);
      this.#post(post);
    } else {
      post = this.#gathering ??= new Post();
      this.#add(post, message, body);
      if (post.messages.length >= this.#maxBatch) this.#flush();
      else this.#timer ??= setTimeout(this.#flush, this.#maxDelay);
    }
    return post.done.promise;
  }

  #add(post: Post, message: Message, text: string): void {
    post.messages.push(message);
    post.texts.push(text);
    this.#track(post, message);
  }

  /** A request in `post` (its last message) waits for its reply there. */
  #track(post: Post, message: Message): void {
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
      if (at >= 0) {
        post.messages.splice(at, 1);
        post.texts.splice(at, 1);
      }
      if (post.messages.length === 0 && post === this.#gathering) this.#flush();
    } else if (post.calls === 0 && post.messages.every((m) => m.kind === "request")) {
      // Alone in its POST (nothing else waits on it): stop the request.
      post.controller.abort();
    } else if (post.calls === 0) {
      // Only its notifications wait now.
      this.#expire(post);
    }
  }

  #expire(post: Post): void {
    if (never(this.#notifyTimeout)) return;
    post.deadline ??= setTimeout(abortLate, this.#notifyTimeout, post, this.#notifyTimeout);
  }

  async #post(post: Post): Promise<void> {
    post.sent = true;
    post.next = this.#inFlight;
    if (post.next !== undefined) post.next.prev = post;
    this.#inFlight = post;
    const body = post.texts.length === 1 && !this.#batching
      ? post.texts[0]!
      : `[${post.texts.join(",")}]`;
    // Only notifications in it: no call's timeout ends it, so a deadline of its own.
    if (post.calls === 0) this.#expire(post);
    try {
      const init: RequestInit & { client?: unknown } = {
        method: "POST",
        headers: this.#headers,
        body,
        signal: post.controller.signal,
      };
      if (this.#client !== undefined) init.client = this.#client;
      const response = await this.#fetch(this.#url, init);
      const limit = response.ok ? this.#maxReply : ERROR_BYTES;
      // A declared length within the limit (fetch holds the server to it): one
      // read here, no async layer between it and the reply's delivery.
      const text = withinLimit(response, limit)
        ? await response.text()
        : await readReply(response, limit);
      if (response.status === 204 || (response.ok && blank(text))) {
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
      post.fail(
        error instanceof HttpError || post.controller.signal.aborted
          ? error
          : new HttpError(0, `no answer from ${this.#url}: ${(error as Error).message}`),
      );
    } finally {
      if (post.deadline !== undefined) clearTimeout(post.deadline);
      if (post.prev !== undefined) post.prev.next = post.next;
      else if (this.#inFlight === post) this.#inFlight = post.next;
      if (post.next !== undefined) post.next.prev = post.prev;
      post.prev = post.next = undefined;
    }
  }

  /** The calls of `post` still pending get no reply: they fail. */
  #unanswered(post: Post, why: string): void {
    // Indexed loops: an iterator per reply was garbage (measured 130 B a call each).
    const messages = post.messages;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
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
    const messages = post.messages;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
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

/** Aborts a POST whose notifications were not answered in time. */
function abortLate(post: Post, ms: number): void {
  post.controller.abort(new HttpError(0, `no answer within ${ms} ms (notifyTimeout)`));
}

/** What is read of a non-2xx answer's body, for its error's message. */
const ERROR_BYTES = 4096;

/** Whether a reply's body is empty or only whitespace (a body starting with `{` is not). */
function blank(text: string): boolean {
  return text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === "");
}

/** Whether the reply declares a length within `limit` (a compressed one's says nothing). */
function withinLimit(response: Response, limit: number): boolean {
  const headers = response.headers;
  const declared = headers.get("content-length");
  return declared !== null && Number(declared) <= limit && !headers.has("content-encoding");
}

/**
 * The reply's body as text, at most `limit` bytes: a 2xx reply over it
 * fails with {@linkcode HttpError}; an error's body is cut there.
 */
async function readReply(response: Response, limit: number): Promise<string> {
  // A compressed body's length says nothing of what it inflates to.
  const declared = response.headers.has("content-encoding")
    ? null
    : response.headers.get("content-length");
  if (response.body === null) return "";
  if (declared !== null && response.ok) {
    await response.body.cancel().catch(() => {});
    throw new HttpError(response.status, `the reply is over maxReplyBytes (${limit} bytes)`);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const room = limit - size;
    chunks.push(value.byteLength > room ? value.subarray(0, room) : value);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      if (!response.ok) break;
      throw new HttpError(response.status, `the reply is over maxReplyBytes (${limit} bytes)`);
    }
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
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
