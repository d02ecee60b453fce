// @seed/rpc/worker over MessageChannel ports and BroadcastChannels: hostile
// values, messageerror, replies that cannot be cloned, batches, and what a
// BroadcastChannel carries.

import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { ConnectionClosed, Peer, RemoteError } from "../mod.ts";
import { CLOSE_METHOD, connect } from "../transports/worker.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";

/** A peer serving on one port, and the other port to post raw values from. */
function rawPort(handlers: Record<string, (params: never) => unknown> = {}) {
  const { port1, port2 } = new MessageChannel();
  const logger = recordingLogger();
  const peer = new Peer(connect(port1, { logger }), {
    logger,
    handlers: { echo: (params: unknown) => params, ...handlers },
  });
  const received: unknown[] = [];
  port2.onmessage = (event) => received.push(event.data);
  const close = async () => {
    await peer.close();
    port2.close();
  };
  return { peer, port: port2, received, logger, close };
}

Deno.test("Two peers over a MessageChannel call each other, and a batch is answered as one array", async () => {
  const { port1, port2 } = new MessageChannel();
  const a = new Peer(connect(port1), { handlers: { name: () => "a" } });
  const b = new Peer(connect(port2), { handlers: { name: () => "b" } });
  assertEquals(await a.call("name"), "b");
  assertEquals(await b.call("name"), "a");
  await a.close();
  await within(b.closed, 5000, "the other peer closing");
  assertEquals(b.channel.closeReason?.code, "remote");

  const raw = rawPort();
  try {
    raw.port.postMessage([
      { jsonrpc: "2.0", method: "echo", params: [new Uint8Array([1])], id: 1 },
      { jsonrpc: "2.0", method: "echo", params: [2] },
      { jsonrpc: "2.0", method: "echo", params: [3], id: 3 },
    ]);
    await waitFor(() => raw.received.length === 1, { message: "the batch answer" });
    assertEquals(raw.received[0], [
      { jsonrpc: "2.0", result: [new Uint8Array([1])], id: 1 },
      { jsonrpc: "2.0", result: [3], id: 3 },
    ]);
  } finally {
    await raw.close();
  }
});

Deno.test("Hostile values posted to a served port are answered like junk on any wire", async () => {
  const raw = rawPort();
  try {
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 1000; i++) at = (at.next = {}) as Record<string, unknown>;
    const hostile: unknown[] = [
      undefined,
      "text",
      new Uint8Array(8),
      new Map([["method", "echo"]]),
      { jsonrpc: "2.0", method: "echo", id: { nested: true } },
      { jsonrpc: "2.0", method: "echo", id: Infinity },
      { jsonrpc: "2.0", method: "echo", id: 2 ** 60 },
      { jsonrpc: "2.0", method: new String("echo"), id: 1 },
      { jsonrpc: "2.0", method: "__proto__", id: 2 },
      { jsonrpc: "2.0", method: "echo", params: deep, id: 3 },
      new Array(2000).fill({ jsonrpc: "2.0", method: "echo" }),
      { jsonrpc: "2.0", error: { code: "x" }, id: 4 },
    ];
    for (const value of hostile) raw.port.postMessage(value);
    raw.port.postMessage({ jsonrpc: "2.0", method: "echo", params: ["alive"], id: "last" });
    const last = await waitFor(
      () => raw.received.find((r) => (r as { id?: unknown }).id === "last"),
      {
        message: "the last answer",
      },
    );
    assertEquals(last, { jsonrpc: "2.0", result: ["alive"], id: "last" });
    const codes = raw.received.map((r) => (r as { error?: { code: number } }).error?.code);
    // Every junk value gets one -32600 (8), an unknown method -32601, the
    // deep params echo back, the long batch is refused whole; a broken reply is only logged.
    assertEquals(codes.filter((c) => c === -32600).length, 9);
    assertEquals(codes.filter((c) => c === -32601).length, 1);
    assertEquals(raw.peer.stats().invalidMessages >= 9, true);
  } finally {
    await raw.close();
  }
});

Deno.test("A messageerror is counted and answered with a parse error", async () => {
  const raw = rawPort();
  try {
    (raw.peer.channel as unknown as { handleEvent(e: Event): void }).handleEvent(
      new MessageEvent("messageerror"),
    );
    await waitFor(() => raw.received.length === 1, { message: "the parse error" });
    assertEquals((raw.received[0] as { error: { code: number }; id: null }).error.code, -32700);
    assertEquals((raw.peer.channel as unknown as { messageErrors: number }).messageErrors, 1);
  } finally {
    await raw.close();
  }
});

