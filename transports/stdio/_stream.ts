/**
 * {@linkcode StreamTransport}: a {@linkcode Transport} of text frames over
 * any `ReadableStream<Uint8Array>` / `WritableStream<Uint8Array>` pair (this
 * process's stdin and stdout, a child's pipes), framed by newlines or
 * `Content-Length` headers.
 *
 * @module
 */

import {
  CloseCode,
  CLOSED_REMOTELY,
  type CloseReason,
  closeReason,
  toCloseReason,
} from "../../protocol/wire/close.ts";
import type { Dialect } from "../../protocol/wire/dialect.ts";
import { ConnectionClosed, FrameTooLarge } from "../../protocol/wire/errors.ts";
import { consoleLogger, type Logger } from "../../protocol/shared/logger.ts";
import type { InvalidFrame, Transport } from "../../protocol/wire/transport.ts";
import { FrameQueue } from "../../protocol/wire/_frame_queue.ts";
import { ByteWriter } from "../_byte_writer.ts";
import {
  encodeFrames,
  type Framing,
  FramingError,
  framingOption,
  type Splitter,
  splitter,
} from "./_framing.ts";

const MiB = 1024 * 1024;
const READ_BUFFER_BYTES = 64 * 1024;

/** Options for a transport over a pair of byte streams. */
export interface StreamOptions {
  /**
   * How frames are cut: `"newline"` (one JSON message per line, as MCP's
   * stdio) or `"content-length"` (`Content-Length: N` headers, as LSP).
   *
   * @default {"newline"}
   */
  framing?: Framing;
  /**
   * The dialect spoken; a peer or server on the transport speaks it.
   *
   * @default {jsonRpc}
   */
  dialect?: Dialect;
  /**
   * The largest frame accepted, in bytes (the body, for content-length).
   *
   * @default {the dialect's limit, else 16 MiB}
   */
  maxFrameBytes?: number;
  /**
   * The largest header block accepted, in bytes (content-length framing):
   * beyond it the stream is closed as unreadable.
   *
   * @default {8192}
   */
  maxHeaderBytes?: number;
  /**
   * Unread frames held before reading pauses.
   *
   * @default {1024}
   */
  highWaterMark?: number;
  /**
   * Unread input held before reading pauses, in characters.
   *
   * @default {8388608}
   */
  highWaterBytes?: number;
  /**
   * Unwritten characters (UTF-16 code units) above which `send` waits.
   *
   * @default {1048576}
   */
  writeHighWaterMark?: number;
  /**
   * Milliseconds `send` may wait for the other side to read before the
   * transport is closed; 0 waits forever.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Unwritten characters beyond which the transport is closed at once
   * (`CloseCode.WriteOverflow`).
   *
   * @default {64 MiB, or 4 × maxFrameBytes when that is more}
   */
  maxUnsentBytes?: number;
  /**
   * Milliseconds `close` waits for unwritten frames to leave.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * Where dropped input and broken framing are logged (never stdout).
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
  /**
   * Who is at the other end, for logs.
   *
   * @default {"stdio"}
   */
  remote?: string;
}

/** Options a transport's maker adds: why the stream ended, once it has; direct reads and writes. */
export interface StreamEnd {
  /**
   * Called when the other side goes away (the readable side ends by
   * itself, or a write fails): the reason to end with (a child's exit
   * status), or `undefined` for the usual one.
   */
  ended?: () => Promise<CloseReason | undefined>;
  /**
   * What `readable` reads from (`Deno.stdin`), read directly into one
   * buffer of ours; `readable` is still locked, and cancelled on close
   * (which closes the file and ends a read in progress).
   */
  directInput?: DirectInput;
  /** What `writable` writes to (`Deno.stdout`), written directly; `writable` is still locked and closed. */
  directOutput?: DirectOutput;
}

/**
 * A file read without its stream: through Deno's stdin and stdout streams a
 * child serving 100 requests a read spent about 0.35-0.45 us a message more
 * (2.55 -> 2.10 and 2.70 -> 2.35 us, fixed batches over pipes, A/B rounds).
 */
