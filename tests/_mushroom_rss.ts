// Measures what sessions that never acknowledge cost a mushroom server, in a
// process of its own run with --v8-flags=--expose-gc (so that a full GC can
// run before each measure): SESSIONS poll sessions get PUSHES pushes of MIB
// MiB each (default 24 16 1); prints how much the RSS grew (after a full GC),
// how many sessions are still open and how many messages (and MiB) they keep;
// then each session polls once and never reads the answer, and how much more
// the RSS grew. Tests call measureMushroomRss().

import { Server } from "../mod.ts";
import type { MushroomSession } from "../transports/mushroom.ts";
import { listen } from "../transports/mushroom_server.ts";
import { assert } from "./_assert.ts";
import { within } from "./_helpers.ts";

/** What one measuring run printed. */
export interface MushroomRss {
  /** Sessions the server still has. */
  sessions: number;
  /** Of those, sessions not closed. */
  open: number;
  /** RSS growth after the pushes, MiB. */
  grownMiB: number;
  /** Messages the open sessions keep. */
  kept: number;
  /** What they keep, MiB (of characters). */
  keptMiB: number;
  /** RSS growth from the unread polls, MiB. */
  unreadPollsMiB: number;
}

/** Runs this script in its own process with `sessions`, `pushes` and `pushMiB`. */
export async function measureMushroomRss(
  sessions: number,
  pushes: number,
  pushMiB: number,
): Promise<MushroomRss> {
  const run = await within(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-check",
        "--allow-net=127.0.0.1",
        "--v8-flags=--expose-gc",
        import.meta.url,
        String(sessions),
        String(pushes),
        String(pushMiB),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output(),
    120_000,
    "the measuring process",
  );
  const decoder = new TextDecoder();
  assert(run.success, decoder.decode(run.stderr));
  return JSON.parse(decoder.decode(run.stdout));
}

if (import.meta.main) await measure();

async function measure(): Promise<void> {
  const encoder = new TextEncoder();
  const sessions = Number(Deno.args[0] ?? 24);
  const pushes = Number(Deno.args[1] ?? 16);
  const pushMiB = Number(Deno.args[2] ?? 1);
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
  const big = "z".repeat(pushMiB * 1024 * 1024);
  gc();
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < pushes; i++) await server.notify("big", [big]);
  gc();
  const grown = (Deno.memoryUsage().rss - before) / 1024 / 1024;
  const open = [...server.connections.values()]
    .map((c) => c.peer.channel as MushroomSession)
    .filter((session) => session.closeReason === undefined);
  const kept = open.reduce((sum, session) => sum + session.unacknowledged, 0);
  const keptMiB = open.reduce((sum, session) => sum + session.unacknowledgedBytes, 0) / 1024 / 1024;
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
    open: open.length,
    grownMiB: Math.round(grown),
    kept,
    keptMiB: Math.round(keptMiB),
    unreadPollsMiB: Math.round(polled),
  }));
  for (const conn of conns) conn.close();
  await server.close();
}
