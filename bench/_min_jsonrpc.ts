// A hand-written minimal JSON-RPC over newline TCP, no library: the real
// limit for a JSON wire. The server parses each line, answers it, and writes
// the replies to one read in one write. The client keeps a Map of pending
// ids, coalesces its writes the same way, and parses each reply line.

const encoder = new TextEncoder();

interface AddRequest {
  method: string;
  params: { a: number; b: number };
  id: number;
}

/** Serves `add` on `listener` until it closes. */
export async function serveMinJsonRpc(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) {
    (async () => {
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(64 * 1024);
      let rest = "";
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          const text = rest + decoder.decode(buffer.subarray(0, n), { stream: true });
          const lines = text.split("\n");
          rest = lines.pop()!;
          let out = "";
          for (const line of lines) {
            const request = JSON.parse(line) as AddRequest;
            out += `{"jsonrpc":"2.0","result":${
              JSON.stringify(request.params.a + request.params.b)
            },"id":${request.id}}\n`;
          }
          const bytes = encoder.encode(out);
          let offset = 0;
          while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
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

/** A minimal client: `add(a, b)` sends one request and resolves with its result. */
export class MinJsonRpcClient {
  #conn: Deno.Conn;
  #pending = new Map<number, (result: number) => void>();
  #lastId = 0;
  #out: string[] = [];
  #writing = false;
  #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<MinJsonRpcClient> {
    return new MinJsonRpcClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Over the unix socket at `path`. */
  static async connectUnix(path: string): Promise<MinJsonRpcClient> {
    return new MinJsonRpcClient(await Deno.connect({ transport: "unix", path }));
  }

  add(a: number, b: number): Promise<number> {
    const id = ++this.#lastId;
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#pending.set(id, resolve);
    this.#out.push(
      JSON.stringify({ jsonrpc: "2.0", method: "add", params: { a, b }, id }),
    );
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
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let rest = "";
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        const text = rest + decoder.decode(buffer.subarray(0, n), { stream: true });
        const lines = text.split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          const reply = JSON.parse(line) as { result: number; id: number };
          const resolve = this.#pending.get(reply.id);
          this.#pending.delete(reply.id);
          resolve?.(reply.result);
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
