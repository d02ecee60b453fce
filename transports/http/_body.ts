/**
 * Reads a JSON-RPC POST body under a size cap and a deadline, the way the
 * mushroom endpoint reads its bodies: a `Content-Length` over the cap is
 * refused before a byte is read, a body that grows past it is cut off.
 *
 * @module
 */

import { readBodyChunks, type Unread } from "../_http_body.ts";

export type { Unread };

/**
 * The request's body as text; 413 when it is over `limit` bytes (by its
 * `Content-Length`, `declared`, before a byte is read), 408 when it has
 * not all arrived within `timeout` ms, 400 when it could not be read.
 */
export function readBody(
  request: Request,
  declared: string | null,
  limit: number,
  timeout: number,
): Promise<string | Unread> {
  const length = Number(declared ?? "0");
  if (length > limit) return TOO_LARGE;
  // A declared length within the limit: one read of the whole body (a
  // reader's loop costs a read per chunk and one more for the end; and
  // Deno.serve makes no stream for a body that is only read whole). Not
  // request.json(): Deno.serve's own one-step path there refuses a body
  // that starts with a byte order mark, which text() drops as UTF-8 says.
  if (declared !== null) return length === 0 ? EMPTY : whole(request, timeout);
  return readBodyChunks(request, limit, timeout);
}

const TOO_LARGE: Promise<413> = Promise.resolve(413);
const EMPTY: Promise<string> = Promise.resolve("");

/** A body read under way: when it is late, and how to say so. */
interface Deadline {
  at: number;
  late(status: 408): void;
}

/**
 * Reads of whole bodies under way, checked by one shared timer (a timer
 * set and cleared per request cost about 5% of a small call): a deadline
 * is met within a quarter second. The timer runs while reads do, and stops
 * at its first tick with none (or when an endpoint closes with none), so
 * calls one after another do not start and stop it each time.
 */
const reads = new Set<Deadline>();
let sweep: ReturnType<typeof setInterval> | undefined;

function checkDeadlines(): void {
  const now = performance.now();
  for (const read of reads) {
    if (read.at <= now) {
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
  readonly at: number;
  readonly answer = Promise.withResolvers<string | Unread>();

  constructor(at: number) {
    this.at = at;
  }

  arrived(text: string): void {
    reads.delete(this);
    this.answer.resolve(text);
  }

  failed(): void {
    reads.delete(this);
    this.answer.resolve(400);
  }

  late(status: 408): void {
    this.answer.resolve(status);
  }
}

/** The whole body, or 408 when it has not arrived within `timeout` ms, 400 when it failed. */
function whole(request: Request, timeout: number): Promise<string | Unread> {
  // The monotonic clock: a step of the wall clock neither answers every read
  // under way with 408 nor gives a slow sender more time.
  const read = new WholeRead(performance.now() + timeout);
  reads.add(read);
  sweep ??= setInterval(checkDeadlines, Math.min(250, timeout));
  request.text().then((text) => read.arrived(text), () => read.failed());
  return read.answer.promise;
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
