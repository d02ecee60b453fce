// Worker cases: `add` to a Deno worker through our Peer over
// `@seed/rpc/worker`, against a hand-written postMessage request/response
// (ids in a Map, a bare `onmessage` responder), 1 and 100 in flight. The two
// alternate for BENCH_ROUNDS rounds (default 3; each goes first every other
// round) so that both see the same machine; ours reports the median ratio
// and its spread (min, max) over the rounds.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/worker.ts";
import { type BenchResult, measure } from "./_measure.ts";

const SCRIPT = new URL("./_worker_add.ts", import.meta.url).href;

/** The hand-written client: one listener, pending calls by id. */
class PostMessageClient {
  #worker = new Worker(SCRIPT, { type: "module" });
  #pending = new Map<number, (result: unknown) => void>();
  #next = 0;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<{ id: number; result: unknown }>) => {
      const { id, result } = event.data;
      const resolve = this.#pending.get(id);
      this.#pending.delete(id);
      resolve?.(result);
    };
  }

  add(a: number, b: number): Promise<unknown> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ jsonrpc: "2.0", method: "add", params: { a, b }, id });
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

export async function workerCases(): Promise<BenchResult[]> {
  const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const base: BenchResult[] = [];
    const ours: BenchResult[] = [];
    for (let round = 0; round < rounds; round++) {
      // Each goes first in every other round, so neither always meets a cold machine.
      if (round % 2 === 0) {
        base.push(await measureBaseline(inFlight));
        ours.push(await measureOurs(inFlight));
      } else {
        ours.push(await measureOurs(inFlight));
        base.push(await measureBaseline(inFlight));
      }
    }
    const ratios = ours.map((r, i) => r.calls_per_s / base[i]!.calls_per_s).sort((a, b) => a - b);
    const baseline = median(base);
    const result = median(ours);
    result.ratio_to_postmessage = round2(ratios[Math.floor(ratios.length / 2)]!);
    result.ratio_spread = [round2(ratios[0]!), round2(ratios[ratios.length - 1]!)];
    result.rounds = rounds;
    results.push(baseline, result);
  }
  return results;
}

async function measureBaseline(inFlight: number): Promise<BenchResult> {
  const raw = new PostMessageClient();
  await raw.add(1, 2); // the worker has loaded
  const name = `worker hand-written postMessage add, ${inFlight} in flight`;
  const result = await measure(name, () => raw.add(1, 2), { inFlight });
  raw.close();
  return result;
}

async function measureOurs(inFlight: number): Promise<BenchResult> {
  const worker = new Worker(`${SCRIPT}?ours`, { type: "module" });
  const client = new Peer(connect(worker), { logger: silentLogger });
  const params = { a: 1, b: 2 };
  await client.call("add", params); // the worker has loaded
  const name = `worker jsonrpc add, ${inFlight} in flight`;
  const result = await measure(name, () => client.call("add", params), { inFlight });
  await client.close();
  return result;
}

/** The round with the median throughput. */
function median(results: BenchResult[]): BenchResult {
  const sorted = [...results].sort((a, b) => a.calls_per_s - b.calls_per_s);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

if (import.meta.main) {
  for (const result of await workerCases()) console.log(JSON.stringify(result));
}
