// `deno task bench [filter]`: one JSON line per case on stdout:
//   {"bench": "...", "calls_per_s": N, "p50_us": N, "p99_us": N, ...}
// Each case runs for BENCH_MS milliseconds (default 2000) after a warm-up.
// A filter keeps only the cases whose group name contains it (memory, tcp).

import { report } from "./_measure.ts";
import { memoryCases } from "./memory.ts";
import { tcpCases } from "./tcp.ts";

const groups: Record<string, () => Promise<{ bench: string }[]>> = {
  memory: memoryCases,
  tcp: tcpCases,
};

const filter = Deno.args[0] ?? "";
for (const [name, run] of Object.entries(groups)) {
  if (!name.includes(filter)) continue;
  for (const result of await run()) report(result as Parameters<typeof report>[0]);
}
