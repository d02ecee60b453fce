/**
 * The two framings of JSON-RPC over a byte stream: one message per line
 * (MCP's stdio) and `Content-Length` headers (LSP). Each is a splitter (bytes
 * in, whole frames out, within byte limits) and an encoder (frames out as one
 * chunk of bytes).
 *
 * `TextLineStream` from `@std/streams` is not used: it buffers a line with
 * no limit, so a peer that never sends `\n` would grow it without bound, and
 * it decodes text before splitting, so bytes that are not UTF-8 could not be
 * refused one frame at a time.
 *
 * @module
 */

import { FrameTooLarge } from "../../protocol/wire/errors.ts";
import { InvalidFrame } from "../../protocol/wire/transport.ts";
import { utf8Length, utf8Text } from "../../protocol/shared/_utf8.ts";

/** How frames are cut from a byte stream. */
export type Framing = "newline" | "content-length";

/** Input that breaks the framing (a bad header): the stream cannot be read further. */
export class FramingError extends Error {
  /** Makes the error; `message` says what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "FramingError";
  }
}

/** Limits for a {@linkcode Splitter}. */
export interface SplitterLimits {
  /** The largest frame (body) in bytes. */
  maxFrameBytes: number;
  /** The largest header block in bytes (content-length framing). */
  maxHeaderBytes: number;
}

/** Cuts frames out of the bytes it is fed. */
export interface Splitter {
  /**
   * Adds bytes read from the stream; the splitter may keep a reference to
   * `chunk` until `next` returns `undefined`.
   */
  push(chunk: Uint8Array): void;
  /**
   * The next whole frame, or `undefined` until more bytes come. Throws
   * {@linkcode FrameTooLarge} or {@linkcode FramingError}.
   */
  next(): string | InvalidFrame | undefined;
  /** The chunk last pushed is about to be reused: keep a copy of its unread bytes. */
  detach(): void;
  /** Bytes held that are not yet a whole frame. */
  readonly buffered: number;
}

const NO_BYTES = new Uint8Array(0);
const LF = 10;
const CR = 13;
const encoder = new TextEncoder();
const ASCII = new TextDecoder();

/**
 * The unread bytes, `view[start..end)`: the chunk just read when nothing is
 * left over (no copy), else one owned buffer that grows as a frame arrives
 * and is dropped once it is read, so a large frame's buffer is not kept.
 */
class Bytes {
  view: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  #own: Uint8Array = NO_BYTES;

  get length(): number {
    return this.end - this.start;
  }

