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
// The span floor and tracing-on cases also report ratio_to_span_floor, and
// sdk_span_us: one startSpan + end with that SDK setup, in this process.
//   deno run --allow-net=127.0.0.1 --allow-env bench/meta.ts MODE   (the server)

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

/** Registers the SDK setup globally; returns the undo. */
function register(sdk: Sdk): () => Promise<void> {
  if (sdk === "none") return () => Promise.resolve();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropExporter)],
  });
  trace.setGlobalTracerProvider(provider);
  const manager = sdk === "sdk+als" ? new AsyncLocalStorageContextManager().enable() : undefined;
  if (manager !== undefined) context.setGlobalContextManager(manager);
  return async () => {
    await provider.shutdown();
    trace.disable();
    if (manager !== undefined) context.disable();
  };
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

/** One span started and ended, in microseconds, with the setup registered now. */
function spanMicros(tracer: Tracer): number {
  const count = 20_000;
  const started = performance.now();
  for (let i = 0; i < count; i++) tracer.startSpan("add").end();
  return Math.round((performance.now() - started) / count * 1000 * 100) / 100;
}

export async function metaCases(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const inFlight of [1, 100]) {
    let plain: BenchResult | undefined;
    const floors = new Map<Sdk, BenchResult>();
    const traced: BenchResult[] = [];
    for (const c of CASES) {
      const server = await startMetaServer(c.mode, c.sdk);
      const unregister = register(c.sdk);
      const client = new Peer(await connect(`tcp://127.0.0.1:${server.port}`), {
        logger: silentLogger,
        interceptors: interceptorsOf(c.mode),
      });
      const params = { a: 1, b: 2 };
      const options = c.meta ? { meta: { tenant: "acme", user: "u-42" } } : undefined;
      const tracer = trace.getTracer("bench");
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
      const result = await measure(`tcp ${c.name}, ${inFlight} in flight`, call, { inFlight });
      if (c.sdk !== "none") result.sdk_span_us = spanMicros(tracer);
      await client.close();
      await unregister();
      await server.stop();
      if (plain === undefined) plain = result;
      else result.ratio_to_plain = ratio(result, plain);
      if (c.mode === "floor") floors.set(c.sdk, result);
      else if (c.sdk !== "none") traced.push(result);
      results.push(result);
    }
    const floor = floors.get("sdk");
    if (floor !== undefined) {
      for (const result of traced) result.ratio_to_span_floor = ratio(result, floor);
    }
  }
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
  const unregister = register((Deno.args[1] ?? "none") as Sdk);
  const tracer = trace.getTracer("bench");
  const handlers = mode === "floor"
    ? {
      add: (p: { a: number; b: number }) => {
        const span = tracer.startSpan("add");
        try {
          return p.a + p.b;
        } finally {
          span.end();
        }
      },
    }
    : { add: (p: { a: number; b: number }) => p.a + p.b };
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
  await unregister();
  Deno.exit(0);
}
