// The rpc command over stdio: `rpc call stdio:'cmd args'` runs a child and
// talks over its pipes (both framings); `rpc serve stdio:` serves the demo
// API over its own stdin and stdout.

import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { CLI, RpcProcess, rpcWithStdin } from "./_cli.ts";
import { shownUrl, splitCommand } from "../cli/stdio.ts";
import { UsageError } from "../cli/args.ts";

const SERVER = new URL("./_stdio_server.ts", import.meta.url).pathname;
const DENO = Deno.execPath();
const RUN = ["--allow-read", "--allow-run"];

function rpc(...args: string[]) {
  return new RpcProcess(args, { permissions: RUN }).finish();
}

Deno.test("splitCommand: words split as a shell does, quotes kept, no shell", () => {
  assertEquals(splitCommand(`deno  run 'my file.ts' "a \\"b\\"" c\\ d ''`), [
    "deno",
    "run",
    "my file.ts",
    'a "b"',
    "c d",
    "",
  ]);
  assertEquals(splitCommand("  "), []);
  assertThrows(() => splitCommand("deno 'run"), UsageError, "unclosed '");
});

Deno.test("rpc call stdio:'cmd args' calls a child over newline framing", async () => {
  const run = await rpc("call", `stdio:'${DENO}' run '${SERVER}'`, "add", '{"a":1,"b":2}');
  assertEquals([run.code, run.stdout.trim()], [0, "3"], run.stderr);
});

Deno.test("rpc call stdio: --framing content-length speaks LSP's framing", async () => {
  const run = await rpc(
    "call",
    `stdio:'${DENO}' run '${SERVER}' content-length`,
    "echo",
    '["héllo"]',
    "--framing",
    "content-length",
  );
  assertEquals([run.code, run.stdout.trim()], [0, '["héllo"]'], run.stderr);
});

Deno.test("rpc call stdio: reports a child that exits before answering", async () => {
  const run = await rpc("call", `stdio:'${DENO}' run '${SERVER}'`, "exit", '{"code":4}');
  assertEquals(run.code, 2, run.stderr);
  assertStringIncludes(run.stderr, "the child exited with code 4");
});

Deno.test("rpc call stdio: with no command, or a command not found, is exit status 2", async () => {
  const empty = await rpc("call", "stdio:", "add");
  assertEquals(empty.code, 2);
  assertStringIncludes(empty.stderr, "stdio: needs a command");
  const missing = await rpc("call", "stdio:/nonexistent/seed-rpc-command", "add");
  assertEquals(missing.code, 2);
});

Deno.test("rpc serve stdio: serves the demo API over its stdin and stdout", async () => {
  // rpc calling rpc: the child is `rpc serve stdio:`.
  const child = `stdio:'${DENO}' run --allow-read '${CLI}' serve stdio: --framing content-length`;
  const run = await rpc("call", child, "add", '{"a":20,"b":22}', "--framing", "content-length");
  assertEquals([run.code, run.stdout.trim()], [0, "42"], run.stderr);
  const notified = await rpc(
    "notify",
    child,
    "log",
    '{"line":"hi"}',
    "--framing",
    "content-length",
  );
  assertEquals(notified.code, 0, notified.stderr);
});

Deno.test("--framing is refused for URLs that are not stdio:", async () => {
  const run = await rpc("call", "127.0.0.1:1", "add", "--framing", "newline");
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "--framing applies to stdio: only");
});

Deno.test("rpc call stdio: an empty quoted command is a usage error, not a spawn of ''", async () => {
  const run = await rpc("call", "stdio:''", "add");
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "stdio: needs a command");
});

Deno.test("rpc call stdio: a command that fails to start is reported without its arguments (they may hold secrets)", async () => {
  const run = await rpc("call", "stdio:/nonexistent/seed-rpc-command --token=s3cr3t", "add");
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "/nonexistent/seed-rpc-command");
  assertEquals(run.stderr.includes("s3cr3t"), false, run.stderr);
  assertEquals(shownUrl("stdio:'my tool' --key=k"), "stdio:my tool …");
  assertEquals(shownUrl("stdio:cat"), "stdio:cat");
  assertEquals(shownUrl("stdio:'open"), "stdio:…");
  assertEquals(shownUrl("tcp://127.0.0.1:1"), "tcp://127.0.0.1:1");
});

Deno.test("rpc serve stdio: junk on stdin gets only JSON-RPC frames on stdout; logs go to stderr", async () => {
  const input = [
    "not json at all",
    '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":1}',
    "\u001b[31m{broken",
    '{"jsonrpc":"2.0","method":"nope","id":2}',
    '[{"jsonrpc":"2.0","method":"add","params":{"a":2,"b":2},"id":3}, 5]',
    "x".repeat(100),
    "",
  ].join("\n");
  const run = await rpcWithStdin(input, "serve", "stdio:");
  assertEquals(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  for (const line of lines) {
    const parsed = JSON.parse(line);
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      assertEquals(message.jsonrpc, "2.0", line);
    }
  }
  assertEquals(lines.length, 6, run.stdout);
  assertStringIncludes(run.stderr, "serving on stdio");
});
