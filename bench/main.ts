// `deno task bench [filter]`: one JSON line per case on stdout:
//   {"bench": "...", "calls_per_s": N, "p50_us": N, "p99_us": N, ...}
// Each case runs for BENCH_MS milliseconds (default 2000) after a warm-up, or
// BENCH_CALLS calls after BENCH_CALLS/4 of warm-up (where a client process measures).
// A filter keeps only the cases whose group name contains it (memory, tcp,
// websocket, mushroom, choria, amqp, unix, stdio, worker, http, stream, meta: the
// cost of per-call meta and tracing). The amqp group needs RabbitMQ
// ($AMQP_URL, or Debian's rabbitmq-server for a private node).
// tcp and unix run each client and server in a fresh process of its own,
// pinned to separate CPUs with taskset where it exists (BENCH_PIN=0: not),
// BENCH_RUNS times (default 3) interleaved: medians, spread, peak RSS.

import { memoryCases } from "./memory.ts";
import { tcpCases } from "./tcp.ts";
import { websocketCases } from "./websocket.ts";
import { choriaCases } from "./choria.ts";
import { mushroomCases } from "./mushroom.ts";
import { amqpCases } from "./amqp.ts";
import { unixCases } from "./unix.ts";
import { stdioCases } from "./stdio.ts";
import { workerCases } from "./worker.ts";
import { httpCases } from "./http.ts";
import { streamCases } from "./stream.ts";
import { metaCases } from "./meta.ts";

const groups: Record<string, () => Promise<Record<string, unknown>[]>> = {
  memory: memoryCases as () => Promise<Record<string, unknown>[]>,
  tcp: tcpCases as () => Promise<Record<string, unknown>[]>,
  websocket: websocketCases as () => Promise<Record<string, unknown>[]>,
  mushroom: mushroomCases as () => Promise<Record<string, unknown>[]>,
  choria: choriaCases,
  amqp: amqpCases,
  unix: unixCases as () => Promise<Record<string, unknown>[]>,
  stdio: stdioCases as () => Promise<Record<string, unknown>[]>,
  worker: workerCases as () => Promise<Record<string, unknown>[]>,
  http: httpCases as () => Promise<Record<string, unknown>[]>,
  stream: streamCases as () => Promise<Record<string, unknown>[]>,
  meta: metaCases as () => Promise<Record<string, unknown>[]>,
};

const filter = Deno.args[0] ?? "";
for (const [name, run] of Object.entries(groups)) {
  if (!name.includes(filter)) continue;
  for (const result of await run()) console.log(JSON.stringify(result));
}
