/**
 * OpenTelemetry tracing for calls: {@linkcode clientTracing} and
 * {@linkcode serverTracing} are interceptors that make one span per call,
 * following the OpenTelemetry RPC semantic conventions, and carry W3C trace
 * context (`traceparent`, `tracestate`) in the call's metadata, so a client
 * span and the server span it caused share one trace on every wire that
 * carries metadata (JSON-RPC over TCP, WebSocket, HTTP, stdio; mushroom
 * between our peers; the AMQP mesh, where nuropb's `trace_id` is the trace
 * id too).
 *
 * - Span name `<service>/<method>` when a service is known (an AMQP target,
 *   the `service` option), else the method; kind CLIENT or SERVER.
 * - Attributes: `rpc.system` (the dialect: `jsonrpc`, `mushroom`, ...),
 *   `rpc.method`, `rpc.service`, `rpc.jsonrpc.version` and
 *   `rpc.jsonrpc.request_id` on JSON-RPC, `server.address`/`server.port`
 *   (client) or `network.peer.address`/`network.peer.port` (server) where
 *   the connection knows the other end.
 * - A failed call: status ERROR, `error.type` (the error code, or the
 *   error's name), `rpc.jsonrpc.error_code` and `rpc.jsonrpc.error_message`
 *   on JSON-RPC, and the exception recorded.
 *
 * It uses the global tracer of `@opentelemetry/api`: with Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true`) that is all the setup there is; with the
 * OpenTelemetry SDK, register a tracer provider (and a context manager, so
 * a call made inside a handler becomes a child span).
 *
 * @example One trace across a client and a server
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { trace } from "@opentelemetry/api";
 * import {
 *   BasicTracerProvider,
 *   InMemorySpanExporter,
 *   SimpleSpanProcessor,
 * } from "@opentelemetry/sdk-trace-base";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { clientTracing, serverTracing } from "@seed/rpc/otel";
 *
 * // Deno's built-in OpenTelemetry needs none of this: run with OTEL_DENO=true.
 * const exporter = new InMemorySpanExporter();
 * const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
 * trace.setGlobalTracerProvider(provider);
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: { add: ([x, y]) => x + y },
 *   interceptors: [serverTracing({ service: "calc" })],
 * });
 * const client = new Peer(b, { interceptors: [clientTracing({ service: "calc" })] });
 * assertEquals(await client.call("add", [1, 2]), 3);
 *
 * await provider.forceFlush();
 * const [serverSpan, clientSpan] = exporter.getFinishedSpans();
 * assertEquals([serverSpan!.name, clientSpan!.name], ["calc/add", "calc/add"]);
 * assertEquals(serverSpan!.spanContext().traceId, clientSpan!.spanContext().traceId);
 * assertEquals(serverSpan!.parentSpanContext?.spanId, clientSpan!.spanContext().spanId);
 * assertEquals(clientSpan!.attributes["rpc.method"], "add");
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import type { Interceptor, Invocation } from "../protocol/peer/intercept.ts";
import type { Meta } from "../protocol/wire/message.ts";

/** Options of {@linkcode clientTracing} and {@linkcode serverTracing}. */
export interface TracingOptions {
  /**
   * The name of the tracer spans come from, taken from the global tracer
   * provider (Deno's with `OTEL_DENO=true`, or the one you register).
   *
   * @default {"@seed/rpc"}
   */
  tracerName?: string;
  /**
   * `rpc.system`. Give it where the connection cannot say: `"mushroom"` on
   * mushroom sessions, `"nuropb"` on a mesh caller.
   *
   * @default {the connection's codec name (TCP, WebSocket, stdio, worker); "nuropb" for calls a mesh service serves; else "jsonrpc"}
   */
  system?: string;
  /**
   * `rpc.service` and the first half of span names. A client uses a call's
   * `to` (an AMQP target) before it; a server uses it before the service a
   * mesh call names, and never takes one from a JSON-RPC caller's meta.
   *
   * @default {none: span names are the method}
   */
  service?: string;
}

