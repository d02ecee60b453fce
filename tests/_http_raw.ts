// A raw HTTP/1.1 client on a plain TCP socket, for hostile tests: it writes
// exactly what the test says (half a head, a body that never ends, two
// requests on one connection) and reads whatever comes back.

import { assert, assertEquals } from "./_assert.ts";
import { waitFor, within } from "./_helpers.ts";
import { fdsBackTo, openFds, readToEnd } from "./_ws_raw.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One answer read off the connection. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** A raw HTTP/1.1 connection: writes what it is told, reads what comes back. */
export class RawHttp {
  #conn: Deno.TcpConn;
  #received = "";
  /** Where the next answer starts in `#received` (for `response`). */
  #at = 0;
  #ended: Promise<void>;
  #isEnded = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#ended = this.#read();
  }

  static async open(url: string): Promise<RawHttp> {
    const target = new URL(url);
    return new RawHttp(
      await Deno.connect({ hostname: target.hostname, port: Number(target.port) }),
    );
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) return;
        this.#received += decoder.decode(chunk.subarray(0, n));
      }
    } catch {
      // reset by the server: ended too
    } finally {
      this.#isEnded = true;
    }
  }

  /** Whether the server has closed the connection. */
  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** Writes `text` (UTF-8), or `bytes` as they are. */
  async send(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Resolves once what was received matches `pattern` (within `ms`). */
  async received(pattern: RegExp, ms: number): Promise<string> {
    await waitFor(() => pattern.test(this.#received), {
      timeout: ms,
      message: `an answer matching ${pattern}`,
    });
    return this.#received;
  }

  /**
   * The next whole answer (its body framed by Content-Length or chunked),
   * within `ms`. ASCII bodies only (lengths are counted in characters).
   */
  async response(ms: number): Promise<RawResponse> {
    return await waitFor(() => this.#parse(), {
      timeout: ms,
      message: "a whole answer",
    });
  }

  #parse(): RawResponse | undefined {
    const text = this.#received.slice(this.#at);
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) return undefined;
    const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    let at = end + 4;
    let body = "";
    if (headers.get("transfer-encoding") === "chunked") {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", at);
        if (lineEnd === -1) return undefined;
        const size = parseInt(text.slice(at, lineEnd), 16);
        if (text.length < lineEnd + 2 + size + 2) return undefined;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers.get("content-length") ?? "0");
      if (text.length < at + length) return undefined;
      body = text.slice(at, at + length);
      at += length;
    }
    this.#at += at;
    return { status: Number(statusLine!.split(" ")[1]), headers, body };
  }

  /** Everything received, once the server has closed the connection (within `ms`). */
  async ended(ms: number): Promise<string> {
    await within(this.#ended, ms, "the server closing the connection");
    return this.#received;
  }

  /** Ends what this side sends (a half-close); the server's answer can still come. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Waits for the reading loop to see the end (after close). */
  async done(): Promise<void> {
    await this.#ended;
  }
}

/** A POST head for `url` with chunked body, and extra header lines. */
export function chunkedHead(url: string, extra = ""): string {
  const target = new URL(url);
  return `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    `Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`;
}

/** One chunk of a chunked body. */
export function chunk(text: string): string {
  return `${encoder.encode(text).length.toString(16)}\r\n${text}\r\n`;
}

/** A whole POST of `body` to `url` with a Content-Length, and extra header lines. */
export function post(url: string, body: string, extra = ""): string {
  const target = new URL(url);
  return `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    `Content-Length: ${encoder.encode(body).length}\r\n${extra}\r\n${body}`;
}

/**
 * 200 connections to `url` that never finish a head (100 send `partial`,
 * 100 nothing); `meanwhile` runs while they are open. Asserts that the
 * server closes them all, not before `headTimeout` ms and without a word,
 * and that this process's file descriptors come back to where they were.
 */
export async function headsThatNeverEnd(
  url: string,
  partial: string,
  headTimeout: number,
  meanwhile: () => Promise<void>,
): Promise<void> {
  const { hostname, port } = new URL(url);
  const baseline = await openFds();
  const started = performance.now();
  const strangers = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    if (i % 2 === 0) await conn.write(encoder.encode(partial));
    return conn;
  }));
  await meanwhile();
  const answers = await within(
    Promise.all(strangers.map(readToEnd)),
    headTimeout + 15_000,
    "200 stalled connections closed by the server",
  );
  assert(performance.now() - started >= headTimeout - 50, "closed before the deadline");
  assertEquals(answers.filter((text) => text !== "").length, 0);
  for (const conn of strangers) conn.close();
  await fdsBackTo(baseline);
}
