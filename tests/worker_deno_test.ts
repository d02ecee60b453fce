// @seed/rpc/worker against real Deno workers: calls both ways, bytes kept
// as bytes, transfer, hostile values posted raw, and every way it closes.

import { assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { ConnectionClosed, Peer, type PeerOptions, RemoteError } from "../mod.ts";
import { connect, type PortOptions } from "../transports/worker.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";

const SCRIPT = new URL("./_worker_echo.ts", import.meta.url);

function startWorker(query = ""): Worker {
  return new Worker(new URL(SCRIPT.href + query), { type: "module" });
}

function workerPeer(
  worker: Worker,
  options: PortOptions = {},
  peerOptions: PeerOptions = {},
): Peer {
  return new Peer(connect(worker, options), peerOptions);
}

Deno.test("A call to a Deno worker is answered, with bytes, dates and maps kept as they are", async () => {
  const peer = workerPeer(startWorker());
  try {
    assertEquals(await peer.call("echo", { a: 1, list: [1, "two"] }), { a: 1, list: [1, "two"] });
    const reversed = await peer.call("reverse", [new Uint8Array([1, 2, 3])]);
    assertInstanceOf(reversed, Uint8Array);
    assertEquals(reversed, new Uint8Array([3, 2, 1]));
    const kinds = await peer.call("kinds", [
      new Uint8Array(2),
      new ArrayBuffer(2),
      new Date(0),
      new Map([[1, 2]]),
      new Set([1]),
      123n,
    ]);
    assertEquals(kinds, ["Uint8Array", "ArrayBuffer", "Date", "Map", "Set", "BigInt"]);
    const echoed = await peer.call("echo", [new Date(5), new Map([["k", new Uint8Array([9])]])]);
    assertEquals(echoed, [new Date(5), new Map([["k", new Uint8Array([9])]])]);
    await assertRejects(() => peer.call("fail"), RemoteError, "failed on purpose");
  } finally {
    await peer.close();
  }
});

Deno.test("A Deno worker calls back the main thread while answering its call", async () => {
  const peer = workerPeer(startWorker(), {}, {
    handlers: { double: ([n]: [number]) => n * 2, bytes: () => new Uint8Array([4, 5]) },
  });
  try {
    assertEquals(await peer.call("ask", ["double", [21]]), 42);
    assertEquals(await peer.call("ask", ["bytes"]), new Uint8Array([4, 5]));
    const calls = await Promise.all(
      Array.from({ length: 100 }, (_, i) => peer.call("ask", ["double", [i]])),
    );
    assertEquals(calls, Array.from({ length: 100 }, (_, i) => i * 2));
  } finally {
    await peer.close();
  }
});

Deno.test("transfer: true moves a call's buffer to the worker and leaves the sender's detached", async () => {
  const peer = workerPeer(startWorker(), { transfer: true });
  try {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const buffer = new ArrayBuffer(16);
    assertEquals(await peer.call("kinds", [bytes, buffer]), ["Uint8Array", "ArrayBuffer"]);
    assertEquals(bytes.byteLength, 0);
    assertEquals(buffer.byteLength, 0);
    assertEquals((buffer as ArrayBuffer & { detached: boolean }).detached, true);
  } finally {
    await peer.close();
  }
});

Deno.test("Without transfer the sender keeps its buffer (it is copied)", async () => {
  const peer = workerPeer(startWorker());
  try {
    const bytes = new Uint8Array([1, 2, 3]);
    assertEquals(await peer.call("reverse", [bytes]), new Uint8Array([3, 2, 1]));
    assertEquals(bytes, new Uint8Array([1, 2, 3]));
  } finally {
    await peer.close();
  }
});

Deno.test("A worker with transfer on replies with buffers it no longer holds", async () => {
  const peer = workerPeer(startWorker("?transfer"));
  try {
    const bytes = await peer.call("buffer", [1024]) as Uint8Array;
    assertEquals(bytes.byteLength, 1024);
    assertEquals(bytes[1023], 7);
  } finally {
    await peer.close();
  }
});

Deno.test("Hostile values a worker posts are answered or logged, and calls go on", async () => {
  const logger = recordingLogger();
  const peer = workerPeer(startWorker(), {}, { logger });
  try {
    const hostile: unknown[] = [
      "junk",
      null,
      42,
      [],
      new Map([["jsonrpc", "2.0"]]),
      { jsonrpc: "2.0", method: 5, id: 1 },
      { jsonrpc: "2.0", result: 1, id: 999_999 },
      { jsonrpc: "2.0", method: "echo", id: 10n },
      { jsonrpc: "2.0", method: "echo", params: "text", id: 3 },
      { ["__proto__"]: { polluted: true }, jsonrpc: "2.0", method: "constructor", id: 4 },
      { jsonrpc: "1.0", method: "echo", id: 5 },
    ];
    // Something readable first: an unreadable first answer means another dialect (and closes).
    assertEquals(await peer.call("echo", ["first"]), ["first"]);
    for (const value of hostile) assertEquals(await peer.call("raw", [value]), "posted");
    assertEquals(await peer.call("echo", ["still here"]), ["still here"]);
    await waitFor(() => logger.lines.length >= 3, { message: "the hostile values logged" });
    assertEquals(({} as Record<string, unknown>).polluted, undefined);
    assertEquals(peer.stats().invalidMessages > 0, true);
  } finally {
    await peer.close();
  }
});

Deno.test("Hostile values posted raw to a worker are refused there, and it keeps serving", async () => {
  const worker = startWorker();
  const replies: unknown[] = [];
  const listener = (event: MessageEvent) => replies.push(event.data);
  worker.addEventListener("message", listener);
  const peer = workerPeer(worker);
  try {
    worker.postMessage("junk");
    worker.postMessage({ jsonrpc: "2.0", method: "echo", params: 1, id: "bad-params" });
    worker.postMessage({ jsonrpc: "2.0", method: "nope", id: "unknown" });
    worker.postMessage([]);
    await waitFor(() => replies.length >= 4, { message: "four answers" });
    const byId = new Map(replies.map((r) => [(r as { id: unknown }).id, r]));
    assertEquals((byId.get("bad-params") as { error: { code: number } }).error.code, -32600);
    assertEquals((byId.get("unknown") as { error: { code: number } }).error.code, -32601);
    assertEquals(
      replies.filter((r) => (r as { id: unknown }).id === null).map((r) =>
        (r as { error: { code: number } }).error.code
      ),
      [-32600, -32600],
    );
    assertEquals(await peer.call("echo", ["fine"]), ["fine"]);
  } finally {
    worker.removeEventListener("message", listener);
    await peer.close();
  }
});

Deno.test("Closing the peer tells the worker and terminates it; later calls fail at once", async () => {
  const peer = workerPeer(startWorker());
  assertEquals(await peer.call("echo", [1]), [1]);
  await peer.close();
  await assertRejects(() => peer.call("echo", [2]), ConnectionClosed);
  assertEquals(peer.channel.closeReason?.code, "local");
});

Deno.test("A worker that closes its peer closes ours: pending calls fail at once", async () => {
  const peer = workerPeer(startWorker(), {}, { timeout: 60_000 });
  try {
    const asked = answerNever(peer);
    // The worker calls our `never` while answering: a call pending on both sides.
    const pending = peer.call("ask", ["never"]).catch((error) => error);
    await asked;
    assertEquals(await peer.call("echo", ["before"]), ["before"]);
    // The worker's `quit` closes its peer (and so the worker).
    await peer.notify("quit");
    await within(peer.closed, 5000, "our peer closing");
    assertEquals(peer.channel.closeReason?.code, "remote");
    assertInstanceOf(await pending, ConnectionClosed);
  } finally {
    await peer.close();
  }
});

Deno.test("A worker that dies of an uncaught exception closes the channel as failed", async () => {
  const worker = startWorker();
  // What else an uncaught error in a worker does is its owner's choice: here, nothing.
  const stop = (event: ErrorEvent) => event.preventDefault();
  worker.addEventListener("error", stop);
  const peer = workerPeer(worker, {}, { timeout: 60_000 });
  try {
    assertEquals(await peer.call("crash"), "crashing");
    await within(peer.closed, 5000, "our peer closing");
    const reason = peer.channel.closeReason;
    assertEquals(reason?.code, "failed");
    assertEquals(reason?.message.includes("crashed on purpose"), true);
    await assertRejects(() => peer.call("echo"), ConnectionClosed);
  } finally {
    worker.removeEventListener("error", stop);
    await peer.close();
  }
});

/** Serves `never`, a call that never ends; resolves once the worker made one. */
function answerNever(peer: Peer): Promise<void> {
  const asked = Promise.withResolvers<void>();
  peer.handle("never", () => {
    asked.resolve();
    return new Promise(() => {});
  });
  return asked.promise;
}
