// @seed/rpc/otel with the OpenTelemetry SDK's in-memory exporter: one trace
// across a client span and a server span over TCP, WebSocket and mushroom;
// a call made inside a handler is a child span; a failure sets the status
// and the code.

import { assert, assertEquals, assertRejects } from "@std/assert";
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { type CallContext, Peer, RemoteError, RpcError, Server } from "../mod.ts";
import { clientTracing, serverTracing, type TracingOptions } from "../transports/otel.ts";
import { connect as connectTcp, listen as listenTcp } from "../transports/tcp.ts";
import { connect as connectWs } from "../transports/websocket.ts";
import { listen as listenWs } from "../transports/websocket_server.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import { listen as listenMushroom } from "../transports/mushroom_server.ts";
import { recordingLogger, test, waitFor } from "./_helpers.ts";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

/** The finished spans, once there are `count`, oldest first. */
async function spans(count: number): Promise<ReadableSpan[]> {
  await waitFor(() => exporter.getFinishedSpans().length >= count, {
    message: `${count} finished spans`,
  });
  // The exporter settles each export on a timer: wait for them, so no test leaves one behind.
  await provider.forceFlush();
  const out = exporter.getFinishedSpans();
  exporter.reset();
  return out;
}

function one(list: ReadableSpan[], kind: SpanKind, name: string): ReadableSpan {
  const found = list.filter((span) => span.kind === kind && span.name === name);
  assertEquals(found.length, 1, `one ${SpanKind[kind]} span ${name}`);
  return found[0]!;
}

/** The client span's trace continues on the server: same trace id, parent = client span. */
function assertParent(child: ReadableSpan, parent: ReadableSpan): void {
  assertEquals(child.spanContext().traceId, parent.spanContext().traceId);
  assertEquals(child.parentSpanContext?.spanId, parent.spanContext().spanId);
}

interface Wire {
  name: string;
  options: TracingOptions;
  serve(server: Server): Server;
  connect(addr: string): Promise<ConstructorParameters<typeof Peer>[0]>;
  system: string;
}

const logger = recordingLogger();
const WIRES: Wire[] = [
  {
    name: "TCP",
    options: {},
    serve: (server) => server.serve(listenTcp("tcp://127.0.0.1:0")),
    connect: (addr) => connectTcp(addr),
    system: "jsonrpc",
  },
  {
    name: "WebSocket",
    options: {},
    serve: (server) => server.serve(listenWs("ws://127.0.0.1:0/rpc")),
    connect: (addr) => connectWs(addr),
    system: "jsonrpc",
  },
  {
    name: "mushroom",
    options: { system: "mushroom" },
    serve: (server) => server.serve(listenMushroom("http://127.0.0.1:0/m/", { logger })),
    connect: (addr) => connectMushroom(addr, { logger }),
    system: "mushroom",
  },
];

for (const wire of WIRES) {
  test(`otel over ${wire.name}: one trace id across the client span and the server span`, async () => {
    exporter.reset();
    const server = wire.serve(
      new Server({
        logger,
        handlers: { add: ([a, b]: number[]) => a + b },
        peer: { interceptors: [serverTracing(wire.options)] },
      }),
    );
    const client = new Peer(await wire.connect(server.addr), {
      interceptors: [clientTracing(wire.options)],
    });
    assertEquals(await client.call("add", [1, 2]), 3);
    const done = await spans(2);
    const clientSpan = one(done, SpanKind.CLIENT, "add");
    const serverSpan = one(done, SpanKind.SERVER, "add");
    assertParent(serverSpan, clientSpan);
    for (const span of [clientSpan, serverSpan]) {
      assertEquals(span.attributes["rpc.system"], wire.system);
      assertEquals(span.attributes["rpc.method"], "add");
      assertEquals(span.status.code, SpanStatusCode.UNSET);
    }
    if (wire.name !== "mushroom") {
      assertEquals(clientSpan.attributes["server.address"], "127.0.0.1");
      assert(typeof clientSpan.attributes["server.port"] === "number");
      assertEquals(serverSpan.attributes["network.peer.address"], "127.0.0.1");
      assertEquals(serverSpan.attributes["rpc.jsonrpc.version"], "2.0");
      assertEquals(serverSpan.attributes["rpc.jsonrpc.request_id"], "1");
    }
    await client.close();
    await server.shutdown();
  });
}

