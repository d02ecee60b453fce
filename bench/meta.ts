// Meta and tracing cases: JSON-RPC `add` over TCP, client here and server in
// its own process (this file, run with a MODE), 1 and 100 in flight. Each is
// reported as ratio_to_plain, plain measured in the same run:
//   plain             no meta, no interceptors (the baseline)
//   meta              a small `meta` on every call
//   pass-through      one interceptor that only calls next() on each side (the machinery)
//   tracing off       tracing() on both sides, no OpenTelemetry SDK (the API's no-op)
//   tracing on        tracing() on both sides, a BasicTracerProvider with a
//                     BatchSpanProcessor and an exporter that drops spans
//   tracing on + ALS  the same with the AsyncLocalStorage context manager
//   span floor        no interceptors: the client and the handler each call
//                     tracer.startSpan/end per call by hand (what the SDK alone costs)
// The tracing-on cases also report ratio_to_span_floor, and the floor
// sdk_span_us: one startSpan + end with that SDK, in this process. The
// machine is shared, so each case also reports cpu_us_per_call (client and
// server processes together) and cpu_ratio_to_plain (plain's CPU per call
// over the case's): steadier than calls/s when other work takes the CPUs.
//   deno run --allow-net=127.0.0.1 --allow-env bench/meta.ts MODE   (the server)

import process from "node:process";
import { context, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { type Interceptor, Peer, Server, silentLogger } from "../mod.ts";
import { connect, listen } from "../transports/tcp.ts";
import { tracing } from "../transports/otel.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { ratio } from "./_server_process.ts";

/** The SDK setups a case runs with, on both sides. */
type Sdk = "none" | "sdk" | "sdk+als";

/** Drops every span at once: the SDK's work without an exporter's. */
const dropExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

function tracerProvider(): BasicTracerProvider {
  return new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropExporter)] });
}

const passThrough: Interceptor = (_call, next) => next();

interface Case {
  name: string;
  /** The server's MODE and what the client does alike. */
  mode: "plain" | "pass-through" | "tracing" | "floor";
  sdk: Sdk;
  meta?: boolean;
}

const CASES: Case[] = [
  { name: "plain", mode: "plain", sdk: "none" },
  { name: "meta", mode: "plain", sdk: "none", meta: true },
  { name: "pass-through interceptors", mode: "pass-through", sdk: "none" },
  { name: "tracing off (no SDK)", mode: "tracing", sdk: "none" },
  { name: "tracing on (SDK, batch, dropping exporter)", mode: "tracing", sdk: "sdk" },
  { name: "tracing on + AsyncLocalStorage context", mode: "tracing", sdk: "sdk+als" },
  { name: "span floor (startSpan/end by hand)", mode: "floor", sdk: "sdk" },
];

/** The interceptors a side of `mode` gets. */
function interceptorsOf(mode: Case["mode"]): Interceptor[] | undefined {
  if (mode === "pass-through") return [passThrough];
  if (mode === "tracing") return tracing();
  return undefined;
}

/**
 * One span started and ended, in microseconds, once warm. In batches the
 * processor's export keeps up with: a full queue would only count drops.
 */
async function spanMicros(tracer: Tracer): Promise<number> {
  const batches = 40;
  const batch = 500;
  let elapsed = 0;
  for (let b = 0; b < 3 * batches; b++) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) tracer.startSpan("add").end();
    if (b >= 2 * batches) elapsed += performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return Math.round(elapsed / (batches * batch) * 1000 * 100) / 100;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** CPU time this process and the server of `client` used so far, in microseconds. */
async function cpuMicros(client: Peer): Promise<number> {
  const ours = process.cpuUsage();
  return ours.user + ours.system + (await client.call("cpu") as number);
}

function cpuOf(result: BenchResult): number {
  return result.cpu_us_per_call as number;
}

/** Like a throughput ratio: the base's CPU per call over ours (below 1: we cost more). */
function cpuRatio(ours: BenchResult, base: BenchResult): number {
  return Math.round(cpuOf(base) / cpuOf(ours) * 100) / 100;
}

/** A case's server process and its client, made once and measured round after round. */
interface Running {
  case: Case;
  server: MetaServer;
  client: Peer;
  call: () => Promise<unknown>;
}

/**
 * Every case over TCP, 1 and 100 in flight. The machine is shared, so the
 * cases take turns: BENCH_ROUNDS rounds (default 5) of BENCH_MS / rounds
 * each, and each ratio is the median of the ratios within a round.
 */
