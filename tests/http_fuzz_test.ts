// A short, seeded run of the http fuzz target (fuzz/http.ts) in CI: hostile
// heads and bodies in random pieces against a live listen() in its own
// process; the server must survive every round and keep its heap bounded.

import { assert, assertEquals } from "@std/assert";
import { fuzzHttp } from "../fuzz/http.ts";
import { test } from "./_helpers.ts";

test("http fuzz: 600 hostile requests (seed 7) leave the server alive, answering, its heap flat", async () => {
  const report = await fuzzHttp(600, 7);
  assertEquals(report.crashes, 0);
  assert(report.frames >= 600);
  assertEquals(report.pending_peak, 1); // only the health check itself was open
  assert(
    report.heap_mb !== null && report.heap_mb.last <= report.heap_mb.first + 8,
    `${JSON.stringify(report.heap_mb)}`,
  );
});
