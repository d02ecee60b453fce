// The README's entrypoint table names every entrypoint deno.json exports.

import { assertEquals } from "./_assert.ts";
import { test } from "./_helpers.ts";

test("the README's entrypoint table lists every entrypoint in deno.json exports", async () => {
  const root = new URL("../", import.meta.url);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
    name: string;
    exports: Record<string, string>;
  };
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const rows = new Set(
    [...readme.matchAll(/^\| `(@seed\/rpc[^`]*)`\s*\|/gm)].map((match) => match[1]!),
  );
  const missing = Object.keys(config.exports)
    .map((key) => key === "." ? config.name : `${config.name}/${key.slice(2)}`)
    .filter((name) => !rows.has(name));
  assertEquals(missing, []);
});
