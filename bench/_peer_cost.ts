// Our own CPU and allocation per call of the Peer, calling and serving,
// without sockets: a client Peer calls `add` on a Server over a memory
// pair, so what is measured is both sides' peer, codec and framing (one
// process; the CPU us and KB per call are the two sides together). Cases
// interleave per round (bench/_cpu_alloc.ts).
//   peer         Peer -> Server over memoryPair
//   peer-hop     the same, each frame read in a later macrotask (as from a socket)
//   min, min-hop the floor: a hand-written minimal JSON-RPC on the same pair
// `deno run -A bench/_peer_cost.ts [rounds] [calls]`; with PEER_BEFORE=<another
// checkout> the cases "before" and "before-hop" are that checkout's Peer; with
// MESH_HEAP_PROFILE=<prefix>, each measured loop's sampled heap profile goes to
// <prefix>.<case>.<in flight>. For the top self-time frames add --cpu-prof.

import { closedLoop, type CostCase, runRounds } from "./_cpu_alloc.ts";

const rounds = Number(Deno.args[0] ?? 5);
const calls = Number(Deno.args[1] ?? 50_000);

type Library = typeof import("../mod.ts");

/** A client and a server Peer of `lib` over a memory pair; `hop` delays each frame a macrotask. */
function pair(lib: Library, hop: boolean): CostCase {
  const [a, b] = lib.memoryPair<string>();
  const ports: MessagePort[] = [];
  if (hop) {
    // Each frame reaches the other side in a later task, as a socket read
    // would (a message port: setTimeout(0) would be clamped to 4 ms).
    for (const end of [a, b]) {
      const send = end.send.bind(end);
      const queue: string[] = [];
      const { port1, port2 } = new MessageChannel();
      port2.onmessage = () => send(queue.shift()!);
      ports.push(port1, port2);
      end.send = (frame: string) => {
        queue.push(frame);
        port1.postMessage(null);
        return lib.ACCEPTED;
      };
    }
  }
  // The serving side as bench/_server.ts runs it: a Server's peer.
  const server = new lib.Server({
    logger: lib.silentLogger,
    handlers: { add: (p: { a: number; b: number }) => p.a + p.b },
  });
  server.add(a);
  const client = new lib.Peer(b, { logger: lib.silentLogger });
  const params = { a: 1, b: 2 };
  return {
    async call(n: number, inFlight: number): Promise<void> {
      await closedLoop(n, inFlight, () => client.call("add", params));
    },
    async close() {
      await client.close();
      await server.close();
      for (const port of ports) port.close();
    },
  };
}

/**
 * The floor: the same memory pair and hop, with a hand-written minimal
 * JSON-RPC on each end (bench/_min_jsonrpc.ts's: one parse and one
 * template string per message, a Map of pending ids).
 */
function minimal(lib: Library, hop: boolean): CostCase {
  const [a, b] = lib.memoryPair<string>();
  const ports: MessagePort[] = [];
  const send = (end: typeof a) => {
    if (!hop) return (frame: string) => void end.send(frame);
    const queue: string[] = [];
    const { port1, port2 } = new MessageChannel();
    port2.onmessage = () => end.send(queue.shift()!);
    ports.push(port1, port2);
    return (frame: string) => {
      queue.push(frame);
      port1.postMessage(null);
    };
  };
  const toClient = send(a);
  const toServer = send(b);
  const serving = (async () => {
    for await (const line of a.frames) {
      const request = JSON.parse(line) as { params: { a: number; b: number }; id: number };
      toClient(
        `{"jsonrpc":"2.0","result":${
          JSON.stringify(request.params.a + request.params.b)
        },"id":${request.id}}`,
      );
    }
  })();
  const pending = new Map<number, (result: number) => void>();
  const reading = (async () => {
    for await (const line of b.frames) {
      const reply = JSON.parse(line) as { result: number; id: number };
      const resolve = pending.get(reply.id);
      pending.delete(reply.id);
      resolve?.(reply.result);
    }
  })();
  let lastId = 0;
  const add = (x: number, y: number): Promise<number> => {
    const id = ++lastId;
    const { promise, resolve } = Promise.withResolvers<number>();
    pending.set(id, resolve);
    toServer(JSON.stringify({ jsonrpc: "2.0", method: "add", params: { a: x, b: y }, id }));
    return promise;
  };
  return {
    async call(n: number, inFlight: number): Promise<void> {
      await closedLoop(n, inFlight, () => add(1, 2));
    },
    async close() {
      await b.close();
      await Promise.all([serving, reading]);
      for (const port of ports) port.close();
    },
  };
}

const here: Library = await import("../mod.ts");
const beforeDir = Deno.env.get("PEER_BEFORE");
const before: Library | undefined = beforeDir === undefined
  ? undefined
  : await import(new URL(`file://${beforeDir}/mod.ts`).href);
const only = Deno.env.get("PEER_CASES")?.split(",");

const cases: Record<string, CostCase> = {
  peer: pair(here, false),
  "peer-hop": pair(here, true),
  min: minimal(here, false),
  "min-hop": minimal(here, true),
  ...before && { before: pair(before, false), "before-hop": pair(before, true) },
};
for (const name of Object.keys(cases)) {
  if (only !== undefined && !only.includes(name)) {
    await cases[name]!.close();
    delete cases[name];
  }
}

await runRounds(cases, rounds, calls);