  append(chunk: Uint8Array): void {
    const rest = this.end - this.start;
    if (rest === 0) {
      this.view = chunk;
      this.start = 0;
      this.end = chunk.length;
      if (this.#own.length > 256 * 1024) this.#own = NO_BYTES;
      return;
    }
    const need = rest + chunk.length;
    if (this.view !== this.#own || this.end + chunk.length > this.#own.length) {
      const target = this.#own.length >= need
        ? this.#own
        : new Uint8Array(Math.max(need, this.#own.length * 2, 4096));
      if (target === this.view) target.copyWithin(0, this.start, this.end);
      else target.set(this.view.subarray(this.start, this.end));
      this.#own = target;
      this.view = target;
      this.start = 0;
      this.end = rest;
    }
    this.view.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Copies the unread bytes out of the chunk last appended, which its reader will reuse. */
  detach(): void {
    if (this.view === this.#own) return;
    const rest = this.end - this.start;
    if (rest === 0) {
      this.view = NO_BYTES;
      this.start = this.end = 0;
      return;
    }
    if (this.#own.length < rest) this.#own = new Uint8Array(Math.max(rest, 4096));
    this.#own.set(this.view.subarray(this.start, this.end));
    this.view = this.#own;
    this.start = 0;
    this.end = rest;
  }
}

function decode(bytes: Uint8Array): string | InvalidFrame {
  return utf8Text(bytes) ?? new InvalidFrame("not UTF-8 text", bytes.length);
}

/**
 * One frame per line: `\n` ends it, a `\r` before it is dropped, blank
 * lines are skipped. The whole lines of a read are decoded in one go and
 * split as text (`\n` is ASCII, so it never sits inside a character).
 */
export class NewlineSplitter implements Splitter {
  #bytes = new Bytes();
  /** Unread bytes already searched for `\n`, counted from the first. */
  #scanned = 0;
  #max: number;
  /** Lines decoded and not yet returned, from `#lineAt`. */
  #lines: (string | InvalidFrame)[] = [];
  #lineAt = 0;

  /** A splitter with these limits. */
  constructor(limits: SplitterLimits) {
    this.#max = limits.maxFrameBytes;
  }

  get buffered(): number {
    return this.#bytes.length;
  }

  push(chunk: Uint8Array): void {
    this.#bytes.append(chunk);
  }

  detach(): void {
    this.#bytes.detach();
  }

  next(): string | InvalidFrame | undefined {
    while (true) {
      while (this.#lineAt < this.#lines.length) {
        let line = this.#lines[this.#lineAt++]!;
        if (typeof line !== "string") return line;
        if (line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
        if (line.length === 0) continue;
        if (line.length * 3 > this.#max && utf8Length(line) > this.#max) {
          throw new FrameTooLarge(this.#max);
        }
        return line;
      }
      if (!this.#decodeLines()) return undefined;
    }
  }

  /** Decodes the whole lines buffered into `#lines`; false when there is none. */
  #decodeLines(): boolean {
    const bytes = this.#bytes;
    const { view, start, end } = bytes;
    this.#lines.length = 0;
    this.#lineAt = 0;
    // An owned buffer may hold stale bytes past `end`: search back from it.
    const last = end > start ? view.lastIndexOf(LF, end - 1) : -1;
    if (last < start + this.#scanned) {
      this.#scanned = end - start;
      // One byte of slack: a `\r` that a `\n` will drop.
      if (end - start > this.#max + 1) throw new FrameTooLarge(this.#max);
      return false;
    }
    const region = view.subarray(start, last);
    bytes.start = last + 1;
    this.#scanned = 0;
    const text = utf8Text(region);
    if (text === undefined) {
      // Not all UTF-8: decode line by line, the bad ones as InvalidFrames.
      for (let from = 0; from <= region.length;) {
        let to = region.indexOf(LF, from);
        if (to === -1) to = region.length;
        const line = region.subarray(from, to);
        if (line.length > this.#max + 1) throw new FrameTooLarge(this.#max);
        this.#lines.push(decode(line));
        from = to + 1;
      }
      return true;
    }
    if (text.indexOf("\n") === -1) this.#lines.push(text);
    else this.#lines = text.split("\n");
    return true;
  }
}

/**
 * LSP's base protocol: `Content-Length: N` (required), an optional
 * `Content-Type` whose charset must be UTF-8, other headers ignored, each
 * line ending `\r\n`, a blank line, then N bytes.
 */
export class ContentLengthSplitter implements Splitter {
  #bytes = new Bytes();
  /** The body length once its headers are read; -1 while reading headers. */
  #length = -1;
  /** Unread header bytes already searched for the blank line. */
  #scanned = 0;
  #limits: SplitterLimits;

  /** A splitter with these limits. */
  constructor(limits: SplitterLimits) {
    this.#limits = limits;
  }

  get buffered(): number {
    return this.#bytes.length;
  }

  push(chunk: Uint8Array): void {
    this.#bytes.append(chunk);
  }

  detach(): void {
    this.#bytes.detach();
  }

  next(): string | InvalidFrame | undefined {
    const bytes = this.#bytes;
    if (this.#length < 0) {
      const { view, start, end } = bytes;
      const limit = Math.min(end, start + this.#limits.maxHeaderBytes);
      let at = view.indexOf(CR, start + (this.#scanned > 3 ? this.#scanned - 3 : 0));
      while (
        at !== -1 && at + 3 < limit &&
        !(view[at + 1] === LF && view[at + 2] === CR && view[at + 3] === LF)
      ) at = view.indexOf(CR, at + 1);
      const found = at !== -1 && at + 3 < limit;
      // A bare `\n` would leave us waiting for a `\r\n\r\n` that never comes.
      const headerEnd = found ? at + 4 : limit;
      let lf = view.indexOf(LF, start + (this.#scanned > 0 ? this.#scanned - 1 : 0));
      for (; lf !== -1 && lf < headerEnd; lf = view.indexOf(LF, lf + 1)) {
        if (lf === start || view[lf - 1] !== CR) {
          throw new FramingError("a header line ends with \\n, not \\r\\n");
        }
      }
      if (!found) {
        this.#scanned = limit - start;
        if (end - start >= this.#limits.maxHeaderBytes) {
          throw new FramingError(`headers longer than ${this.#limits.maxHeaderBytes} bytes`);
        }
        return undefined;
      }
      this.#length = this.#parseHeaders(view.subarray(start, at));
      bytes.start = at + 4;
      this.#scanned = 0;
    }
    const { view, start, end } = bytes;
    if (end - start < this.#length) return undefined;
    const stop = start + this.#length;
    bytes.start = stop;
    this.#length = -1;
    return decode(view.subarray(start, stop));
  }

  /** The body length the headers give; throws on headers it cannot trust. */
  #parseHeaders(header: Uint8Array): number {
    for (let i = 0; i < header.length; i++) {
      const byte = header[i]!;
      if (byte > 126 || (byte < 32 && byte !== CR && byte !== LF && byte !== 9)) {
        throw new FramingError("a header holds a byte that is not printable ASCII");
      }
    }
    // ASCII only: decoded in one go, not a string concatenation a byte.
    const text = ASCII.decode(header);
    let length: number | undefined;
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon <= 0) {
        throw new FramingError(`a header line without a name: '${line.slice(0, 40)}'`);
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        if (!/^\d{1,15}$/.test(value)) {
          throw new FramingError(`Content-Length is not a number: '${value.slice(0, 40)}'`);
        }
        const n = Number(value);
        if (length !== undefined && length !== n) {
          throw new FramingError("two Content-Length headers disagree");
        }
        length = n;
      } else if (name === "content-type") {
        const charset = /charset\s*=\s*"?([^;"\s]+)/i.exec(value)?.[1]?.toLowerCase();
        if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
          throw new FramingError(`Content-Type charset '${charset}' is not UTF-8`);
        }
      }
    }
    if (length === undefined) throw new FramingError("no Content-Length header");
    if (length > this.#limits.maxFrameBytes) throw new FrameTooLarge(this.#limits.maxFrameBytes);
    return length;
  }
}

/** A splitter for `framing`. */
export function splitter(framing: Framing, limits: SplitterLimits): Splitter {
  return framing === "content-length"
    ? new ContentLengthSplitter(limits)
    : new NewlineSplitter(limits);
}

/** The bytes that carry `frames` in order, in `framing`. */
export function encodeFrames(framing: Framing, frames: readonly string[]): Uint8Array {
  if (framing === "newline") {
    return encoder.encode(frames.length === 1 ? frames[0] + "\n" : frames.join("\n") + "\n");
  }
  let text = "";
  for (const frame of frames) text += `Content-Length: ${utf8Length(frame)}\r\n\r\n${frame}`;
  return encoder.encode(text);
}

/** Checks a `framing` option given at run time. */
export function framingOption(framing: string | undefined): Framing {
  if (framing === undefined || framing === "newline") return "newline";
  if (framing === "content-length") return "content-length";
  throw new TypeError(`framing must be "newline" or "content-length", got '${framing}'`);
}
