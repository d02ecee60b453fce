// Which files `deno task test` runs: the test files (Deno's own pattern) and
// the files outside tests/ whose JSDoc or Markdown has examples deno test
// --doc runs, with how many.

/** Deno's own test-file pattern ({*_,*.,}test.{ts,tsx,mts,js,mjs,jsx}). */
export const TEST_FILE = /(?:^|[._])test\.(?:ts|tsx|mts|js|mjs|jsx)$/;

/** The test files under `dir`, sorted. */
export async function testFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await testFilesUnder(path));
    else if (entry.isFile && TEST_FILE.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/** Languages deno test --doc runs (unlabelled: in JSDoc only). */
export const EXAMPLE_LANGS = new Set([
  "ts",
  "tsx",
  "js",
  "jsx",
  "javascript",
  "typescript",
  "mts",
  "mjs",
]);
/** Not searched for examples: the test files run as tests; dependencies are not ours. */
const SKIP_DIRS = new Set(["tests", "node_modules"]);

/**
 * The files outside tests/ with examples deno test --doc runs, and how many,
 * in path order. They are passed to deno test by name, which also imports
 * them as modules: a library module does nothing when imported.
 */
export async function docFiles(root: string, dir = root): Promise<Array<[string, number]>> {
  const found: Array<[string, number]> = [];
  const entries = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.name.startsWith(".") || SKIP_DIRS.has(entry.name)) continue;
    if (entry.isDirectory) {
      found.push(...await docFiles(root, path));
      continue;
    }
    const markdown = entry.name.endsWith(".md");
    if (!entry.isFile || !(markdown || /\.(?:ts|tsx|mts|js|mjs|jsx)$/.test(entry.name))) continue;
    let open = false;
    let examples = 0;
    for (const match of (await Deno.readTextFile(path)).matchAll(/^\s*(?:\*\s*)?```(.*)$/gm)) {
      const [lang = "", ...attributes] = match[1]!.trim().split(/\s+/);
      const runs = (EXAMPLE_LANGS.has(lang) || (lang === "" && !markdown)) &&
        !attributes.includes("ignore");
      if (!open && runs) examples++;
      open = !open;
    }
    if (examples > 0) found.push([path.slice(root.length + 1), examples]);
  }
  return found;
}
