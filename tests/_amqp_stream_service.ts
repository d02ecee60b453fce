// A stream service in its own process, so that a test can kill it (SIGKILL)
// mid-stream: serves "ticker" with `ticks` (yields 1, 2, 3, ... forever).
// Prints "ready" once served.
//   deno run --allow-net=127.0.0.1 --allow-read --allow-env tests/_amqp_stream_service.ts URL

import { silentLogger } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";

const mesh = await connectMesh(Deno.args[0]!, { logger: silentLogger });
await mesh.serve("ticker", {
  async *ticks() {
    for (let n = 1;; n++) yield n;
  },
});
console.log("ready");
