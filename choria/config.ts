/**
 * An external agent's configuration and facts, read the ways Choria and its
 * helper libraries provide them.
 *
 * @module
 */

import { readInput } from "./_io.ts";

/**
 * Parses a plugin config file as go-external does: each line trimmed; blank
 * lines and `#` comments skipped; `key = value` (the first `=` splits, spaces
 * around it dropped).
 *
 * @example Parsing a plugin config file
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseConfig } from "@seed/rpc/choria";
 * assertEquals(parseConfig("# a comment\nenabled = true\n  url=http://x/?a=b  \n\nnoequals\n"), {
 *   enabled: "true",
 *   url: "http://x/?a=b",
 * });
 * ```
 */
export function parseConfig(text: string): Record<string, string> {
  const config: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(/^(.+?)\s*=\s*(.+)$/);
    if (match !== null) config[match[1]!] = match[2]!;
  }
  return config;
}

/**
 * The candidate paths of an agent's config file, in the order tried:
 * `$CHORIA_EXTERNAL_CONFIG` itself (what Choria passes, no extension), then
 * with `.cfg`, then `<it>/<agent>.cfg` (where py-choria-external looks).
 *
 * @example Where an agent's config may be
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { configCandidates } from "@seed/rpc/choria";
 * assertEquals(configCandidates("/etc/choria/plugin.d/parrot", "parrot"), [
 *   "/etc/choria/plugin.d/parrot",
 *   "/etc/choria/plugin.d/parrot.cfg",
 *   "/etc/choria/plugin.d/parrot/parrot.cfg",
 * ]);
 * ```
 */
export function configCandidates(path: string, agent: string): string[] {
  return [path, `${path}.cfg`, `${path.replace(/\/+$/, "")}/${agent}.cfg`];
}

/**
 * Reads the first config file that exists among
 * {@linkcode configCandidates}; an empty object when there is none (a
 * missing config is normal). `warn` hears of files that exist but cannot be
 * read (not a regular file, over 16 MiB, or not read within `timeout`
 * milliseconds).
 *
 * @example A missing config reads as empty
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { readConfig } from "@seed/rpc/choria";
 * assertEquals(await readConfig("/nonexistent/plugin.d/parrot", "parrot"), {});
 * ```
 */
export async function readConfig(
  path: string | undefined,
  agent: string,
  warn: (message: string) => void = () => {},
  timeout = Infinity,
): Promise<Record<string, string>> {
  if (path === undefined || path === "") return {};
  for (const candidate of configCandidates(path, agent)) {
    try {
      const info = await Deno.stat(candidate);
      if (!info.isFile) continue;
      return parseConfig(await readInput(candidate, timeout));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        continue;
      }
      warn(`cannot read the config file ${candidate}: ${(error as Error).message}`);
    }
  }
  return {};
}

/**
 * Reads the facts file (`$CHORIA_EXTERNAL_FACTS`): a JSON object, or an
 * empty one when the file is empty (Choria leaves it empty during
 * activation), missing, or not a JSON object (then `warn` says so). Like
 * every input, it must be a regular file of at most 16 MiB, read within
 * `timeout` milliseconds.
 *
 * @example No facts file reads as no facts
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { readFacts } from "@seed/rpc/choria";
 * assertEquals(await readFacts(undefined), {});
 * ```
 */
export async function readFacts(
  path: string | undefined,
  warn: (message: string) => void = () => {},
  timeout = Infinity,
): Promise<Record<string, unknown>> {
  if (path === undefined || path === "") return {};
  let text: string;
  try {
    text = await readInput(path, timeout);
  } catch (error) {
    warn(`cannot read the facts file ${path}: ${(error as Error).message}`);
    return {};
  }
  if (text.trim() === "") return {};
  try {
    const facts = JSON.parse(text);
    if (facts !== null && typeof facts === "object" && !Array.isArray(facts)) return facts;
    warn(`the facts file ${path} does not hold a JSON object`);
  } catch (error) {
    warn(`the facts file ${path} is not JSON: ${(error as Error).message}`);
  }
  return {};
}