/**
 * An interceptor that traces the calls and notifications a peer makes: a
 * CLIENT span each, its context sent as `meta.traceparent` (and
 * `meta.tracestate`). Incoming calls pass untouched.
 *
 * @example Nothing is sent while no tracer provider records spans
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type CallContext, memoryPair, Peer } from "@seed/rpc";
 * import { clientTracing } from "@seed/rpc/otel";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: { seen: (_: unknown, ctx: CallContext) => Object.keys(ctx.meta) },
 * });
 * const client = new Peer(b, { interceptors: [clientTracing()] });
 * assertEquals(await client.call("seen"), []);
 * await client.close();
 * await server.closed;
 * ```
 */
export function clientTracing(options: TracingOptions = {}): Interceptor {
  const tracer = new GlobalTracer(options.tracerName ?? TRACER_NAME);
  const starts = new SpanStarts(SpanKind.CLIENT, "server");
  return (call, next) => {
    if (call.direction !== "outgoing") return next();
    const parent = context.active();
    const current = tracer.get();
    if (current === undefined) {
      // No SDK: no span; a trace this runs in still goes on (what the API's no-op tracer does).
      const spanContext = trace.getSpanContext(parent);
      if (spanContext !== undefined && isValid(spanContext)) inject(spanContext, call.meta);
      return next();
    }
    const system = systemOf(call, options);
    const start = starts.get(call, system, call.options?.to ?? options.service);
    const span = current.startSpan(start.name, start.options, parent);
    const recording = span.isRecording();
    const spanContext = span.spanContext();
    if (!recording && !isValid(spanContext)) return next();
    inject(spanContext, call.meta);
    const result = context.with(trace.setSpan(parent, span), next);
    return recording ? finish(span, system, result) : result;
  };
}

/**
 * An interceptor that traces the calls and notifications a peer serves: a
 * SERVER span each, the child of the caller's span when the call's meta
 * carries W3C trace context (or, on the mesh, a nuropb `trace_id` that is a
 * W3C trace id). The handler runs inside it, so its own calls are children.
 *
 * @example One list for a peer that calls and serves
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer } from "@seed/rpc";
 * import { tracing } from "@seed/rpc/otel";
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { handlers: { add: ([x, y]) => x + y }, interceptors: tracing() });
 * const client = new Peer(b, { interceptors: tracing() });
 * assertEquals(await client.call("add", [1, 2]), 3);
 * await client.close();
 * await server.closed;
 * ```
 *
 * @example With no SDK, a service still passes its caller's trace on
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { context } from "@opentelemetry/api";
 * import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
 * import { type CallContext, memoryPair, Peer } from "@seed/rpc";
 * import { tracing } from "@seed/rpc/otel";
 *
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * const [a, b] = memoryPair();
 * const [c, d] = memoryPair();
 * const back = new Peer(c, {
 *   handlers: { seen: (_: unknown, ctx: CallContext) => ctx.meta.traceparent },
 * });
 * const toBack = new Peer(d, { interceptors: tracing() });
 * const middle = new Peer(a, {
 *   handlers: { relay: () => toBack.call("seen") },
 *   interceptors: tracing(),
 * });
 * const client = new Peer(b);
 * const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
 * assertEquals(await client.call("relay", undefined, { meta: { traceparent } }), traceparent);
 * await client.close();
 * await toBack.close();
 * await Promise.all([middle.closed, back.closed]);
 * context.disable();
 * ```
 */
export function serverTracing(options: TracingOptions = {}): Interceptor {
  const tracer = new GlobalTracer(options.tracerName ?? TRACER_NAME);
  const starts = new SpanStarts(SpanKind.SERVER, "network.peer");
  return (call, next) => {
    if (call.direction !== "incoming") return next();
    const meta = call.meta;
    // A call's parent is its caller's span, never whatever ran the read loop.
    const parent = extract(meta);
    const current = tracer.get();
    if (current === undefined) {
      // No SDK: no span; the caller's trace, if any, goes on in the handler.
      return context.active() === parent ? next() : context.with(parent, next);
    }
    const system = systemOf(call, options);
    // The server names its spans: only a mesh call's meta.service (the queue it came on) is used.
    const service = options.service ??
      (meta.nuropbType !== undefined && typeof meta.service === "string"
        ? meta.service
        : undefined);
    const start = starts.get(call, system, service);
    const span = current.startSpan(start.name, start.options, parent);
    if (!span.isRecording()) {
      // Sampled out: nothing to add or end, but the trace goes on.
      const inner = isValid(span.spanContext()) ? trace.setSpan(parent, span) : parent;
      return context.active() === inner ? next() : context.with(inner, next);
    }
    const id = call.context?.id;
    if (system === "jsonrpc" && id !== undefined && id !== null) {
      span.setAttribute("rpc.jsonrpc.request_id", String(id));
    }
    // The parent context holds only the caller's span: ours replaces it.
    return finish(span, system, context.with(trace.setSpan(ROOT_CONTEXT, span), next));
  };
}

