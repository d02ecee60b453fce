// The limit for WebSocket: a raw Deno WebSocket echo, no library, no JSON.
// The server sends back every message as it arrives; the client resolves
// calls in order as the echoes come back.

/** Serves a raw echo on its own Deno.serve; resolves with its port. */
export function serveRawWebSocketEcho(signal: AbortSignal): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, signal, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
}

/** A raw client: `call(message)` sends one message and resolves when its echo arrives. */
export class RawWebSocketClient {
  #socket: WebSocket;
  #waiting: (() => void)[] = [];
  #head = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = () => {
      this.#waiting[this.#head++]!();
      if (this.#head > 4096) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
    };
  }

  static async connect(url: string): Promise<RawWebSocketClient> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new RawWebSocketClient(socket);
  }

  call(message: string): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push(resolve);
    this.#socket.send(message);
    return promise;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
  }
}

/** A hand-written minimal JSON-RPC `add` server over WebSocket: parse, answer, send. */
export function serveMinWebSocketJsonRpc(signal: AbortSignal): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, signal, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => {
      const call = JSON.parse(event.data) as { params: { a: number; b: number }; id: number };
      socket.send(
        `{"jsonrpc":"2.0","result":${
          JSON.stringify(call.params.a + call.params.b)
        },"id":${call.id}}`,
      );
    };
    return response;
  });
}

/** A hand-written minimal JSON-RPC client over WebSocket: a Map of pending ids. */
export class MinWebSocketJsonRpcClient {
  #socket: WebSocket;
  #pending = new Map<number, (result: number) => void>();
  #lastId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const reply = JSON.parse(event.data) as { result: number; id: number };
      const resolve = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      resolve?.(reply.result);
    };
  }

  static async connect(url: string): Promise<MinWebSocketJsonRpcClient> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new MinWebSocketJsonRpcClient(socket);
  }

  add(a: number, b: number): Promise<number> {
    const id = ++this.#lastId;
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#pending.set(id, resolve);
    this.#socket.send(JSON.stringify({ jsonrpc: "2.0", method: "add", params: { a, b }, id }));
    return promise;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
  }
}