export interface DirectInput {
  /** Reads into `buffer`: how many bytes came, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** A file written without its stream. */
export interface DirectOutput {
  /** Writes from `bytes`: how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
}

function frameSize(frame: string | InvalidFrame): number {
  return typeof frame === "string" ? frame.length : frame.bytes;
}

/**
 * Text frames over a readable and a writable byte stream.
 *
 * @example Two transports over a pair of pipes
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StreamTransport } from "@seed/rpc/stdio";
 *
 * const ab = new TransformStream<Uint8Array, Uint8Array>();
 * const ba = new TransformStream<Uint8Array, Uint8Array>();
 * const a = new StreamTransport(ba.readable, ab.writable, { framing: "content-length" });
 * const b = new StreamTransport(ab.readable, ba.writable, { framing: "content-length" });
 * await a.send('{"jsonrpc":"2.0","method":"hi"}');
 * for await (const frame of b.frames) {
 *   assertEquals(frame, '{"jsonrpc":"2.0","method":"hi"}');
 *   break;
 * }
 * await a.close();
 * await b.close();
 * ```
 */
export class StreamTransport implements Transport<string> {
  /** Who is at the other end. */
  readonly remote: string;
  /** The dialect from the options, if one was given. */
  readonly dialect: Dialect | undefined;
  /** The framing in use. */
  readonly framing: Framing;
  #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  #directInput: DirectInput | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #splitter: Splitter;
  #inbox: FrameQueue<string | InvalidFrame>;
  #logger: Logger;
  #ended: (() => Promise<CloseReason | undefined>) | undefined;
  #closeTimeout: number;
  #bytes: ByteWriter;
  #closing = false;
  #closeReason: CloseReason | undefined;
  #endReason: CloseReason | undefined;
  #closed = Promise.withResolvers<void>();
  #reading: Promise<void>;