/**
 * Both directions in one interceptor (client spans for the calls a peer
 * makes, server spans for those it serves): give the list to a peer that
 * calls and serves.
 */
export function tracing(options: TracingOptions = {}): Interceptor[] {
  const client = clientTracing(options);
  const server = serverTracing(options);
  return [(call, next) => call.direction === "outgoing" ? client(call, next) : server(call, next)];
}

const TRACER_NAME = "@seed/rpc";
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const INVALID_TRACE = "00000000000000000000000000000000";
const INVALID_SPAN = "0000000000000000";
const MAX_CACHED_METHODS = 256;

function spanName(method: string, service: string | undefined): string {
  return service === undefined ? method : `${service}/${method}`;
}

/**
 * The global tracer of a name, or undefined while no SDK is registered: the
 * API's no-op tracer, known without making a span. Like the API's own
 * proxy, it keeps the SDK's tracer once there is one.
 */
class GlobalTracer {
  readonly #name: string;
  #tracer: Tracer | undefined;
  readonly #proxy: ProxyTracerProvider | undefined;

  constructor(name: string) {
    this.#name = name;
    const provider = trace.getTracerProvider();
    if (provider instanceof ProxyTracerProvider) this.#proxy = provider;
    else this.#tracer = provider.getTracer(name);
  }

  get(): Tracer | undefined {
    return this.#tracer ??= this.#proxy?.getDelegateTracer(this.#name);
  }
}

/** A valid span context; the no-op tracer's is known at a glance. */
function isValid(spanContext: SpanContext): boolean {
  return spanContext !== INVALID_SPAN_CONTEXT && trace.isSpanContextValid(spanContext);
}

/** What a span starts with: its name, and options that every such span shares. */
interface SpanStart {
  readonly system: string;
  readonly service: string | undefined;
  readonly remote: string | undefined;
  readonly name: string;
  /** Shared by every span of this method: tracers copy the attributes, never keep them. */
  readonly options: SpanOptions;
}

/** Span starts made once per connection and method, not per call (at most 256 methods). */
class SpanStarts {
  readonly #kind: SpanKind;
  readonly #addressPrefix: string;
  readonly #byChannel = new WeakMap<object, Map<string, SpanStart>>();

  constructor(kind: SpanKind, addressPrefix: string) {
    this.#kind = kind;
    this.#addressPrefix = addressPrefix;
  }

