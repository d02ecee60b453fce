/**
 * Reads a JSON-RPC POST body under a size cap and a deadline, the way the
 * mushroom endpoint reads its bodies: a `Content-Length` over the cap is
 * refused before a byte is read, a body that grows past it is cut off.
 *
 * @module
 */

import { keepingBom, readBodyChunks, type Unread } from "../_http_body.ts";

export type { Unread };

/** Who is told a body: its parsed value, that it was empty, why it was not read, or what went wrong. */
export interface BodyTaker {
  /** An empty body (`""`), or why it was not read (413, 408, 400). */
  body(text: "" | Unread): void;
  /** A body parsed as JSON: its value and its length (bytes when declared, else UTF-16 units). */
  parsed(value: unknown, size: number): void;
  /** A body that is not JSON (or only whitespace): the parser's reason. */
  unparsable(reason: string): void;
  /** Reading it threw (not a read that failed: that is a 400). */
  error(error: unknown): void;
}

/**
 * Reads the request's body and tells `taker` its parsed value (or that it
 * was empty, or not JSON); 413 when it is over `limit` bytes (by its
 * `Content-Length`, `declared`, before a byte is read), 408 when it has not
 * all arrived within `timeout` ms, 400 when it could not be read. `own`: a
 * Request of our own `listen()`, not of Deno.serve. A callback, not a
 * promise: the body goes on to the endpoint with no promise of its own
 * between (each one a microtask hop and garbage per POST).
 */
export function readBody(
  request: Request,
  declared: string | null,
  limit: number,
  timeout: number,
  taker: BodyTaker,
  own = false,
): void {
  const length = Number(declared ?? "0");
  if (length > limit) return taker.body(413);
  // A declared length within the limit: one read of the whole body, parsed
  // by request.json() (a reader's loop costs a read per chunk and one more
  // for the end). Deno.serve takes a body that has all arrived as text in
  // one step there, no stream nor promise chain of its own: ~3 us a POST
  // less than text() and JSON.parse. Like JSON.parse, it refuses a body
  // that starts with a byte order mark (RFC 8259 lets a parser refuse it).
  // The json() of a Request of our own listen() (`own`) drops the mark, as
  // the Fetch standard decodes UTF-8: its bytes are parsed keeping it.
  if (declared !== null) {
    return length === 0 ? taker.body("") : whole(request, length, timeout, taker, own);
  }
  // A chunked one is parsed as a declared one is (so one of only
  // whitespace is a Parse error too); an empty one is no message.
  readBodyChunks(request, limit, timeout, true).then(
    (text) => {
      if (typeof text !== "string") taker.body(text);
      else if (text === "") taker.body("");
      else parse(text, text.length, taker);
    },
    (error) => taker.error(error),
  );
}

/** Tells `taker` the value of JSON `text` (`size` long), or the parser's reason. */
function parse(text: string, size: number, taker: BodyTaker): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return taker.unparsable((error as Error).message);
  }
  taker.parsed(value, size);
}

/** A body read under way: how long it may take, when it is late, and how to say so. */
interface Deadline {
  readonly timeout: number;
  /** When it is late (monotonic ms); 0 until the shared timer first saw it. */
  at: number;
  late(status: 408): void;
}

/**
 * Reads of whole bodies under way, checked by one shared timer (a timer
 * set and cleared per request cost about 5% of a small call). No clock is
 * read per request either (performance.now() measured ~1 us a call): the
 * timer's first tick after a read began starts its deadline, so it is never
 * early, and with ticks every half of min(250 ms, timeout) a deadline is
 * met within a quarter second. The timer runs while reads do, and stops at
 * its first tick with none (or when an endpoint closes with none), so calls
 * one after another do not start and stop it each time.
 */
const reads = new Set<Deadline>();
let sweep: ReturnType<typeof setInterval> | undefined;

function checkDeadlines(): void {
  // The monotonic clock: a step of the wall clock neither answers every read
  // under way with 408 nor gives a slow sender more time.
  const now = performance.now();
  for (const read of reads) {
    if (read.at === 0) {
      read.at = now + read.timeout;
    } else if (read.at <= now) {
      reads.delete(read);
      read.late(408);
    }
  }
  stopSweepWhenIdle();
}

/** Stops the shared timer when no body is being read. */
export function stopSweepWhenIdle(): void {
  if (reads.size === 0 && sweep !== undefined) {
    clearInterval(sweep);
    sweep = undefined;
  }
}

/**
 * A whole body being read: answered once, with its text, 400 when it
 * failed, or 408 when its deadline passed first (no race of promises).
 */
class WholeRead implements Deadline {
  readonly timeout: number;
  at = 0;
  readonly #taker: BodyTaker;
  /** Its declared length, in bytes. */
  readonly #size: number;

  constructor(size: number, timeout: number, taker: BodyTaker) {
    this.timeout = timeout;
    this.#taker = taker;
    this.#size = size;
  }

  /** Its parsed value; ignored when it was late. */
  arrived(value: unknown): void {
    if (reads.delete(this)) this.#taker.parsed(value, this.#size);
  }

  /** Its bytes, parsed keeping a leading byte order mark (a Parse error then); ignored when late. */
  bytes(bytes: Uint8Array): void {
    if (reads.delete(this)) parse(keepingBom.decode(bytes), this.#size, this.#taker);
  }

  /** It was not JSON (a SyntaxError), or could not be read (400). */
  failed(error: unknown): void {
    if (!reads.delete(this)) return;
    if (error instanceof SyntaxError) this.#taker.unparsable(error.message);
    else this.#taker.body(400);
  }

  /** Its deadline passed (the sweep took it out of `reads`). */
  late(status: 408): void {
    this.#taker.body(status);
  }
}

/**
 * The whole body of `size` bytes parsed, or 408 when it has not arrived
 * within `timeout` ms, 400 when it failed.
 */
function whole(
  request: Request,
  size: number,
  timeout: number,
  taker: BodyTaker,
  own: boolean,
): void {
  const read = new WholeRead(size, timeout, taker);
  reads.add(read);
  sweep ??= setInterval(checkDeadlines, Math.min(250, timeout) / 2);
  if (own) request.bytes().then((bytes) => read.bytes(bytes), (error) => read.failed(error));
  else request.json().then((value) => read.arrived(value), (error) => read.failed(error));
}

const encoder = new TextEncoder();

/** What ends a 413 answer in someone's own `Deno.serve`: one line, no stack. */
const CUT = new Error("http: a request body was too large; its connection is closed");
CUT.stack = CUT.message;

/** A 413's body: a JSON-RPC error, as other refused bodies get. */
const TOO_LARGE_BODY =
  '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Body too large"},"id":null}';

/**
 * The refusal of a body that was not read, with `Connection: close`. A 413
 * body fails after its text, which makes `Deno.serve` drop the connection
 * instead of waiting for the rest of the body (as the mushroom endpoint
 * does); our own `listen()` (`own`) closes it anyway, and writes it whole.
 */
export function unread(status: Unread, headers: Record<string, string>, own = false): Response {
  const all = { "content-type": "text/plain; charset=utf-8", ...headers, connection: "close" };
  if (status === 408) {
    return new Response("The body did not arrive in time\n", { status, headers: all });
  }
  if (status === 400) return new Response("The body could not be read\n", { status, headers: all });
  all["content-type"] = "application/json";
  if (own) return new Response(TOO_LARGE_BODY, { status, headers: all });
  const bytes = encoder.encode(TOO_LARGE_BODY);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
    },
    pull(controller) {
      controller.error(CUT);
    },
  });
  return new Response(body, { status, headers: all });
}
