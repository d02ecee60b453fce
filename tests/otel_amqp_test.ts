// @seed/rpc/otel on the nuropb mesh (a private RabbitMQ): one trace across
// the caller's span and the service's span, carried as W3C headers beside
// nuropb's trace_id (which is the trace id); a Python-style caller that
// sends only a trace_id still joins its trace.

import { assertEquals } from "./_assert.ts";
import { amqpTest, freshMesh, rawPublisher, stopBrokerAfterAll } from "./_amqp.ts";
import { recordingLogger, waitFor, within } from "./_helpers.ts";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { CallContext } from "../mod.ts";
import { connectMesh, encodeNuropbRequest } from "../transports/amqp.ts";
import { clientTracing, serverTracing } from "../transports/otel.ts";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

async function spans(count: number): Promise<ReadableSpan[]> {
  await waitFor(() => exporter.getFinishedSpans().length >= count, {
    message: `${count} finished spans`,
  });
  await provider.forceFlush();
  const out = exporter.getFinishedSpans();
  exporter.reset();
  return out;
}

amqpTest("otel on the mesh: one trace id across the caller's span and the service's", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger, instanceId: "svc1" });
  const seen: unknown[] = [];
  await server.serve("calc", {
    add: ({ a, b }, ctx: CallContext) => {
      seen.push(ctx.meta.traceId, ctx.meta.traceparent);
      return a + b;
    },
  }, { interceptors: [serverTracing()] });
  const client = await connectMesh(url, {
    logger,
    instanceId: "cli1",
    timeout: 5_000,
    interceptors: [clientTracing({ system: "nuropb" })],
  });
  try {
    assertEquals(await client.request("calc", "add", { a: 2, b: 3 }), 5);
    const done = await spans(2);
    const caller = done.find((span) => span.kind === SpanKind.CLIENT)!;
    const service = done.find((span) => span.kind === SpanKind.SERVER)!;
    assertEquals([caller.name, service.name], ["calc/add", "calc/add"]);
    assertEquals(service.spanContext().traceId, caller.spanContext().traceId);
    assertEquals(service.parentSpanContext?.spanId, caller.spanContext().spanId);
    assertEquals(service.attributes["rpc.system"], "nuropb");
    assertEquals(caller.attributes["rpc.system"], "nuropb");
    // nuropb's own trace_id is the W3C trace id.
    assertEquals(seen[0], caller.spanContext().traceId);
    assertEquals(
      seen[1],
      `00-${caller.spanContext().traceId}-${caller.spanContext().spanId}-01`,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

amqpTest("otel on the mesh: a request with only nuropb's trace_id joins that trace", async () => {
  const url = await freshMesh();
  const logger = recordingLogger();
  const server = await connectMesh(url, { logger, instanceId: "svc1" });
  const client = await connectMesh(url, { logger, instanceId: "cli1", timeout: 5_000 });
  const served = Promise.withResolvers<void>();
  await server.serve("calc", { ping: () => served.resolve() }, {
    interceptors: [serverTracing()],
  });
  const publisher = await rawPublisher(url);
  try {
    // As nuropb's Python client sends it: a uuid4 hex trace_id, no W3C headers.
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const wire = encodeNuropbRequest({
      type: "command",
      service: "calc",
      method: "ping",
      params: {},
      correlationId: "c1",
      context: {},
      traceId,
      replyTo: client.responseQueue,
    });
    await publisher.publish(wire.body, wire.properties);
    await within(served.promise, 5_000, "the command");
    const [span] = await spans(1);
    assertEquals(span!.kind, SpanKind.SERVER);
    assertEquals(span!.spanContext().traceId, traceId);
  } finally {
    await publisher.close();
    await client.close();
    await server.close();
  }
});

stopBrokerAfterAll();
