// `deno task fuzz http`: hostile bodies and heads against a live JSON-RPC
// over HTTP `listen()` in its own process (this file, `fuzz/http.ts serve`).
// Each case opens a few raw connections and writes generated requests in
// random pieces: JSON-RPC bodies (valid, mutated, batches, invalid UTF-8),
// lying or huge Content-Lengths, junk chunked bodies, wrong methods and
// content types, broken heads. After every round the server process must be
// alive and answer a fresh call over our client, and (every 20 rounds) its
// RSS must stay under the bound; the report adds its heap after a collection
// and the POSTs still open, which show a leak that RSS would hide.

import { Peer, silentLogger } from "../mod.ts";
import { connect, listen } from "../transports/http.ts";
import { Server } from "../mod.ts";
import { type Frame, jsonRpcFrame, Random } from "./_generators.ts";
import { targetHandlers } from "./_target.ts";
import { concat } from "../tests/_bytes.ts";

const encoder = new TextEncoder();

/** What the fuzz run reports for the http target. */
export interface HttpFuzzReport {
  dialect: "http";
  frames: number;
  seconds: number;
  frames_per_s: number;
  cases: number;
  crashes: number;
  rss_mb: { first: number; last: number; peak: number } | null;
  /** The server's heap after a collection (MB), first and last. */
  heap_mb: { first: number; last: number } | null;
  /** The most POSTs open at a health check (the check itself is one). */
  pending_peak: number;
}

/** The body bytes of a frame. */
function bytesOf(frame: Frame): Uint8Array {
  return typeof frame === "string" ? encoder.encode(frame) : frame;
}

/** One hostile request (head and body) for `/rpc` on `host`. */
function hostileRequest(random: Random, host: string): Uint8Array {
  const body = bytesOf(jsonRpcFrame(random));
  const roll = random.int(12);
  const type = random.chance(0.9) ? "application/json" : random.pick(["text/plain", "", "json"]);
  const head = (method: string, extra: string) =>
    encoder.encode(
      `${method} ${random.chance(0.95) ? "/rpc" : "/x"} HTTP/1.1\r\nHost: ${host}\r\n` +
        `Content-Type: ${type}\r\n${extra}\r\n`,
    );
  switch (roll) {
    case 0: // a Content-Length that lies short
      return concat([head("POST", `Content-Length: ${Math.max(0, body.length - 3)}\r\n`), body]);
    case 1: // one that lies long: the body never completes
      return concat([head("POST", `Content-Length: ${body.length + 50}\r\n`), body]);
    case 2: // far over the limit
      return concat([head("POST", `Content-Length: ${2 ** 40}\r\n`), body]);
    case 3: { // chunked, in random chunk sizes, sometimes broken
      const parts: Uint8Array[] = [head("POST", "Transfer-Encoding: chunked\r\n")];
      let at = 0;
      while (at < body.length) {
        const size = 1 + random.int(64);
        const piece = body.subarray(at, at + size);
        parts.push(
          encoder.encode(`${piece.length.toString(16)}\r\n`),
          piece,
          encoder.encode("\r\n"),
        );
        at += size;
      }
      parts.push(encoder.encode(random.chance(0.8) ? "0\r\n\r\n" : "zz\r\n"));
      return concat(parts);
    }
    case 4: // another method, with or without an Origin
      return concat([
        head(
          random.pick(["GET", "PUT", "OPTIONS", "DELETE", "HEAD"]),
          random.chance(0.5) ? "Origin: http://evil.example\r\n" : "",
        ),
      ]);
    case 5: // a broken head
      return encoder.encode(
        random.pick([
          "POST /rpc HTTP/1.1\r\n\r\n",
          "\r\n\r\n",
          "POST\r\nHost\r\n\r\n",
          "GET / HTTP/9\r\n",
        ]),
      );
    default:
      return concat([head("POST", `Content-Length: ${body.length}\r\n`), body]);
  }
}

