// Stream cases: items per second of a stream (`peer.stream`, credit 16, 64
// and 256 (the default; 64 on WebSocket)) against the same items pushed as plain notifications
// from a handler over the same wire, TCP and WebSocket, in one process and one
// run. Reports ratio_to_notifications for the streams (best to best) and
// ratio_spread: [min, median, max] of each round's ratio to that round's
// notifications, since a shared machine's noise moves single numbers a lot.

import { type CallContext, Peer, Server, silentLogger } from "../mod.ts";
import { connect as tcpConnect, listen as tcpListen } from "../transports/tcp.ts";
import { connect as wsConnect } from "../transports/websocket.ts";
import { listen as wsListen } from "../transports/websocket_server.ts";
import type { BenchResult } from "./_measure.ts";

const ITEM = { symbol: "DENO", price: 42.5, at: 1_700_000_000_000 };

interface Wire {
  name: string;
  serve(server: Server): Server;
  connect(addr: string): Promise<Peer>;
}

const WIRES: Wire[] = [
  {
    name: "tcp",
    serve: (server) => server.serve(tcpListen("tcp://127.0.0.1:0", { logger: silentLogger })),
    connect: async (addr) =>
      new Peer(await tcpConnect(addr, { logger: silentLogger }), { logger: silentLogger }),
  },
  {
    name: "websocket",
    serve: (server) => server.serve(wsListen("ws://127.0.0.1:0/", { logger: silentLogger })),
    connect: async (addr) =>
      new Peer(await wsConnect(addr, { logger: silentLogger }), { logger: silentLogger }),
  },
];

export async function streamCases(): Promise<BenchResult[]> {
  const durationMs = Number(Deno.env.get("BENCH_MS") ?? 2000);
  const results: BenchResult[] = [];
  for (const wire of WIRES) {
    let received = 0;
    let done = Promise.withResolvers<void>();
    let wanted = 0;
    const server = wire.serve(
      new Server({
        logger: silentLogger,
        handlers: {
          async *items({ n }: { n: number }) {
            for (let i = 0; i < n; i++) yield ITEM;
          },
          push: async ({ n }: { n: number }, ctx: CallContext) => {
            for (let i = 0; i < n; i++) await ctx.peer.notify("item", ITEM);
          },
        },
      }),
    );
    const client = await wire.connect(server.addr);
    client.handle("item", () => {
      if (++received === wanted) done.resolve();
    });

    const notifications = async (n: number) => {
      received = 0;
      wanted = n;
      done = Promise.withResolvers<void>();
      await client.call("push", { n }, { timeout: 0 });
      await done.promise;
    };
    const stream = (credit: number) => async (n: number) => {
      let count = 0;
      for await (const _ of client.stream("items", { n }, { credit, timeout: 0 })) count++;
      if (count !== n) throw new Error(`got ${count} of ${n} items`);
    };

    // Interleaved rounds, best of each: a shared machine's noise hits every case alike.
    const cases: [string, (n: number) => Promise<void>][] = [
      [`${wire.name} notifications from a handler`, notifications],
      ...[16, 64, 256].map((credit): [string, (n: number) => Promise<void>] => [
        `${wire.name} stream, credit ${credit}${
          credit === (wire.name === "websocket" ? 64 : 256) ? " (the default)" : ""
        }`,
        stream(credit),
      ]),
    ];
    // Each round's items/s per case; a case's ratio in a round is to that round's notifications.
    const rounds = new Map<string, BenchResult[]>(cases.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, batch] of cases) {
        rounds.get(name)!.push(await itemsPerSecond(name, batch, durationMs / ROUNDS, round === 0));
      }
    }
    const plain = rounds.get(cases[0]![0])!;
    for (const [name] of cases) {
      const runs = rounds.get(name)!;
      const result = runs.reduce((a, b) => b.calls_per_s > a.calls_per_s ? b : a);
      result.rounds_per_s = runs.map((run) => run.calls_per_s);
      if (runs !== plain) {
        const best = plain.reduce((a, b) => Math.max(a, b.calls_per_s), 0);
        result.ratio_to_notifications = round2(result.calls_per_s / best);
        // The spread: each round against the notifications of the same round.
        const ratios = runs.map((run, i) => run.calls_per_s / plain[i]!.calls_per_s).sort((a, b) =>
          a - b
        );
        result.ratio_spread = [ratios[0]!, ratios[ratios.length >> 1]!, ratios.at(-1)!].map(round2);
      }
      results.push(result);
    }
    await client.close();
    await server.shutdown();
  }
  return results;
}

/** Rounds of each case; each reports its best, and the spread of its per-round ratios. */
const ROUNDS = 4;

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Runs batches of 10 000 items for `durationMs` (after a warm-up the first time): items per second. */
async function itemsPerSecond(
  name: string,
  batch: (n: number) => Promise<void>,
  durationMs: number,
  warmUp: boolean,
): Promise<BenchResult> {
  const n = 10_000;
  const warm = performance.now();
  while (warmUp && performance.now() - warm < 500) await batch(n);
  let items = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    await batch(n);
    items += n;
  }
  const elapsed = performance.now() - started;
  return {
    bench: name,
    calls_per_s: Math.round(items / (elapsed / 1000)),
    p50_us: 0,
    p99_us: 0,
    calls: items,
    unit: "items",
  };
}
