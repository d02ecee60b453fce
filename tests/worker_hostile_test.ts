// @seed/rpc/worker against hostile values and races: cyclic params,
// prototype-shaped keys, shared memory under transfer, and closes that
// cross a call. Each is answered or refused clearly; nothing hangs.

import { assertEquals, assertRejects } from "@std/assert";
import { ConnectionClosed, Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/worker.ts";
import { cloneSize } from "../transports/worker/_size.ts";
import { within } from "./_helpers.ts";

function pair(options: { transfer?: boolean } = {}) {
  const { port1, port2 } = new MessageChannel();
  const server = new Peer(connect(port1, { logger: silentLogger }), {
    logger: silentLogger,
    handlers: {
      echo: (params: unknown) => params,
      proto: (params: Record<string, unknown>) => [
        Object.getPrototypeOf(params) === Object.prototype,
        Object.keys(params).sort(),
        ({} as Record<string, unknown>).polluted ?? null,
      ],
      poke: ([view]: [Int32Array]) => Atomics.store(view, 0, 42),
      slow: () => new Promise((resolve) => setTimeout(() => resolve("late"), 200)),
    },
  });
  const client = new Peer(connect(port2, { logger: silentLogger, ...options }), {
    logger: silentLogger,
  });
  return { server, client };
}

Deno.test("worker: cyclic params cross and come back cyclic; the size estimate stops", async () => {
  const { server, client } = pair();
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.self = cyclic;
  cyclic.list = [cyclic, cyclic];
  const back = await client.call("echo", cyclic) as Record<string, unknown>;
  assertEquals(back.self, back);
  assertEquals((back.list as unknown[])[1], back);
  await client.close();
  await within(server.closed, 5000, "the server's close");
});

Deno.test("worker: __proto__ and constructor keys stay plain data, nothing is polluted", async () => {
  const { server, client } = pair();
  const params = JSON.parse(
    '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
  );
  assertEquals(await client.call("proto", params), [true, ["__proto__", "constructor"], null]);
  await client.close();
  await within(server.closed, 5000, "the server's close");
});

Deno.test("worker: transfer: true leaves shared memory shared, and refuses a detached buffer clearly", async () => {
  const { server, client } = pair({ transfer: true });
  const view = new Int32Array(new SharedArrayBuffer(8));
  await client.call("poke", [view]);
  assertEquals(Atomics.load(view, 0), 42);
  const detached = new ArrayBuffer(4);
  structuredClone(detached, { transfer: [detached] });
  await assertRejects(() => client.call("echo", [detached]), DOMException, "detached");
  assertEquals(await client.call("echo", ["still open"]), ["still open"]);
  await client.close();
  await within(server.closed, 5000, "the server's close");
});

Deno.test("worker: closing twice during a call rejects the call once and closes both sides", async () => {
  const { server, client } = pair();
  const call = client.call("slow");
  const closes = [client.close(), client.close(), client.channel.close()];
  await assertRejects(() => call, ConnectionClosed);
  await within(Promise.all(closes), 5000, "the closes");
  await within(server.closed, 5000, "the server's close");
  assertEquals(server.closeReason?.code, "remote");
  await server.idle();
});

Deno.test("worker: the inbox's size estimate counts strings, buffers and long arrays, within its budget", () => {
  assertEquals(cloneSize("x".repeat(1000)), 1000);
  assertEquals(cloneSize(new Uint8Array(1 << 20)), 1 << 20);
  assertEquals(cloneSize(new Array(5_000_000).fill(0)) >= 40_000_000, true);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assertEquals(cloneSize(cyclic) < 10_000, true);
  const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
  assertEquals(cloneSize(wide) >= 800_000, true);
});

Deno.test("worker: the size estimate extrapolates what its budget leaves unvisited", () => {
  const kilobyte = "x".repeat(1000);
  assertEquals(cloneSize(new Array(100_000).fill(kilobyte)) >= 100_000_000, true);
  const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, kilobyte]));
  assertEquals(cloneSize(wide) >= 100_000_000, true);
  assertEquals(cloneSize(new Map(Object.entries(wide))) >= 100_000_000, true);
});

Deno.test("worker: the size estimate counts a shared or cyclic object once, as a clone keeps it", () => {
  const nested: unknown[] = [];
  for (let i = 0; i < 10; i++) nested.push(nested);
  assertEquals(cloneSize(nested) < 1000, true);
  const buffer = new Uint8Array(1 << 20);
  assertEquals(cloneSize([buffer, buffer, buffer]) < 2 << 20, true);
});

Deno.test("worker: transfer: true copies a buffer that cannot be transferred (a wasm memory) instead of failing", async () => {
  const { server, client } = pair({ transfer: true });
  const memory = new WebAssembly.Memory({ initial: 1 });
  const view = new Uint8Array(memory.buffer, 0, 4);
  view.set([1, 2, 3, 4]);
  assertEquals(await client.call("echo", [view]), [new Uint8Array([1, 2, 3, 4])]);
  assertEquals(memory.buffer.byteLength, 65536);
  await client.close();
  await within(server.closed, 5000, "the server's close");
});
