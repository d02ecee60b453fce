// A nuropb service in its own process, for the RSS checks of the AMQP tests:
// what the test publishes does not count, and gc() runs before each sample.
//   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 tests/_amqp_service.ts URL
// Serves "calc" (echo: the caller's context; hold: waits for "release";
// a token "Bearer good" is required). Prints "ready", then answers lines on
// stdin: "memory" prints, after a GC, {rss, retained} in bytes (retained: the
// JS heap in use plus external buffers), "stats" the service's
// counters as JSON, "release" lets held calls finish. Ends at end of input.

import { silentLogger } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

const mesh = await connectMesh(Deno.args[0]!, { logger: silentLogger });
let release = Promise.withResolvers<void>();
await mesh.serve("calc", {
  echo: (_params, ctx) => ctx.meta.context,
  hold: async () => {
    await release.promise;
    return "done";
  },
}, { authorize: (token) => token === "Bearer good" ? { user: "u1" } : undefined });
console.log("ready");

const gc = (globalThis as { gc?: () => void }).gc;
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let newline: number;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (command === "memory") {
      // Buffers are freed by a GC after the one that finds them dead.
      for (let i = 0; i < 3; i++) {
        gc?.();
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const { rss, heapUsed, external } = Deno.memoryUsage();
      console.log(JSON.stringify({ rss, retained: heapUsed + external }));
    } else if (command === "stats") {
      console.log(JSON.stringify(mesh.stats().services.calc));
    } else if (command === "release") {
      release.resolve();
      release = Promise.withResolvers<void>();
      console.log("released");
    }
  }
}
release.resolve();
await mesh.close();
