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
 * A request body read and parsed as JSON: its value, or why it is not
 * one (`invalid`: the JSON parser's message), and its size in bytes.
 */
export class ParsedBody implements Deadline {
  /** The parsed value (when `invalid` is undefined). */
  value: unknown = undefined;
  /** The JSON parser's message, when the body is not JSON. */
  invalid: string | undefined = undefined;
  /** The declared length, in bytes. */
  readonly size: number;
  readonly at: number;
  readonly answer = Promise.withResolvers<ParsedBody | Unread>();

  constructor(size: number, at: number) {
    this.size = size;
    this.at = at;
  }

  arrived(value: unknown): void {
    reads.delete(this);
    this.value = value;
    this.answer.resolve(this);
  }

  failed(error: unknown): void {
    reads.delete(this);
    if (error instanceof SyntaxError) {
      this.invalid = error.message;
      this.answer.resolve(this);
    } else {
      this.answer.resolve(400);
    }
  }

  late(status: 408): void {
    this.answer.resolve(status);
  }
}

/**
 * The request's body parsed as JSON in one read when it declares its
 * length (`declared`, its `Content-Length`: `Deno.serve` then hands a small
 * body over whole, without a stream or a text copy); else its text, read
 * chunk by chunk. 413 when it is over `limit`
 * bytes, 408 when it has not all arrived within `timeout` ms, 400 when it
 * could not be read.
 */
export function readBody(
  request: Request,
  declared: string | null,
  limit: number,
  timeout: number,
): Promise<ParsedBody | string | Unread> {
  const length = Number(declared ?? "0");
  if (length > limit) return TOO_LARGE;
  if (declared === null) return readBodyChunks(request, limit, timeout);
  if (length === 0) return EMPTY;
  // Date.now(), not performance.now(): no call into the runtime per request.
  const read = new ParsedBody(length, Date.now() + timeout);
  reads.add(read);
  sweep ??= setInterval(checkDeadlines, Math.min(250, timeout));
  request.json().then((value) => read.arrived(value), (error) => read.failed(error));
  return read.answer.promise;
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
  const now = Date.now();
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
