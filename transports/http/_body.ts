/**
 * Reads a JSON-RPC POST body under a size cap and a deadline, the way the
 * mushroom endpoint reads its bodies: a `Content-Length` over the cap is
 * refused before a byte is read, a body that grows past it is cut off.
 *
 * @module
 */

import { readBodyChunks, type Unread } from "../_http_body.ts";

export type { Unread };

/** Who is told a body: its text, why it was not read, or what went wrong. */
export interface BodyTaker {
  /** The body as text, or why it was not read (413, 408, 400). */
  body(text: string | Unread): void;
  /** Reading it threw (not a read that failed: that is a 400). */
  error(error: unknown): void;
}

/**
 * Reads the request's body and tells `taker` its text; 413 when it is over
 * `limit` bytes (by its `Content-Length`, `declared`, before a byte is
 * read), 408 when it has not all arrived within `timeout` ms, 400 when it
 * could not be read. A callback, not a promise: the text goes on to the
 * endpoint with no promise of its own between (each one a microtask hop
 * and garbage per POST).
 */
export function readBody(
  request: Request,
  declared: string | null,
  limit: number,
  timeout: number,
  taker: BodyTaker,
): void {
  const length = Number(declared ?? "0");
  if (length > limit) return taker.body(413);
  // A declared length within the limit: one read of the whole body (a
  // reader's loop costs a read per chunk and one more for the end; and
  // Deno.serve makes no stream for a body that is only read whole). Not
  // request.json(): Deno.serve's own one-step path there refuses a body
  // that starts with a byte order mark, which text() drops as UTF-8 says.
  if (declared !== null) return length === 0 ? taker.body("") : whole(request, timeout, taker);
  readBodyChunks(request, limit, timeout).then(
    (text) => taker.body(text),
    (error) => taker.error(error),
  );
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

  constructor(timeout: number, taker: BodyTaker) {
    this.timeout = timeout;
    this.#taker = taker;
  }

  /** Its text; ignored when it was late. */
  arrived(text: string): void {
    if (reads.delete(this)) this.#taker.body(text);
  }

  failed(): void {
    if (reads.delete(this)) this.#taker.body(400);
  }

  /** Its deadline passed (the sweep took it out of `reads`). */
  late(status: 408): void {
    this.#taker.body(status);
  }
}

/** The whole body, or 408 when it has not arrived within `timeout` ms, 400 when it failed. */
function whole(request: Request, timeout: number, taker: BodyTaker): void {
  const read = new WholeRead(timeout, taker);
  reads.add(read);
  sweep ??= setInterval(checkDeadlines, Math.min(250, timeout) / 2);
  request.text().then((text) => read.arrived(text), () => read.failed());
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
