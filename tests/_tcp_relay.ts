// A TCP relay on 127.0.0.1 that a test cuts at once: the connections it
// carries drop the moment `cut()` is called, and while it refuses, new ones
// are closed as soon as they are accepted. A connection drop then takes a
// few milliseconds, not the second or more an admin tool (rabbitmqctl) takes
// to start, which a busy machine stretches past a test's deadlines.

/** One relayed connection: the client's side and the target's side. */
type Pair = readonly [Deno.TcpConn, Deno.TcpConn];

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed (by the other direction's end)
  }
}

/** Relays TCP connections to a port on 127.0.0.1, and cuts them on demand. */
export class TcpRelay {
  /** The relay's port on 127.0.0.1. */
  readonly port: number;
  readonly #target: number;
  readonly #listener: Deno.TcpListener;
  readonly #pairs = new Set<Pair>();
  readonly #ends = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #refusing = false;
  /** Bytes relayed from clients to the target so far. */
  #sent = 0;

  /** Relays connections to `targetPort` on 127.0.0.1. */
  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** `url` with its port replaced by the relay's. */
  via(url: string): string {
    const relayed = new URL(url);
    relayed.port = String(this.port);
    return relayed.href;
  }

  /** Bytes relayed from clients to the target so far (what a test waits on to know a send went out). */
  get sent(): number {
    return this.#sent;
  }

  /** Drops every connection relayed now. */
  cut(): void {
    for (const [client, target] of this.#pairs) {
      closeQuietly(client);
      closeQuietly(target);
    }
  }

  /** From now on new connections are closed as soon as accepted (`true`), or relayed again. */
  refuse(refusing: boolean): void {
    this.#refusing = refusing;
  }

  /** Stops listening, drops what it relays, and waits until every pipe ended. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    this.cut();
    await Promise.all(this.#ends);
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        if (this.#refusing) {
          closeQuietly(client);
          continue;
        }
        let target: Deno.TcpConn;
        try {
          target = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
        } catch {
          closeQuietly(client);
          continue;
        }
        this.#relay([client, target]);
      }
    } catch {
      // the listener was closed
    }
  }

  /** A pass-through that counts what goes to the target. */
  #counting(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        this.#sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
  }

  #relay(pair: Pair): void {
    const [client, target] = pair;
    this.#pairs.add(pair);
    const ended = Promise.allSettled([
      client.readable.pipeThrough(this.#counting()).pipeTo(target.writable),
      target.readable.pipeTo(client.writable),
    ]).then(() => {
      this.#pairs.delete(pair);
      closeQuietly(client);
      closeQuietly(target);
      this.#ends.delete(ended);
    });
    this.#ends.add(ended);
  }
}
