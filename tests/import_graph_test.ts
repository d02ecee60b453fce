// The package's import graph keeps the architecture's shape: no cycles,
// protocol/ knows no transport, dialect codecs are pure, `mod.ts` loads no npm
// package, and nothing inside the package goes through the `mod.ts` barrel.
// It reads every import of every .ts file: static `import`/`export ... from`
// (`import type` too) and dynamic imports of a literal.

import { assert, assertEquals } from "./_assert.ts";

const ROOT = new URL("../", import.meta.url);

/** Folders (and files) that may import `mod.ts`: they use the package as a user does. */
const OUTSIDE_THE_PACKAGE = [
  "tests/",
  "examples/",
  "bench/",
  "scripts/",
  "fuzz/",
  "cli/",
  "cli.ts",
];

/** The rooms of pure dialect codecs. */
const DIALECT_ROOMS = ["protocol/dialects/", "protocol/quickrpc/", "protocol/nuropb/"];

/** What a dialect codec must not import: channels, sessions, timers. */
const NOT_FOR_DIALECTS = [
  "protocol/wire/channel.ts",
  "protocol/shared/_timer.ts",
  "protocol/peer/peer.ts",
  "protocol/wire/reconnect.ts",
  "protocol/peer/keepalive.ts",
  "protocol/peer/server.ts",
];

/** Words after which a `/` starts a regular expression. */
const BEFORE_AN_EXPRESSION = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

interface Import {
  /** The specifier as written. */
  specifier: string;
  /** A .ts file of the package, relative to its root; undefined for anything else. */
  file: string | undefined;
  /** For a relative specifier: whether the file exists (a .json file does too). */
  exists?: boolean;
}

interface Graph {
  /** Every .ts file of the package, relative to its root, and its imports. */
  imports: Map<string, Import[]>;
  /** The import map of deno.json. */
  importMap: Record<string, string>;
}

const graph = await readGraph();
assert(graph.imports.size > 100, "the package's .ts files were not found");
const VIOLATIONS = findViolations();

Deno.test("The import graph has no cycle", () => {
  const cycle = findCycle(graph.imports);
  assertEquals(cycle, undefined, `import cycle: ${cycle?.join(" -> ")}`);
});

Deno.test("protocol/ imports nothing from transports/ or choria/", () => {
  assertEquals(unexpected("layers"), []);
});

Deno.test("protocol/dialects/, quickrpc/ and nuropb/ hold pure codecs: no session, no channel, session or timer import", () => {
  assertEquals(unexpected("pure dialects"), []);
});

Deno.test("mod.ts loads no npm package", () => {
  assertEquals(unexpected("npm-free mod.ts"), []);
});

Deno.test("No file inside the package imports the mod.ts barrel", () => {
  assertEquals(unexpected("no barrel inside"), []);
});

Deno.test("Every relative import names a file that exists", () => {
  assertEquals(unexpected("existing files"), []);
});

Deno.test("protocol/ is rooms only, none over 15 modules", () => {
  const loose: string[] = [];
  const crowded: string[] = [];
  for (const entry of Deno.readDirSync(new URL("protocol/", ROOT))) {
    if (entry.isFile) loose.push(entry.name);
    if (!entry.isDirectory) continue;
    const modules = [...Deno.readDirSync(new URL(`protocol/${entry.name}/`, ROOT))]
      .filter((file) => file.isFile && file.name.endsWith(".ts"));
    if (modules.length > 15) crowded.push(`protocol/${entry.name}/ has ${modules.length}`);
  }
  assertEquals(loose, [], "files directly in protocol/: put each in its room");
  assertEquals(crowded, []);
});

Deno.test("The import reader sees every kind of import and none in comments or strings", () => {
  const source = [
    `import { a } from "./a.ts";`,
    `import type { B } from './b.ts';`,
    `import * as c from "./c.ts"; import d, { e } from "./d.ts";`,
    `import "./side_effect.ts";`,
    `export { f } from "./f.ts"; export * from "./g.ts"; export type { H } from "./h.ts";`,
    `export * as i from "./i.ts";`,
    `const j = await import("./j.ts"); const k = import(\`./k.ts\`);`,
    `const dynamic = import(name); const url = import.meta.url;`,
    `// import { x } from "./comment.ts";`,
    `/* export * from "./block.ts"; */`,
    `const s = 'import { y } from "./string.ts"';`,
    `const t = \`\${"import { z } from './template.ts'"}\`; const r = /"/g;`,
    `const u = Array.from("abc"); export const v = 1;`,
    `import {`,
    `  type W,`,
    `  w,`,
    `} from "./w.ts";`,
  ].join("\n");
  assertEquals(importSpecifiers(source), [
    "./a.ts",
    "./b.ts",
    "./c.ts",
    "./d.ts",
    "./side_effect.ts",
    "./f.ts",
    "./g.ts",
    "./h.ts",
    "./i.ts",
    "./j.ts",
    "./k.ts",
    "./w.ts",
  ]);
});

