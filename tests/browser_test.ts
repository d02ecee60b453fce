// The browser example in real headless Chromium: the page, built from the
// library's modules, calls its server through a typed contract, receives a
// push, answers a call from the server, cancels a call, is refused by the
// contract, and reconnects when the server restarts.
//
// Needs Debian's `chromium` (or $CHROMIUM). Without it the test is skipped
// with the reason; in CI (CI=true) a missing browser is a failure.

import {
  type BrowserBundles,
  buildBrowserBundles,
  startBrowserDemo,
} from "../examples/browser/server.ts";
import type { AppResults, MushroomResults } from "../examples/browser/_page.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { Chromium, findChromium } from "./_chromium.ts";
import { test, within } from "./_helpers.ts";

const executable = await findChromium();
const inCI = Deno.env.get("CI") === "true";
if (executable === undefined && !inCI) {
  console.warn(
    "browser_test.ts: skipped: no chromium found (apt-get install chromium, or set CHROMIUM)",
  );
}

/** Whether Chromium tests run: skipped without it, except in CI where that fails. */
const ignore = executable === undefined && !inCI;

let built: Promise<BrowserBundles> | undefined;

/** A test with Chromium and the pages' scripts (built once, for both tests). */
function browserTest(
  name: string,
  fn: (executable: string, bundles: BrowserBundles) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore,
    sanitizeResources: true,
    sanitizeOps: true,
    // A deadline: a hang fails the test instead of the run.
    fn: () => within(run(), 240_000, `the test '${name}'`),
  });
  async function run(): Promise<void> {
    if (executable === undefined) throw new Error("chromium is required in CI and was not found");
    built ??= buildBrowserBundles();
    const bundles = await built;
    assert(!bundles.app.includes("Deno."), "the browser bundle must not touch Deno");
    assert(!bundles.mushroom.includes("Deno."), "the browser bundle must not touch Deno");
    await fn(executable, bundles);
  }
}

test("browser: the contract page's bundle is as small as the README says", async () => {
  built ??= buildBrowserBundles();
  const { app } = await built;
  const gzipped = await new Response(
    new Blob([app]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  // README: "with contracts (ajv and its common formats) it is about 225 KB (69 KB gzipped)".
  assert(app.length <= 230_000, `${app.length} bytes minified`);
  assert(gzipped.byteLength <= 71_000, `${gzipped.byteLength} bytes gzipped`);
});

browserTest(
  "browser: the example page in headless Chromium, through a server restart",
  async (executable, bundles) => {
    let demo = startBrowserDemo(bundles);
    const port = demo.port;
    const browser = await Chromium.launch(executable);
    try {
      const page = await browser.open(demo.url);
      const ready = await page.waitFor<AppResults>("window.results?.ready && window.results");
      assertEquals(ready.error, undefined);
      assertEquals(ready.add, 42);
      assertStringIncludes(ready.hello!, "hello browser, you run Mozilla/5.0");
      assertStringIncludes(ready.hello!, "Chrome");
      assertEquals(ready.push, "the server says hi to everyone");
      assertEquals(ready.cancel, "TimeoutError");
      assertEquals(ready.serverSawCancel, true);
      assertEquals(ready.refused, -32602);
      // What the page did is shown in the page itself.
      const lines = await page.evaluate<string[]>(
        "[...document.querySelectorAll('#log li')].map((li) => li.textContent)",
      );
      assertEquals(lines.at(-1), "done");
      assert(lines.some((line) => line.startsWith("pushed by the server")));

      // The server restarts on the same port; the page reconnects by itself.
      await demo.stop();
      demo = startBrowserDemo(bundles, port);
      const after = await page.waitFor<AppResults>(
        "window.results?.afterReconnect && window.results",
      );
      assertEquals([after.reconnected, after.afterReconnect], [true, 2]);
    } finally {
      await browser.close();
      await demo.stop();
    }
  },
);

browserTest(
  "browser: the mushroom page in headless Chromium, over WebSocket and over long polling",
  async (executable, bundles) => {
    const demo = startBrowserDemo(bundles, 0, { mushroomListen: true });
    const browser = await Chromium.launch(executable);
    // From the page's own server (mushroomHandler), then from listen().
    const at = `at=${encodeURIComponent(demo.mushroomListen!)}`;
    const runs = [["", "ws"], ["?nows", "poll"], [`?${at}`, "ws"], [`?nows&${at}`, "poll"]];
    try {
      for (const [query, transport] of runs) {
        const page = await browser.open(`${demo.url}mushroom.html${query}`);
        const ready = await page.waitFor<MushroomResults>(
          "(window.results?.ready || window.results?.error) && window.results",
        );
        assertEquals(ready.error, undefined, transport);
        assertEquals(ready.transport, transport);
        assertEquals(ready.add, 42);
        assertStringIncludes(ready.hello!, "hello mushroom, you run Mozilla/5.0");
        assertEquals(ready.push, "the server says hi to everyone");
      }
    } finally {
      await browser.close();
      await demo.stop();
    }
  },
);
