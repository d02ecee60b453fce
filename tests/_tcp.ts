// A raw TCP client for byte-exact tests: send bytes, read exactly the bytes
// expected (however the kernel splits them), or see the connection end.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RawSocket {
  #conn: Deno.TcpConn;
  #buffered = new Uint8Array(0);
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    conn.setNoDelay(true);
  }

  /** Wraps an accepted connection (a fake server's side). */
  static wrap(conn: Deno.Conn): RawSocket {
    return new RawSocket(conn as Deno.TcpConn);
  }

  static async connect(addr: string): Promise<RawSocket> {
    const url = new URL(addr);
    return new RawSocket(await Deno.connect({ hostname: url.hostname, port: Number(url.port) }));
  }

  async send(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Reads until `length` bytes are buffered (or the connection ends). */
  async #fill(length: number): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    while (this.#buffered.length < length && !this.#ended) {
      const n = await this.#conn.read(chunk);
      if (n === null) {
        this.#ended = true;
        break;
      }
      const next = new Uint8Array(this.#buffered.length + n);
      next.set(this.#buffered);
      next.set(chunk.subarray(0, n), this.#buffered.length);
      this.#buffered = next;
    }
  }

  /** The next `length` bytes as text (fewer if the connection ended). */
  async read(length: number): Promise<string> {
    await this.#fill(length);
    const out = this.#buffered.subarray(0, length);
    this.#buffered = this.#buffered.slice(out.length);
    return decoder.decode(out);
  }

  /** Reads as many bytes as `expected` has, so a test can compare them. */
  readLike(expected: string): Promise<string> {
    return this.read(encoder.encode(expected).length);
  }

  /** Reads up to and including the next `delimiter`. */
  async readFrame(delimiter = "\n"): Promise<string> {
    const code = delimiter.charCodeAt(0);
    while (true) {
      const at = this.#buffered.indexOf(code);
      if (at !== -1) {
        const out = decoder.decode(this.#buffered.subarray(0, at + 1));
        this.#buffered = this.#buffered.slice(at + 1);
        return out;
      }
      if (this.#ended) {
        throw new Error(`connection ended before a frame: ${decoder.decode(this.#buffered)}`);
      }
      await this.#fill(this.#buffered.length + 1);
    }
  }

  /** Resolves with what was left when the other side closed. */
  async readToEnd(): Promise<string> {
    await this.#fill(Infinity);
    const out = decoder.decode(this.#buffered);
    this.#buffered = new Uint8Array(0);
    return out;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