Deno.test("The import graph test finds a cycle and names its files", () => {
  const edges = (...files: string[]) => files.map((file) => ({ specifier: file, file }));
  const imports = new Map([
    ["a.ts", edges("b.ts")],
    ["b.ts", edges("c.ts")],
    ["c.ts", edges("a.ts")],
    ["d.ts", edges("a.ts")],
  ]);
  assertEquals(findCycle(imports), ["a.ts", "b.ts", "c.ts", "a.ts"]);
  imports.set("c.ts", []);
  assertEquals(findCycle(imports), undefined);
});

// ---- the rules --------------------------------------------------------------

type Rule =
  | "layers"
  | "pure dialects"
  | "npm-free mod.ts"
  | "no barrel inside"
  | "existing files";

interface Violation {
  rule: Rule;
  /** What is wrong, in one line. */
  text: string;
}

/** The violations of `rule`. */
function unexpected(rule: Rule): string[] {
  return VIOLATIONS
    .filter((v) => v.rule === rule)
    .map((v) => v.text);
}

/**
 * Every violation of the rules. The dialect rule looks at direct imports: a
 * dialect may import `transport.ts` to wrap a transport in a frame transform
 * (quickrpc's `secureTransport`), though that module names the Channel type.
 */
function findViolations(): Violation[] {
  const out: Violation[] = [];
  const add = (rule: Rule, text: string) => out.push({ rule, text });
  for (const [file, imports] of graph.imports) {
    const inDialects = DIALECT_ROOMS.some((room) => file.startsWith(room));
    if (inDialects && /session/.test(file)) {
      add("pure dialects", `${file}: a session among the dialect codecs`);
    }
    for (const { specifier, file: target, exists } of imports) {
      if (target === undefined) {
        if (exists === false) add("existing files", `${file} imports ${specifier}: a missing file`);
        continue;
      }
      if (file.startsWith("protocol/") && /^(transports|choria)\//.test(target)) {
        add("layers", `${file} imports ${target} (protocol/ must not know transports or Choria)`);
      }
      if (inDialects && (NOT_FOR_DIALECTS.includes(target) || /session[^/]*$/.test(target))) {
        add("pure dialects", `${file} imports ${target} (channel/session/timer code in a dialect)`);
      }
      if (target === "mod.ts" && !OUTSIDE_THE_PACKAGE.some((p) => file.startsWith(p))) {
        add("no barrel inside", `${file} imports mod.ts (the barrel, from inside the package)`);
      }
    }
  }
  for (const [file, specifier] of npmLoadedBy("mod.ts")) {
    add("npm-free mod.ts", `mod.ts loads ${specifier} (through ${file})`);
  }
  return out;
}

/** The npm packages `root` loads, with the file that imports each. */
function npmLoadedBy(root: string): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const { specifier, file: target } of graph.imports.get(file) ?? []) {
      if (target !== undefined) {
        stack.push(target);
      } else if (resolvesToNpm(specifier)) {
        out.push([file, specifier]);
      }
    }
  }
  return out;
}

function resolvesToNpm(specifier: string): boolean {
  if (specifier.startsWith("npm:")) return true;
  const mapped = mapBare(specifier);
  return mapped !== undefined && mapped.startsWith("npm:");
}

/** A bare specifier through the import map (exact, or a prefix ending in `/`). */
function mapBare(specifier: string): string | undefined {
  const map = graph.importMap;
  if (map[specifier] !== undefined) return map[specifier];
  for (const [key, value] of Object.entries(map)) {
    if (key.endsWith("/") && specifier.startsWith(key)) return value + specifier.slice(key.length);
  }
  return undefined;
}