test("otel: a call made inside a handler is a child of the server span", async () => {
  exporter.reset();
  const back = new Server({
    logger,
    handlers: { double: ([n]: number[]) => n * 2 },
    peer: { interceptors: [serverTracing({ service: "back" })] },
  }).serve(listenTcp("tcp://127.0.0.1:0"));
  const toBack = new Peer(await connectTcp(back.addr), {
    interceptors: [clientTracing({ service: "back" })],
  });
  const front = new Server({
    logger,
    handlers: {
      quadruple: async ([n]: number[]) => await toBack.call<number>("double", [n]) * 2,
    },
    peer: { interceptors: [serverTracing({ service: "front" })] },
  }).serve(listenTcp("tcp://127.0.0.1:0"));
  const client = new Peer(await connectTcp(front.addr), {
    interceptors: [clientTracing({ service: "front" })],
  });
  // The test's own span is the root: the client span is its child.
  const tracer = trace.getTracer("test");
  const result = await tracer.startActiveSpan("test", async (root: Span) => {
    try {
      return await client.call("quadruple", [3]);
    } finally {
      root.end();
    }
  });
  assertEquals(result, 12);
  const done = await spans(5);
  const root = one(done, SpanKind.INTERNAL, "test");
  const first = one(done, SpanKind.CLIENT, "front/quadruple");
  const served = one(done, SpanKind.SERVER, "front/quadruple");
  const nested = one(done, SpanKind.CLIENT, "back/double");
  const deepest = one(done, SpanKind.SERVER, "back/double");
  assertParent(first, root);
  assertParent(served, first);
  assertParent(nested, served);
  assertParent(deepest, nested);
  assertEquals(deepest.attributes["rpc.service"], "back");
  await client.close();
  await toBack.close();
  await front.shutdown();
  await back.shutdown();
});

test("otel: a failed call sets status ERROR and the JSON-RPC error code on both spans", async () => {
  exporter.reset();
  const server = new Server({
    logger,
    handlers: {
      refuse: () => {
        throw new RpcError(-32001, "Unauthorized");
      },
    },
    peer: { interceptors: [serverTracing()] },
  }).serve(listenTcp("tcp://127.0.0.1:0"));
  const client = new Peer(await connectTcp(server.addr), { interceptors: [clientTracing()] });
  const error = await assertRejects(() => client.call("refuse"), RemoteError);
  assertEquals(error.code, -32001);
  const done = await spans(2);
  for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
    const span = one(done, kind, "refuse");
    assertEquals(span.status.code, SpanStatusCode.ERROR);
    assertEquals(span.status.message, "Unauthorized");
    assertEquals(span.attributes["rpc.jsonrpc.error_code"], -32001);
    assertEquals(span.attributes["error.type"], "-32001");
    assertEquals(span.events.map((event) => event.name), ["exception"]);
  }
  await client.close();
  await server.shutdown();
});

test("otel: a notification gets a span too, and a server span without a caller's is a root", async () => {
  exporter.reset();
  let heard: unknown;
  const server = new Server({
    logger,
    handlers: { note: (_params: unknown, ctx: CallContext) => (heard = ctx.meta.traceparent) },
    peer: { interceptors: [serverTracing()] },
  }).serve(listenTcp("tcp://127.0.0.1:0"));
  const traced = new Peer(await connectTcp(server.addr), { interceptors: [clientTracing()] });
  await traced.notify("note", ["x"]);
  const pair = await spans(2);
  assertParent(one(pair, SpanKind.SERVER, "note"), one(pair, SpanKind.CLIENT, "note"));
  assert(typeof heard === "string" && heard.startsWith("00-"));
  const plain = new Peer(await connectTcp(server.addr));
  await plain.notify("note", ["y"]);
  const [alone] = await spans(1);
  assertEquals(alone!.kind, SpanKind.SERVER);
  assertEquals(alone!.parentSpanContext, undefined);
  await traced.close();
  await plain.close();
  await server.shutdown();
});