export async function metaCases(): Promise<BenchResult[]> {
  const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 5);
  const slice = Number(Deno.env.get("BENCH_MS") ?? 2000) / rounds;
  const provider = tracerProvider();
  let registered = false;
  const running: Running[] = [];
  const params = { a: 1, b: 2 };
  for (const c of CASES) {
    const server = await startMetaServer(c.mode, c.sdk);
    if (c.sdk !== "none" && !registered) {
      // The cases without the SDK got their tracers from a proxy that this orphans: they stay no-ops.
      trace.disable();
      registered = trace.setGlobalTracerProvider(provider);
    }
    const client = new Peer(await connect(`tcp://127.0.0.1:${server.port}`), {
      logger: silentLogger,
      interceptors: interceptorsOf(c.mode),
    });
    const options = c.meta ? { meta: { tenant: "acme", user: "u-42" } } : undefined;
    const tracer = provider.getTracer("bench");
    const call = c.mode === "floor"
      ? async () => {
        const span = tracer.startSpan("add");
        try {
          return await client.call("add", params);
        } finally {
          span.end();
        }
      }
      : () => client.call("add", params, options);
    running.push({ case: c, server, client, call });
  }
  const sdkSpanUs = await spanMicros(provider.getTracer("bench"));

  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    const perCase = running.map(() => [] as BenchResult[]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, r] of running.entries()) {
        const manager = r.case.sdk === "sdk+als"
          ? new AsyncLocalStorageContextManager().enable()
          : undefined;
        if (manager !== undefined) context.setGlobalContextManager(manager);
        const name = `tcp ${r.case.name}, ${inFlight} in flight`;
        await measure(name, r.call, { inFlight, durationMs: slice / 4, warmupMs: 0 });
        const cpu = await cpuMicros(r.client);
        const result = await measure(name, r.call, { inFlight, durationMs: slice, warmupMs: 0 });
        // Its own warm-up made one call per worker.
        result.cpu_us_per_call = (await cpuMicros(r.client) - cpu) / (result.calls + inFlight);
        perCase[i]!.push(result);
        if (manager !== undefined) context.disable();
      }
    }
    const plain = perCase[0]!;
    const floor = perCase[running.findIndex((r) => r.case.mode === "floor")]!;
    for (const [i, r] of running.entries()) {
      const list = perCase[i]!;
      const result: BenchResult = {
        bench: list[0]!.bench,
        calls_per_s: median(list.map((m) => m.calls_per_s)),
        p50_us: median(list.map((m) => m.p50_us)),
        p99_us: median(list.map((m) => m.p99_us)),
        calls: list.reduce((sum, m) => sum + m.calls, 0),
        rounds,
        cpu_us_per_call: Math.round(median(list.map(cpuOf)) * 10) / 10,
      };
      if (i > 0) {
        result.ratio_to_plain = median(list.map((m, k) => ratio(m, plain[k]!)));
        result.cpu_ratio_to_plain = median(list.map((m, k) => cpuRatio(m, plain[k]!)));
      }
      if (r.case.mode === "floor") result.sdk_span_us = sdkSpanUs;
      else if (r.case.sdk !== "none") {
        result.ratio_to_span_floor = median(list.map((m, k) => ratio(m, floor[k]!)));
        result.cpu_ratio_to_span_floor = median(list.map((m, k) => cpuRatio(m, floor[k]!)));
      }
      results.push(result);
    }
  }
  for (const r of running) {
    await r.client.close();
    await r.server.stop();
  }
  await provider.shutdown();
  trace.disable();
  return results;
}

interface MetaServer {
  port: number;
  stop(): Promise<void>;
}

/** Runs this file as the server of `mode` with `sdk`, in its own process. */
async function startMetaServer(mode: string, sdk: Sdk): Promise<MetaServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      new URL(import.meta.url).pathname,
      mode,
      sdk,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the meta benchmark server exited before printing its port");
    text += decoder.decode(value, { stream: true });
  }
  return {
    port: Number(text.trim()),
    stop: async () => {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}

if (import.meta.main) {
  const mode = (Deno.args[0] ?? "plain") as Case["mode"];
  const sdk = (Deno.args[1] ?? "none") as Sdk;
  const provider = sdk === "none" ? undefined : tracerProvider();
  if (provider !== undefined) trace.setGlobalTracerProvider(provider);
  if (sdk === "sdk+als") {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  const tracer = trace.getTracer("bench");
  const cpu = () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  const handlers = mode === "floor"
    ? {
      cpu,
      add: (p: { a: number; b: number }) => {
        const span = tracer.startSpan("add");
        try {
          return p.a + p.b;
        } finally {
          span.end();
        }
      },
    }
    : { cpu, add: (p: { a: number; b: number }) => p.a + p.b };
  const listener = listen("tcp://127.0.0.1:0");
  console.log(new URL(listener.addr).port);
  const server = new Server({
    logger: silentLogger,
    handlers,
    peer: { interceptors: interceptorsOf(mode) },
  }).serve(listener);
  // Serve until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  await server.close();
  await provider?.shutdown();
  Deno.exit(0);
}