/** The first cycle found, as its files with the first repeated at the end. */
function findCycle(imports: Map<string, Import[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string): string[] | undefined => {
    if (onPath.has(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file)) return undefined;
    path.push(file);
    onPath.add(file);
    for (const { file: target } of imports.get(file) ?? []) {
      if (target === undefined) continue;
      const cycle = visit(target);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
    return undefined;
  };
  for (const file of [...imports.keys()].sort()) {
    const cycle = visit(file);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

// ---- reading the graph ------------------------------------------------------

async function readGraph(): Promise<Graph> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const files = await listTs("");
  const known = new Set(files);
  const imports = new Map<string, Import[]>();
  for (const file of files) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    imports.set(
      file,
      await Promise.all(
        importSpecifiers(source).map(async (specifier) => {
          if (!isRelative(specifier)) return { specifier, file: undefined };
          const path = new URL(specifier, new URL(file, ROOT)).href.slice(ROOT.href.length);
          if (known.has(path)) return { specifier, file: path, exists: true };
          return { specifier, file: undefined, exists: await isFile(new URL(path, ROOT)) };
        }),
      ),
    );
  }
  return { imports, importMap: config.imports ?? {} };
}

/** Every .ts file under `dir` (relative to the root), sorted. */
async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir || ".", ROOT))) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = dir + entry.name;
    if (entry.isDirectory) out.push(...await listTs(path + "/"));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

async function isFile(url: URL): Promise<boolean> {
  try {
    return (await Deno.stat(url)).isFile;
  } catch {
    return false;
  }
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}

// ---- reading imports --------------------------------------------------------

interface Token {
  kind: "word" | "string" | "punct";
  text: string;
}

/** The specifiers `source` imports, in order. */
function importSpecifiers(source: string): string[] {
  const tokens = tokenize(source);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind !== "word" || tokens[i - 1]?.text === ".") continue;
    const next = tokens[i + 1];
    if (token.text === "import") {
      if (next?.kind === "string") {
        out.push(next.text); // import "./side_effect.ts"
      } else if (next?.text === "(") {
        if (tokens[i + 2]?.kind === "string" && tokens[i + 3]?.text === ")") {
          out.push(tokens[i + 2]!.text);
        }
      } else if (next !== undefined && next.text !== ".") {
        const from = fromClause(tokens, i + 1);
        if (from !== undefined) out.push(from);
      }
    } else if (token.text === "export") {
      const first = next?.text === "type" ? tokens[i + 2] : next;
      if (first?.text === "{" || first?.text === "*") {
        const from = fromClause(tokens, i + 1);
        if (from !== undefined) out.push(from);
      }
    }
  }
  return out;
}

/** The specifier after `from` in an import or export clause starting at `start`. */
function fromClause(tokens: Token[], start: number): string | undefined {
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === "string" || token.text === ";" || token.text === "=") return undefined;
    if (token.kind === "word" && token.text === "from" && tokens[i + 1]?.kind === "string") {
      return tokens[i + 1]!.text;
    }
  }
  return undefined;
}

/** Words, strings (a template counts when it has no `${`) and punctuation; no comments. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // Template literals nest through `${ ... }`: the brace depth at which each resumes.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const n = source.length;
  const template = (): void => {
    // At the character after a backtick or a closing `}` of `${`.
    let text = "";
    while (i < n && source[i] !== "`") {
      if (source[i] === "\\") {
        text += source.slice(i, i + 2);
        i += 2;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        templates.push(depth++);
        tokens.push({ kind: "punct", text: "${" });
        return;
      } else {
        text += source[i++];
      }
    }
    i++;
    tokens.push({ kind: "string", text });
  };
  while (i < n) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      let text = "";
      i++;
      while (i < n && source[i] !== c && source[i] !== "\n") {
        if (source[i] === "\\") i++;
        text += source[i++];
      }
      i++;
      tokens.push({ kind: "string", text });
    } else if (c === "`") {
      i++;
      template();
    } else if (c === "/" && regexMayStart(tokens[tokens.length - 1])) {
      let inClass = false;
      i++;
      while (i < n && source[i] !== "\n" && (inClass || source[i] !== "/")) {
        if (source[i] === "\\") i++;
        else if (source[i] === "[") inClass = true;
        else if (source[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (i < n && /[a-z]/.test(source[i]!)) i++;
      tokens.push({ kind: "string", text: "" });
    } else if (/[A-Za-z_$]/.test(c)) {
      const start = i;
      while (i < n && /[\w$]/.test(source[i]!)) i++;
      tokens.push({ kind: "word", text: source.slice(start, i) });
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
      templates.pop();
      depth--;
      i++;
      template();
    } else {
      if (c === "{") depth++;
      if (c === "}") depth--;
      tokens.push({ kind: "punct", text: c });
      i++;
    }
  }
  return tokens;
}

/** Whether a `/` after `previous` starts a regular expression (not a division). */
function regexMayStart(previous: Token | undefined): boolean {
  if (previous === undefined) return true;
  if (previous.kind === "string") return false;
  if (previous.kind === "word") return BEFORE_AN_EXPRESSION.has(previous.text);
  return previous.text !== ")" && previous.text !== "]" && previous.text !== "}";
}
