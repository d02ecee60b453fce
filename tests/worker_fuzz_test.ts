// The worker fuzz target, replayed: the first cases of `deno task fuzz worker`
// (seeded, so the same hostile structured-clone values every run) against a
// Peer in a real Deno worker. Cloned values (Maps, BigInts, typed arrays)
// have no JSON form, so the corpus of this wire is its seeds.

import { assertEquals } from "@std/assert";
import { fuzzWorker } from "../fuzz/worker.ts";

for (const seed of [1, 2, 3]) {
  Deno.test(`fuzz worker, seed ${seed}: 2000 hostile values, then a fresh call is answered`, async () => {
    const counts = await fuzzWorker(seed, 2000);
    assertEquals([counts.frames, counts.cases, counts.crashes], [2000, 10, 0]);
  });
}
