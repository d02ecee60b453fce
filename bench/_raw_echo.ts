// The limit: a raw Deno newline echo over TCP, no framing library, no JSON.
// The server writes back every complete line of a read in one write; the
// client coalesces its writes the same way and resolves calls in order.

const encoder = new TextEncoder();

/** Serves a raw echo on `listener` until it closes. */
export async function serveRawEcho(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) {
    (async () => {
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const buffer = new Uint8Array(64 * 1024);
      let filled = 0;
      try {
        while (true) {
          const n = await conn.read(buffer.subarray(filled));
          if (n === null) break;
          filled += n;
          const last = buffer.lastIndexOf(10, filled - 1);
          if (last === -1) continue;
          const out = buffer.slice(0, last + 1);
          buffer.copyWithin(0, last + 1, filled);
          filled -= last + 1;
          let offset = 0;
          while (offset < out.length) offset += await conn.write(out.subarray(offset));
        }
      } catch {
        // client went away
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    })();
  }
}

/** A raw client: `call(line)` sends one line and resolves when its echo arrives. */
export class RawEchoClient {
  #conn: Deno.Conn;
  #waiting: (() => void)[] = [];
  #head = 0;
  #out: string[] = [];
  #writing = false;
  #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<RawEchoClient> {
    return new RawEchoClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Over the unix socket at `path`. */
  static async connectUnix(path: string): Promise<RawEchoClient> {
    return new RawEchoClient(await Deno.connect({ transport: "unix", path }));
  }

  call(line: string): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push(resolve);
    this.#out.push(line);
    if (!this.#writing) this.#flush();
    return promise;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#out.length > 0) {
      const text = this.#out.join("\n") + "\n";
      this.#out = [];
      const bytes = encoder.encode(text);
      let offset = 0;
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    }
    this.#writing = false;
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        for (let i = buffer.indexOf(10); i !== -1 && i < n; i = buffer.indexOf(10, i + 1)) {
          this.#waiting[this.#head++]!();
          if (this.#head > 4096) {
            this.#waiting = this.#waiting.slice(this.#head);
            this.#head = 0;
          }
        }
      }
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#reading;
  }
}
