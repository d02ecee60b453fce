// A raw WebSocket client on a plain TCP socket, for hostile tests: it does the
// handshake by hand, then sends whatever frames the test asks for, and reads
// only when told to (so it can be a client that never reads, or never
// answers a ping).

import { waitFor } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RawWebSocket {
  #conn: Deno.TcpConn;
  #buffered = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects and upgrades; resolves with the status line and headers. */
  static async connect(url: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
    const target = new URL(url);
    const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
    const socket = new RawWebSocket(conn);
    // A `host` among `headers` replaces the URL's.
    const { host = target.host, ...rest } = headers;
    const extra = Object.entries(rest).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await socket.#write(encoder.encode(
      `GET ${target.pathname} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
    ));
    const head = await socket.#readUntil("\r\n\r\n");
    if (!head.startsWith("HTTP/1.1 101")) {
      conn.close();
      throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
    }
    return socket;
  }

  /** Sends one frame (masked, as a client must). */
  async send(
    payload: string | Uint8Array,
    opcode = typeof payload === "string" ? 1 : 2,
  ): Promise<void> {
    const data = typeof payload === "string" ? encoder.encode(payload) : payload;
    const head: number[] = [0x80 | opcode];
    if (data.length < 126) head.push(0x80 | data.length);
    else if (data.length < 65536) head.push(0x80 | 126, data.length >> 8, data.length & 0xff);
    else {
      head.push(0x80 | 127, 0, 0, 0, 0);
      for (let shift = 24; shift >= 0; shift -= 8) head.push((data.length >>> shift) & 0xff);
    }
    const mask = [0x12, 0x34, 0x56, 0x78];
    const frame = new Uint8Array(head.length + 4 + data.length);
    frame.set(head);
    frame.set(mask, head.length);
    for (let i = 0; i < data.length; i++) frame[head.length + 4 + i] = data[i]! ^ mask[i % 4]!;
    await this.#write(frame);
  }

  /** Reads the next frame: its opcode and payload (text for text frames). */
  async receive(): Promise<{ opcode: number; text: string; code?: number }> {
    const { opcode, length, offset } = await this.#head();
    await this.#fill(offset + length);
    const payload = this.#buffered.slice(offset, offset + length);
    this.#buffered = this.#buffered.slice(offset + length);
    if (opcode === 8) {
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : undefined;
      return { opcode, code, text: decoder.decode(payload.subarray(2)) };
    }
    return { opcode, text: decoder.decode(payload) };
  }

  /** Reads frames until a text frame; answers nothing (pings go unanswered). */
  async receiveText(): Promise<string> {
    while (true) {
      const frame = await this.receive();
      if (frame.opcode === 1) return frame.text;
      if (frame.opcode === 8) throw new Error(`closed: ${frame.code} ${frame.text}`);
    }
  }

  /** Reads frames until the close frame (or the end); resolves with its code. */
  async closed(): Promise<number | undefined> {
    try {
      while (true) {
        const frame = await this.receive();
        if (frame.opcode === 8) return frame.code;
      }
    } catch {
      return undefined;
    }
  }

  /**
   * Ends the connection the way a well-behaved client would, however much the
   * server has queued: reads and discards frames (without keeping them) up to
   * the server's close frame, answers it, then reads to the end. The server's
   * WebSocket has then finished every operation it started, so no test sees
   * its close still pending. Resolves with the server's close code; gives
   * up (closes the connection) after `timeout` ms.
   */
  async finish(timeout = 5_000): Promise<number | undefined> {
    let code: number | undefined;
    // A server that never closes must not hang the test: cut it off then.
    const deadline = setTimeout(() => this.close(), timeout);
    try {
      const chunk = new Uint8Array(256 * 1024);
      for (;;) {
        const { opcode, length, offset } = await this.#head();
        if (opcode === 8) {
          await this.#fill(offset + length);
          if (length >= 2) code = (this.#buffered[offset]! << 8) | this.#buffered[offset + 1]!;
          break;
        }
        // Skip the payload: what is buffered, then straight from the socket.
        const held = Math.min(this.#buffered.length - offset, length);
        this.#buffered = this.#buffered.slice(offset + held);
        for (let left = length - held; left > 0;) {
          const n = await this.#conn.read(chunk.subarray(0, Math.min(chunk.length, left)));
          if (n === null) throw new Error("connection ended");
          left -= n;
        }
      }
      await this.send(new Uint8Array(code === undefined ? [] : [code >> 8, code & 0xff]), 8);
      while (await this.#conn.read(new Uint8Array(4096)) !== null) {
        // Until the server closes the TCP connection.
      }
    } catch {
      // Reset or ended by the server (or cut off at the deadline).
    } finally {
      clearTimeout(deadline);
    }
    this.close();
    return code;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Reads the next frame's head: its opcode, payload length, and where the payload starts. */
  async #head(): Promise<{ opcode: number; length: number; offset: number }> {
    await this.#fill(2);
    const opcode = this.#buffered[0]! & 0x0f;
    let length = this.#buffered[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      await this.#fill(4);
      length = (this.#buffered[2]! << 8) | this.#buffered[3]!;
      offset = 4;
    } else if (length === 127) {
      await this.#fill(10);
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + this.#buffered[i]!;
      offset = 10;
    }
    return { opcode, length, offset };
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  async #fill(length: number): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    while (this.#buffered.length < length) {
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("connection ended");
      const next = new Uint8Array(this.#buffered.length + n);
      next.set(this.#buffered);
      next.set(chunk.subarray(0, n), this.#buffered.length);
      this.#buffered = next;
    }
  }

  async #readUntil(marker: string): Promise<string> {
    while (true) {
      const text = decoder.decode(this.#buffered);
      const at = text.indexOf(marker);
      if (at !== -1) {
        this.#buffered = this.#buffered.slice(
          encoder.encode(text.slice(0, at + marker.length)).length,
        );
        return text.slice(0, at);
      }
      await this.#fill(this.#buffered.length + 1);
    }
  }
}

/** Reads a plain connection until the other end closes; resolves with what came. */
export async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunk = new Uint8Array(4096);
  let text = "";
  try {
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) return text;
      text += decoder.decode(chunk.subarray(0, n));
    }
  } catch {
    return text; // reset by the other end
  }
}

/** Open file descriptors of this process (`ls`: Deno wants --allow-all to read /proc/self). */
export async function openFds(): Promise<number> {
  const { stdout } = await new Deno.Command("ls", { args: [`/proc/${Deno.pid}/fd`] }).output();
  return decoder.decode(stdout).trim().split("\n").length;
}

/**
 * Descriptors the runtime may open for itself during a test and keep: under
 * load Deno's runtime once makes a socket pair of its own (seen: two unix
 * sockets, kept for the life of the process). A leak of the connections
 * under test is hundreds; this allows for the runtime's few.
 */
const RUNTIME_FDS = 4;

/** Waits (10 s at most) until this process has no more open fds than `baseline` (see RUNTIME_FDS). */
export async function fdsBackTo(baseline: number): Promise<void> {
  await waitFor(async () => await openFds() <= baseline + RUNTIME_FDS, {
    timeout: 10_000,
    message: `open fds back to ${baseline}`,
  });
}