  get(call: Invocation, system: string, service: string | undefined): SpanStart {
    const channel = call.peer.channel;
    const remote = channel.remote;
    let starts = this.#byChannel.get(channel);
    if (starts === undefined) this.#byChannel.set(channel, starts = new Map());
    const hit = starts.get(call.method);
    if (
      hit !== undefined && hit.system === system && hit.service === service && hit.remote === remote
    ) {
      return hit;
    }
    // Method names come from the other side: a connection caches a bounded number.
    if (starts.size >= MAX_CACHED_METHODS) starts.clear();
    const attributes = baseAttributes(call.method, system, service);
    addAddress(attributes, remote, this.#addressPrefix);
    const start: SpanStart = {
      system,
      service,
      remote,
      name: spanName(call.method, service),
      options: { kind: this.#kind, attributes },
    };
    starts.set(call.method, start);
    return start;
  }
}

function systemOf(call: Invocation, options: TracingOptions): string {
  if (options.system !== undefined) return options.system;
  const codec = (call.peer.channel as { codec?: { name?: unknown } }).codec;
  if (typeof codec?.name === "string") return codec.name;
  // Calls served on the mesh say so in their meta.
  return call.direction === "incoming" && call.meta.nuropbType !== undefined ? "nuropb" : "jsonrpc";
}

function baseAttributes(method: string, system: string, service: string | undefined): Attributes {
  const attributes: Attributes = { "rpc.system": system, "rpc.method": method };
  if (service !== undefined) attributes["rpc.service"] = service;
  if (system === "jsonrpc") attributes["rpc.jsonrpc.version"] = "2.0";
  return attributes;
}

/** `host:port`, `[v6]:port` or a URL as `<prefix>.address` and `<prefix>.port`. */
function addAddress(attributes: Attributes, remote: string | undefined, prefix: string): void {
  if (remote === undefined) return;
  if (remote.includes("://")) {
    const url = URL.parse(remote);
    if (url === null || url.hostname === "") return;
    attributes[`${prefix}.address`] = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (url.port !== "") attributes[`${prefix}.port`] = Number(url.port);
    return;
  }
  const at = remote.lastIndexOf(":");
  const port = at > 0 ? Number(remote.slice(at + 1)) : NaN;
  if (!Number.isInteger(port)) {
    attributes[`${prefix}.address`] = remote;
    return;
  }
  const host = remote.slice(0, at);
  attributes[`${prefix}.address`] = host.startsWith("[") ? host.slice(1, -1) : host;
  attributes[`${prefix}.port`] = port;
}

/** Writes the span's context into `meta`, W3C style. */
function inject(spanContext: SpanContext, meta: Meta): void {
  const traceFlags = spanContext.traceFlags & 0xff;
  const flags = traceFlags === 1 ? "01" : traceFlags.toString(16).padStart(2, "0");
  meta.traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const state = spanContext.traceState?.serialize();
  if (state) meta.tracestate = state;
}

/**
 * The caller's span context from `meta`: `traceparent`, or a nuropb
 * `traceId` that is a W3C trace id (the span id is then made up: nuropb
 * carries none). A root context when there is neither.
 */
function extract(meta: Meta): Context {
  const header = meta.traceparent;
  let spanContext: SpanContext | undefined;
  if (typeof header === "string" && TRACEPARENT.test(header)) {
    spanContext = {
      traceId: header.slice(3, 35),
      spanId: header.slice(36, 52),
      traceFlags: parseInt(header.slice(53), 16) & TraceFlags.SAMPLED,
      isRemote: true,
    };
    if (typeof meta.tracestate === "string") {
      spanContext.traceState = createTraceState(meta.tracestate);
    }
  } else if (
    typeof meta.traceId === "string" && TRACE_ID.test(meta.traceId) &&
    meta.traceId !== INVALID_TRACE
  ) {
    spanContext = {
      traceId: meta.traceId,
      spanId: randomSpanId(),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    };
  }
  // The patterns checked the form; the all-zero ids are the invalid ones.
  if (
    spanContext === undefined || spanContext.traceId === INVALID_TRACE ||
    spanContext.spanId === INVALID_SPAN
  ) {
    return ROOT_CONTEXT;
  }
  return trace.setSpanContext(ROOT_CONTEXT, spanContext);
}

function randomSpanId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Ends `span` when `result` settles, with the error recorded when it fails. */
async function finish(span: Span, system: string, result: Promise<unknown>): Promise<unknown> {
  try {
    return await result;
  } catch (error) {
    fail(span, system, error);
    throw error;
  } finally {
    span.end();
  }
}

function fail(span: Span, system: string, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  const numeric = typeof code === "number" && Number.isInteger(code);
  const message = error instanceof Error ? error.message : String(error);
  const attributes: Attributes = {
    "error.type": numeric ? String(code) : error instanceof Error ? error.name : "Error",
  };
  if (numeric && system === "jsonrpc") {
    attributes["rpc.jsonrpc.error_code"] = code;
    attributes["rpc.jsonrpc.error_message"] = message;
  }
  span.setAttributes(attributes);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