Deno.test("A reply that cannot be cloned becomes -32603; a call that cannot be cloned rejects", async () => {
  const raw = rawPort({ fn: () => () => "a function" });
  const { port1, port2 } = new MessageChannel();
  const server = new Peer(connect(port1), { handlers: { fn: () => Symbol("no") } });
  const client = new Peer(connect(port2));
  try {
    raw.port.postMessage({ jsonrpc: "2.0", method: "fn", id: 1 });
    await waitFor(() => raw.received.length === 1, { message: "the answer" });
    assertEquals(raw.received[0], {
      jsonrpc: "2.0",
      error: { code: -32603, message: "Internal error", data: "the result could not be cloned" },
      id: 1,
    });
    assertEquals(raw.logger.messages("error"), ["port: a reply could not be cloned"]);
    raw.port.postMessage([
      { jsonrpc: "2.0", method: "fn", id: 2 },
      { jsonrpc: "2.0", method: "echo", params: [new Uint8Array([5])], id: 3 },
    ]);
    await waitFor(() => raw.received.length === 2, { message: "the batch answer" });
    assertEquals(raw.received[1], [
      {
        jsonrpc: "2.0",
        error: { code: -32603, message: "Internal error", data: "the result could not be cloned" },
        id: 2,
      },
      { jsonrpc: "2.0", result: [new Uint8Array([5])], id: 3 },
    ]);
    const error = await assertRejects(() => client.call("fn"), RemoteError);
    assertEquals(error.code, -32603);
    const refused = await assertRejects(() => client.call("fn", [() => 1]), DOMException);
    assertEquals(refused.name, "DataCloneError");
    assertEquals(await client.call("echo").catch((e: RemoteError) => e.code), -32601);
  } finally {
    await client.close();
    await server.closed;
    await raw.close();
  }
});

Deno.test("closeEndpoint: false leaves the port open after the peer closed", async () => {
  const { port1, port2 } = new MessageChannel();
  const peer = new Peer(connect(port1, { closeEndpoint: false }));
  const seen: unknown[] = [];
  port2.onmessage = (event) => seen.push(event.data);
  await peer.close();
  await waitFor(() => seen.length === 1, { message: "the close notice" });
  assertEquals(seen[0], { jsonrpc: "2.0", method: CLOSE_METHOD });
  // Still open: port1 is ours again.
  const echoed = Promise.withResolvers<unknown>();
  port1.onmessage = (event) => echoed.resolve(event.data);
  port2.postMessage("still open");
  assertEquals(await within(echoed.promise, 5000, "the message"), "still open");
  port1.close();
  port2.close();
});

Deno.test("A BroadcastChannel carries notifications to every listener; calls are refused both ways", async () => {
  const name = `rpc-test-${crypto.randomUUID()}`;
  const heard: string[] = [];
  const logger = recordingLogger();
  const listeners = ["a", "b"].map((who) =>
    new Peer(connect(new BroadcastChannel(name)), {
      logger,
      handlers: { news: ([text]: [string]) => void heard.push(`${who}: ${text}`) },
    })
  );
  const sender = new Peer(connect(new BroadcastChannel(name)));
  try {
    await sender.notify("news", ["hello"]);
    await waitFor(() => heard.length === 2, { message: "both listeners" });
    assertEquals(heard.sort(), ["a: hello", "b: hello"]);
    await assertRejects(() => sender.call("news", ["?"]), TypeError, "notifications only");
    const raw = new BroadcastChannel(name);
    raw.postMessage({ jsonrpc: "2.0", method: "news", params: ["a call"], id: 1 });
    await waitFor(() => logger.lines.length >= 2, { message: "the refused call logged" });
    assertEquals(heard.length, 2);
    raw.close();
    const another = new BroadcastChannel(name);
    assertThrows(() => connect(another, { transfer: true }), TypeError, "cannot transfer");
    another.close();
  } finally {
    await sender.close();
    for (const peer of listeners) await peer.close();
  }
});

Deno.test("A closed port channel refuses to send", async () => {
  const { port1, port2 } = new MessageChannel();
  const channel = connect(port1);
  await channel.close();
  await assertRejects(
    () => channel.send({ kind: "notification", method: "late" }),
    ConnectionClosed,
  );
  port2.close();
});

Deno.test("A port's close event (its other end gone, in browsers) closes the channel", async () => {
  const { port1, port2 } = new MessageChannel();
  const peer = new Peer(connect(port1), { timeout: 60_000 });
  const pending = peer.call("never").catch((error) => error);
  port1.dispatchEvent(new Event("close")); // what a browser fires; Deno does not
  await within(peer.closed, 5000, "the peer closing");
  assertEquals(peer.channel.closeReason?.code, "remote");
  assertEquals((await pending) instanceof ConnectionClosed, true);
  port2.close();
});
