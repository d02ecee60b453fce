// Run by tests/mushroom_hostile_test.ts with --v8-flags=--expose-gc: SESSIONS
// poll sessions that never acknowledge get PUSHES pushes of 1 MiB each; prints
// how much the RSS grew (after a full GC) and how many messages are kept; then
// each session polls once and never reads the answer, and how much more the
// RSS grew.

import { Server } from "../mod.ts";
import type { MushroomSession } from "../transports/mushroom.ts";
import { listen } from "../transports/mushroom_server.ts";

const encoder = new TextEncoder();
const sessions = Number(Deno.args[0] ?? 24);
const pushes = Number(Deno.args[1] ?? 16);
const gc = (globalThis as { gc?: () => void }).gc!;
const quiet = { debug() {}, warn() {}, error() {} };
const server = new Server({ logger: quiet })
  .serve(listen("http://127.0.0.1:0/", { logger: quiet }));
const urls: string[] = [];
for (let i = 0; i < sessions; i++) {
  const hello = await fetch(server.addr, { method: "POST", body: '{"transports": ["poll"]}' });
  const { url } = await hello.json();
  await (await fetch(url, { method: "POST", body: "[]" })).text();
  urls.push(url);
}
const big = "z".repeat(1024 * 1024);
gc();
const before = Deno.memoryUsage().rss;
for (let i = 0; i < pushes; i++) await server.notify("big", [big]);
gc();
const grown = (Deno.memoryUsage().rss - before) / 1024 / 1024;
const kept = [...server.connections.values()]
  .reduce((sum, c) => sum + (c.peer.channel as MushroomSession).unacknowledged, 0);
// Polls whose answers are never read.
const conns: Deno.TcpConn[] = [];
for (const url of urls) {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  await conn.write(encoder.encode(
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Length: 11\r\n\r\n[[0, null]]`,
  ));
  conns.push(conn);
}
// Let the server answer them all (one read each shows an answer has started).
for (const conn of conns) await conn.read(new Uint8Array(1));
gc();
const polled = (Deno.memoryUsage().rss - before) / 1024 / 1024 - grown;
console.log(JSON.stringify({
  sessions: server.connections.size,
  grownMiB: Math.round(grown),
  kept,
  unreadPollsMiB: Math.round(polled),
}));
for (const conn of conns) conn.close();
await server.close();