/** Writes `bytes` in random pieces, then reads whatever comes back for a while. */
async function oneConnection(port: number, requests: Uint8Array[], random: Random): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return;
  }
  const reading = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while ((await conn.read(buffer)) !== null) { /* drain */ }
    } catch { /* reset */ }
  })();
  try {
    for (const bytes of requests) {
      let at = 0;
      while (at < bytes.length) {
        const end = Math.min(bytes.length, at + 1 + random.int(4096));
        at += await conn.write(bytes.subarray(at, end));
      }
    }
  } catch { /* the server closed it */ }
  // Leave it open a moment (a body that never completes), then go.
  await new Promise((resolve) => setTimeout(resolve, random.int(30)));
  try {
    conn.close();
  } catch { /* closed */ }
  await reading;
}

/** Starts the target server process; resolves with its URL and a way to stop it. */
async function startTarget(): Promise<
  { url: string; child: Deno.ChildProcess; stop(): Promise<void> }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "serve",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the http fuzz target exited before printing its URL");
    text += decoder.decode(value, { stream: true });
  }
  return {
    url: text.trim(),
    child,
    stop: async () => {
      await child.stdin.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** Runs about `target` hostile requests; a crash or an unanswered health call counts. */
export async function fuzzHttp(target: number, seed: number): Promise<HttpFuzzReport> {
  const random = new Random(seed * 1000 + 77);
  const started = performance.now();
  let server = await startTarget();
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  const rss: number[] = [];
  const heap: number[] = [];
  let pending = 0;
  while (frames < target) {
    const port = Number(new URL(server.url).port);
    const host = random.chance(0.9) ? `127.0.0.1:${port}` : "evil.example";
    const connections = Array.from(
      { length: 4 },
      () => Array.from({ length: 1 + random.int(8) }, () => hostileRequest(random, host)),
    );
    frames += connections.reduce((n, c) => n + c.length, 0);
    cases++;
    await Promise.all(connections.map((requests) => oneConnection(port, requests, random)));
    const client = new Peer(await connect(server.url), { logger: silentLogger, timeout: 10_000 });
    try {
      const { sum } = await client.call("add", { a: 1, b: 2 }) as { sum: number };
      if (sum !== 3) throw new Error(`add answered ${sum}`);
      if (cases % 20 === 1) {
        const stats = await client.call("rss") as { rss: number; heap: number; pending: number };
        rss.push(stats.rss / 1024 / 1024);
        heap.push(Math.round(stats.heap / 1024 / 1024));
        pending = Math.max(pending, stats.pending);
      }
    } catch (error) {
      crashes++;
      console.error(`http fuzz: case ${cases} broke the server: ${error}`);
      await server.stop().catch(() => {});
      server = await startTarget();
    } finally {
      await client.close();
    }
  }
  await server.stop();
  const seconds = (performance.now() - started) / 1000;
  return {
    dialect: "http",
    frames,
    seconds: Math.round(seconds * 10) / 10,
    frames_per_s: Math.round(frames / seconds),
    cases,
    crashes,
    rss_mb: rss.length === 0 ? null : {
      first: Math.round(rss[0]!),
      last: Math.round(rss.at(-1)!),
      peak: Math.round(Math.max(...rss)),
    },
    heap_mb: heap.length === 0 ? null : { first: heap[0]!, last: heap.at(-1)! },
    pending_peak: pending,
  };
}

if (import.meta.main && Deno.args[0] === "serve") {
  const listener = listen("http://127.0.0.1:0/rpc", {
    logger: silentLogger,
    maxBodyBytes: 1024 * 1024,
    bodyTimeout: 200,
    headTimeout: 500,
  });
  const handlers = {
    ...targetHandlers(),
    // The heap after a collection, where the run allows one, and POSTs still open.
    rss: () => {
      (globalThis as { gc?: () => void }).gc?.();
      const memory = Deno.memoryUsage();
      return { rss: memory.rss, heap: memory.heapUsed, pending: listener.pending };
    },
  };
  const server = new Server({ logger: silentLogger, handlers }).serve(listener);
  console.log(server.addr);
  for await (const _ of Deno.stdin.readable) { /* serve until stdin closes */ }
  await server.close();
  Deno.exit(0);
}