  /**
   * Reads frames from `readable` and writes them to `writable`; both are
   * locked to the transport, and closed with it.
   */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    options: StreamOptions & StreamEnd = {},
  ) {
    this.remote = options.remote ?? "stdio";
    this.dialect = options.dialect;
    this.framing = framingOption(options.framing);
    const maxFrameBytes = options.maxFrameBytes ?? options.dialect?.maxFrameBytes ?? 16 * MiB;
    this.#splitter = splitter(this.framing, {
      maxFrameBytes,
      maxHeaderBytes: options.maxHeaderBytes ?? 8192,
    });
    this.#inbox = new FrameQueue<string | InvalidFrame>(
      options.highWaterMark ?? 1024,
      options.highWaterBytes ?? 8 * MiB,
      frameSize,
    );
    this.#logger = options.logger ?? consoleLogger;
    this.#ended = options.ended;
    this.#closeTimeout = options.closeTimeout ?? 2000;
    this.#directInput = options.directInput;
    this.#reader = options.directInput !== undefined
      ? readable.getReader()
      : byobReader(readable) ?? readable.getReader();
    const writer = this.#writer = writable.getWriter();
    const direct = options.directOutput;
    const framing = this.framing;
    this.#bytes = new ByteWriter({
      encode: (frames) => encodeFrames(framing, frames),
      write: direct !== undefined ? (bytes) => direct.write(bytes) : (bytes) => writer.write(bytes),
      giveUp: (reason) => {
        if (reason.code === CloseCode.WriteOverflow) {
          this.#logger.warn(`${this.remote}: ${reason.message}; closing`);
        }
        this.#close(reason, false);
      },
      failed: (error) => this.#writeFailed(error),
    }, {
      // Over pipes a burst leaves whole: a first frame written alone made
      // stdio at 100 in flight slower (1.5x the CPU per call, ~35 frames a
      // write instead of 100); over TCP it lets the two sides overlap.
      eagerFirst: false,
      writeHighWaterMark: options.writeHighWaterMark ?? MiB,
      writeTimeout: options.writeTimeout ?? 30_000,
      maxUnsentBytes: options.maxUnsentBytes ?? Math.max(64 * MiB, 4 * maxFrameBytes),
    });
    // A failed write is noticed by #flush; this only keeps it from being unhandled.
    this.#writer.closed.catch(ignore);
    this.#reading = this.#readLoop();
  }

  /** The frames received, in order; ends when the readable side ends. */
  get frames(): AsyncIterable<string | InvalidFrame> {
    return this.#inbox;
  }

  /** Resolves once both streams are closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Why the transport ended, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#endReason;
  }

  /** The next frame already received, or `undefined`. */
  take(): string | InvalidFrame | undefined {
    return this.#inbox.take();
  }

  /** Characters accepted by `send` and not yet written. */
  get bufferedAmount(): number {
    return this.#bytes.buffered;
  }

  /**
   * Queues `frame`; the frames of a burst (sent a few microtasks apart)
   * leave in one write. Waits while too much is unwritten.
   */
  send(frame: string): Promise<void> {
    if (this.#closing) return Promise.reject(new ConnectionClosed(this.#closeReason));
    return this.#bytes.send(frame);
  }

  /**
   * Waits up to `closeTimeout` for unwritten frames to leave, then closes
   * the writable side (a child sees its stdin end) and stops reading.
   */
  close(reason?: string | CloseReason): Promise<void> {
    return this.#close(toCloseReason(reason), true);
  }

  async #close(reason: CloseReason, flush: boolean): Promise<void> {
    if (this.#closing) return this.#closed.promise;
    this.#closing = true;
    this.#closeReason = reason;
    this.#endReason ??= reason;
    const bytes = this.#bytes;
    bytes.stop();
    this.#inbox.end(this.#endReason, true);
    // Frames still waiting for a quiet turn leave now.
    if (flush && bytes.flushNow()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = new Promise<void>((resolve) => timer = setTimeout(resolve, this.#closeTimeout));
      await Promise.race([bytes.whenWritten(), stop]);
      clearTimeout(timer);
    }
    bytes.release(new ConnectionClosed(reason), true);
    // A write still stuck (the other side does not read) is abandoned.
    if (bytes.writing) await this.#writer.abort(reason.message).catch(ignore);
    else await this.#writer.close().catch(ignore);
    await this.#reader.cancel().catch(ignore);
    await this.#reading;
    this.#closed.resolve();
  }

  /** The other side stopped reading: a child that exited says why with its status. */
  async #writeFailed(error: unknown): Promise<void> {
    const failed = closeReason(CloseCode.Failed, `write failed: ${(error as Error).message}`);
    const ended = await this.#ended?.();
    if (!this.#closing) this.#close(ended ?? failed, false);
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader;
    const direct = this.#directInput;
    const splitter = this.#splitter;
    const inbox = this.#inbox;
    // A byte stream (a pipe, stdin) reads into one buffer, reused: not a
    // fresh 64 KiB per read.
    let buffer = direct !== undefined || reader instanceof ReadableStreamBYOBReader
      ? new Uint8Array(READ_BUFFER_BYTES)
      : undefined;
    let failure: unknown;
    try {
      while (true) {
        let chunk: Uint8Array;
        if (direct !== undefined) {
          const n = await direct.read(buffer!);
          if (n === null) break;
          chunk = buffer!.subarray(0, n);
        } else {
          const read = buffer === undefined
            ? await (reader as ReadableStreamDefaultReader<Uint8Array>).read()
            : await (reader as ReadableStreamBYOBReader).read(buffer);
          if (read.done) break;
          chunk = read.value;
        }
        splitter.push(chunk);
        for (let frame = splitter.next(); frame !== undefined; frame = splitter.next()) {
          const room = inbox.push(frame);
          if (room !== undefined) await room;
        }
        if (buffer !== undefined) {
          splitter.detach();
          // A BYOB read hands the buffer back in the chunk.
          if (direct === undefined) buffer = new Uint8Array(chunk.buffer as ArrayBuffer);
        }
      }
    } catch (error) {
      failure = error;
    }
    if (this.#closing) return;
    if (failure instanceof FrameTooLarge) {
      this.#endReason ??= closeReason(CloseCode.FrameTooLarge, failure.message);
      inbox.end(this.#endReason, false, failure);
    } else if (failure instanceof FramingError) {
      this.#logger.warn(`${this.remote}: unreadable input (${failure.message}); closing`);
      this.#endReason ??= closeReason(CloseCode.Refused, `unreadable input: ${failure.message}`);
      inbox.end(this.#endReason);
    } else {
      if (failure === undefined && splitter.buffered > 0) {
        this.#logger.warn(
          `${this.remote}: dropped ${splitter.buffered} bytes of an unfinished frame at the end of the stream`,
        );
      }
      const ended = failure === undefined ? await this.#ended?.() : undefined;
      this.#endReason ??= ended ??
        (failure === undefined
          ? CLOSED_REMOTELY
          : closeReason(CloseCode.Failed, `read failed: ${(failure as Error).message}`));
      inbox.end(this.#endReason);
    }
    // Once our reader has taken every frame (and answered those it answers
    // at once), close our side too.
    inbox.finished.then(() => this.#close(this.#endReason!, true));
  }
}

function ignore(): void {}

/** A reader into buffers of our own, when `readable` is a byte stream. */
function byobReader(readable: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return readable.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}
