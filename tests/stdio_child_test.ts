// spawn: a peer over a child's pipes, in both framings; the child's exit
// ends it with its status; close ends stdin, then kills a child that stays.

import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { CloseCode, ConnectionClosed } from "../mod.ts";
import { spawn } from "../transports/stdio.ts";
import { within } from "./_helpers.ts";

const SERVER = new URL("./_stdio_server.ts", import.meta.url).pathname;
const deno = Deno.execPath();

for (const framing of ["newline", "content-length"] as const) {
  Deno.test(`spawn (${framing}): calls a child, is called back, and the child exits 0 on close`, async () => {
    const child = spawn(deno, ["run", SERVER, framing], {
      framing,
      handlers: { whoami: ([from]: [string]) => `the parent, asked ${from}` },
    });
    assertEquals(await child.peer.call("add", { a: 1, b: 2 }), 3);
    assertEquals(
      await child.peer.call("ask", { method: "whoami" }),
      "the parent, asked from the child",
    );
    const big = "é".repeat(100_000);
    assertEquals(await child.peer.call("echo", [big]), [big]);
    const status = await within(child.close(), 10_000, "the child's exit");
    assertEquals(status.code, 0);
  });
}

Deno.test("spawn: the child's exit ends the peer; pending calls reject with its exit code", async () => {
  const child = spawn(deno, ["run", SERVER]);
  const error = await assertRejects(() => child.peer.call("exit", { code: 3 }), ConnectionClosed);
  assertEquals(error.code, CloseCode.Failed);
  assertEquals(error.reason, "the child exited with code 3");
  await within(child.closed, 5000, "the peer's end");
  assertEquals(child.peer.closeReason?.message, "the child exited with code 3");
  assertEquals((await child.status).code, 3);
  await child.close();
});

Deno.test("spawn: a child that ignores its stdin ending is killed after killAfter", async () => {
  const child = spawn(deno, ["eval", "setInterval(() => {}, 1000)"], { killAfter: 200 });
  const status = await within(child.close(), 10_000, "the kill");
  assertEquals(status.signal, "SIGTERM");
  assertEquals(child.peer.closeReason?.code, CloseCode.Local);
});

Deno.test("spawn: a child killed by a signal ends the peer saying which", async () => {
  const child = spawn(deno, ["run", SERVER]);
  assertEquals(await child.peer.call("add", { a: 1, b: 1 }), 2);
  child.process.kill("SIGKILL");
  await within(child.closed, 5000, "the peer's end");
  assertEquals(child.peer.closeReason, {
    code: CloseCode.Failed,
    message: "the child was killed by SIGKILL",
  });
  await child.close();
});

Deno.test("spawn: stderr piped is readable by the parent, stdout carries only frames", async () => {
  const child = spawn(deno, ["run", SERVER], { stderr: "piped" });
  const stderr = new Response(child.stderr).text();
  assertEquals(await child.peer.call("complain", { text: "something went wrong" }), true);
  await child.close();
  assertStringIncludes(await stderr, "something went wrong");
});

Deno.test("spawn: a command that does not exist throws at once", () => {
  let thrown: unknown;
  try {
    spawn("/nonexistent/command-for-seed-rpc");
  } catch (error) {
    thrown = error;
  }
  assertEquals(thrown instanceof Deno.errors.NotFound, true);
});

Deno.test("serveStdio: a process serving its stdin ends when stdin ends", async () => {
  // Written by hand, not through spawn: the raw bytes a client would send.
  const process = new Deno.Command(deno, {
    args: ["run", SERVER],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = process.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode('{"jsonrpc":"2.0","method":"add","params":{"a":2,"b":3},"id":1}\n'),
  );
  await writer.close();
  const output = await new Response(process.stdout).text();
  assertEquals(output, '{"jsonrpc":"2.0","result":5,"id":1}\n');
  assertEquals((await within(process.status, 10_000, "the exit")).code, 0);
});

Deno.test("spawn: cwd, env and clearEnv reach the child", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  const child = spawn(deno, [
    "eval",
    `import { serveStdio } from "${new URL("../transports/stdio.ts", import.meta.url).href}";
     await serveStdio({ where: () => [Deno.cwd(), Deno.env.get("SEED_RPC_TEST"), Deno.env.get("HOME") ?? null] }).closed;`,
  ], { cwd: dir, env: { SEED_RPC_TEST: "yes" }, clearEnv: true });
  try {
    assertEquals(await child.peer.call("where"), [dir, "yes", null]);
  } finally {
    await child.close();
    await Deno.remove(dir);
  }
});

Deno.test("spawn: a child that exits at once ends the peer with its exit code", async () => {
  const child = spawn(deno, ["eval", "Deno.exit(5)"]);
  const error = await assertRejects(() => child.peer.call("anything"), ConnectionClosed);
  assertEquals(error.reason, "the child exited with code 5");
  assertEquals((await child.close()).code, 5);
});
