// The JSON-RPC over HTTP example page in real headless Chromium: built from
// the library's modules (the fetch client, no Deno API), it calls the
// example server over POSTs, batches two calls into one, and is refused by
// the server's contract. Needs Debian's `chromium` (or $CHROMIUM): skipped
// without it, except in CI (CI=true), where that fails.

import { buildBrowserBundles, startBrowserDemo } from "../examples/browser/server.ts";
import type { HttpResults } from "../examples/browser/_page.ts";
import { assert, assertEquals } from "./_assert.ts";
import { Chromium, findChromium } from "./_chromium.ts";
import { within } from "./_helpers.ts";

const executable = await findChromium();
const inCI = Deno.env.get("CI") === "true";

Deno.test({
  name: "browser: the HTTP page calls the example server over POST in headless Chromium",
  ignore: executable === undefined && !inCI,
  fn: () =>
    within(
      (async () => {
        if (executable === undefined) throw new Error("chromium is required in CI");
        const bundles = await buildBrowserBundles();
        assert(!bundles.http.includes("Deno."), "the browser bundle must not touch Deno");
        const demo = startBrowserDemo(bundles);
        const browser = await Chromium.launch(executable);
        try {
          const page = await browser.open(`${demo.url}http.html`);
          const ready = await page.waitFor<HttpResults>(
            "(window.results?.ready || window.results?.error) && window.results",
          );
          assertEquals(ready.error, undefined);
          assertEquals(ready.add, 42);
          assertEquals(ready.batch, [2, 4]);
          assertEquals(ready.batchPosts, 1);
          assertEquals(ready.refused, -32602);
        } finally {
          await browser.close();
          await demo.stop();
        }
      })(),
      240_000,
      "the HTTP page",
    ),
});
