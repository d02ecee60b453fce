// @seed/rpc/otel with Deno's built-in OpenTelemetry: OTEL_DENO=true and
// nothing else. A child process makes a traced call; its spans reach an
// OTLP collector (ours, on loopback) and the handler runs inside the trace.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { test, waitFor } from "./_helpers.ts";

test("otel: with OTEL_DENO=true the trace crosses the call and Deno exports the spans", async () => {
  const posts: string[] = [];
  const collector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      posts.push(new URL(req.url).pathname);
      await req.arrayBuffer();
      return Response.json({});
    },
  );
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-env",
        "--allow-net=127.0.0.1",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        new URL("./_otel_deno_child.ts", import.meta.url).pathname,
      ],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert(output.success, stderr);
    const seen = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      traceparent: string;
      active: string;
    };
    assertMatch(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assertEquals(seen.active, seen.traceparent.slice(3, 35));
    await waitFor(() => posts.includes("/v1/traces"), { message: "spans at the collector" });
  } finally {
    await collector.shutdown();
  }
});
