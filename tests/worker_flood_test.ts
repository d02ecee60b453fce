// A port has no backpressure: a sender that posts without waiting for
// answers must not grow the receiver's inbox without bound. Past the
// channel's count or byte bound it closes, says why, and tells the sender.
// And junk on a BroadcastChannel is not answered to every listener.

import { assertEquals, assertStringIncludes } from "@std/assert";
import { CloseCode, Peer, silentLogger } from "../mod.ts";
import { CLOSE_METHOD, connect } from "../transports/worker.ts";
import { waitFor, within } from "./_helpers.ts";

/** A peer whose handler never returns, and the raw port that floods it. */
function stalledServer(options: { maxQueued?: number; maxQueuedBytes?: number } = {}) {
  const { port1, port2 } = new MessageChannel();
  let started = 0;
  const peer = new Peer(connect(port1, { logger: silentLogger, ...options }), {
    logger: silentLogger,
    handlers: {
      stall: () => {
        started++;
        return new Promise(() => {});
      },
    },
  });
  const received: unknown[] = [];
  port2.onmessage = (event) => received.push(event.data);
  return { peer, port: port2, received, started: () => started };
}

Deno.test("worker: a flood of calls past maxQueued closes the channel, refused, and tells the sender", async () => {
  const server = stalledServer();
  for (let i = 0; i < 20_000; i++) {
    server.port.postMessage({ jsonrpc: "2.0", method: "stall", id: i });
  }
  // The peer itself ends once a handler returns; the channel (and what it held) at once.
  await within(server.peer.channel.closed, 5000, "the channel's close");
  assertEquals(server.peer.channel.closeReason?.code, CloseCode.Refused);
  assertStringIncludes(server.peer.channel.closeReason?.message ?? "", "16384 messages");
  await waitFor(
    () => server.received.some((m) => (m as { method?: string }).method === CLOSE_METHOD),
    { message: "the rpc.close notification" },
  );
  assertEquals(server.started() <= 256, true);
  await within(server.peer.close(), 5000, "the peer's close");
  server.port.close();
});

Deno.test("worker: large messages past maxQueuedBytes close the channel before memory grows", async () => {
  const server = stalledServer({ maxQueuedBytes: 8 * 1024 * 1024 });
  const blob = "x".repeat(1024 * 1024);
  const bytes = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 100; i++) {
    const params = i % 2 === 0 ? [blob, i] : { bytes, nested: [[bytes]] };
    server.port.postMessage({ jsonrpc: "2.0", method: "stall", params, id: i });
  }
  await within(server.peer.channel.closed, 5000, "the channel's close");
  assertEquals(server.peer.channel.closeReason?.code, CloseCode.Refused);
  assertStringIncludes(server.peer.channel.closeReason?.message ?? "", "8388608 bytes");
  await within(server.peer.close(), 5000, "the peer's close");
  server.port.close();
});

Deno.test("worker: a burst of notifications under the bounds is all handled", async () => {
  const { port1, port2 } = new MessageChannel();
  let seen = 0;
  const peer = new Peer(connect(port1, { logger: silentLogger }), {
    logger: silentLogger,
    handlers: { tick: () => void seen++ },
  });
  for (let i = 0; i < 10_000; i++) port2.postMessage({ jsonrpc: "2.0", method: "tick" });
  await waitFor(() => seen === 10_000, { message: "every tick", timeout: 10_000 });
  assertEquals(peer.closeReason, undefined);
  await peer.close();
  port2.close();
});

Deno.test("worker: junk posted on a BroadcastChannel is logged by each listener, never answered to all", async () => {
  const name = `rpc-junk-${crypto.randomUUID()}`;
  let marks = 0;
  const listeners = Array.from(
    { length: 5 },
    () =>
      new Peer(connect(new BroadcastChannel(name), { logger: silentLogger }), {
        logger: silentLogger,
        handlers: { mark: () => void marks++ },
      }),
  );
  const raw = new BroadcastChannel(name);
  const heard: unknown[] = [];
  raw.onmessage = (event) => heard.push(event.data);
  try {
    for (const junk of ["text", 42, { jsonrpc: "1.0" }, [1, 2], { jsonrpc: "2.0", id: {} }]) {
      raw.postMessage(junk);
    }
    raw.postMessage({ jsonrpc: "2.0", method: "mark" });
    await waitFor(() => marks === 5, { message: "every listener's mark" });
    // A round trip more, for any answer still on its way.
    const probe = new BroadcastChannel(name);
    const echoed = new Promise((resolve) =>
      raw.onmessage = (event) => resolve(heard.push(event.data))
    );
    probe.postMessage("last");
    await echoed;
    probe.close();
    assertEquals(heard, ["last"]);
  } finally {
    raw.close();
    for (const peer of listeners) await peer.close();
  }
});
