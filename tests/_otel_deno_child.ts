// Run with OTEL_DENO=true by otel_deno_test.ts: a traced call over a memory
// pair with Deno's built-in OpenTelemetry and no other set-up; prints what the
// handler saw as one JSON line.

import { type CallContext, memoryPair, Peer } from "../mod.ts";
import { tracing } from "../transports/otel.ts";
import { trace } from "@opentelemetry/api";

const [a, b] = memoryPair();
const server = new Peer(a, {
  handlers: {
    seen: (_params: unknown, ctx: CallContext) => ({
      traceparent: ctx.meta.traceparent,
      active: trace.getActiveSpan()?.spanContext().traceId,
    }),
  },
  interceptors: tracing(),
});
const client = new Peer(b, { interceptors: tracing() });
console.log(JSON.stringify(await client.call("seen")));
await client.close();
await server.closed;
