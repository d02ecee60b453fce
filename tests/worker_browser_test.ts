// @seed/rpc/worker in headless Chromium: the browser example's worker page
// starts a Web Worker (both scripts built from the library's modules) and
// calls it through a Peer over the Worker: bytes kept, a buffer transferred,
// a call from the worker that the page answers.
//
// Needs Debian's `chromium` (or $CHROMIUM). Without it the test is skipped
// with the reason; in CI (CI=true) a missing browser is a failure.

import { buildBrowserBundles, startBrowserDemo } from "../examples/browser/server.ts";
import type { WorkerResults } from "../examples/browser/worker_app.ts";
import { assert, assertEquals } from "./_assert.ts";
import { Chromium, findChromium } from "./_chromium.ts";
import { within } from "./_helpers.ts";

const executable = await findChromium();
const inCI = Deno.env.get("CI") === "true";
if (executable === undefined && !inCI) {
  console.warn(
    "worker_browser_test.ts: skipped: no chromium found (apt-get install chromium, or set CHROMIUM)",
  );
}

Deno.test({
  name: "browser: the example page calls a Web Worker through a Peer in headless Chromium",
  ignore: executable === undefined && !inCI,
  fn: () => within(run(), 240_000, "the worker page test"),
});

async function run(): Promise<void> {
  if (executable === undefined) throw new Error("chromium is required in CI and was not found");
  const bundles = await buildBrowserBundles();
  assert(!bundles.worker.worker.includes("Deno."), "the worker bundle must not touch Deno");
  assert(!bundles.worker.app.includes("Deno."), "the page bundle must not touch Deno");
  const demo = startBrowserDemo(bundles);
  const browser = await Chromium.launch(executable);
  try {
    const page = await browser.open(`${demo.url}worker.html`);
    const ready = await page.waitFor<WorkerResults>(
      "(window.results?.ready || window.results?.error) && window.results",
    );
    assertEquals(ready.error, undefined);
    assertEquals(ready.reversed, [3, 2, 1]);
    assertEquals(ready.bytesKept, true);
    assertEquals(ready.size, 1024);
    assertEquals(ready.detached, true);
    assertEquals(ready.greeting, "hello the page, from a worker");
  } finally {
    await browser.close();
    await demo.stop();
  }
}
