// mushroom's files stay in their layers: the dialect files are pure codecs (no
// timers, channels, sessions or transports), and the transports import the
// modules they use, never the package's barrel.

import { assertEquals } from "./_assert.ts";

const root = new URL("../", import.meta.url);

/** The module specifiers `path` imports or re-exports. */
async function importsOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(path, root));
  return [...text.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

Deno.test("mushroom's dialect files import no timer, channel, session or transport", async () => {
  const forbidden = /_timer\.ts$|channel\.ts$|session|transport|_frame_queue\.ts$|mod\.ts$/;
  for (
    const path of ["protocol/dialects/mushroom_codec.ts", "protocol/dialects/mushroom_calls.ts"]
  ) {
    const imports = await importsOf(path);
    assertEquals(imports.filter((spec) => forbidden.test(spec)), [], path);
  }
});

Deno.test("mushroom's transports import their modules, not the package's barrel", async () => {
  for (
    const path of [
      "transports/mushroom.ts",
      "transports/mushroom_server.ts",
      "transports/mushroom/_session.ts",
    ]
  ) {
    const imports = await importsOf(path);
    assertEquals(imports.filter((spec) => /(^|\/)mod\.ts$/.test(spec)), [], path);
    assertEquals(imports.length > 0, true, `${path} has imports`);
  }
});
