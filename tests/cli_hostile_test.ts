// The rpc command facing a hostile other side: what a server or a client
// sends never reaches the terminal as control sequences, stdin is read up to
// a bound, and credentials in URLs are never printed.

import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { main } from "../cli.ts";
import { rpc, RpcProcess, rpcWithInput, serve } from "./_cli.ts";
import { test } from "./_helpers.ts";

/** What a terminal could act on: C0 (but tab and newline), DEL, C1, bidi controls. */
// deno-lint-ignore no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** Escape sequences: clear the screen, set the window title, a C1 CSI, a bidi override. */
const HOSTILE = "\x1b[2J\x1b]0;owned\x07red\u009b31m\u202eevil\r\nforged: line";

test("rpc: a remote error's text and data reach the terminal escaped, on one line", async () => {
  const server = await serve("127.0.0.1:0");
  try {
    const failed = await rpc("call", server.url, "fail", JSON.stringify({ message: HOSTILE }));
    assertEquals(failed.code, 1);
    assert(!RAW_CONTROL.test(failed.stderr), JSON.stringify(failed.stderr));
    assertEquals(failed.stderr.split("\n").length, 2, failed.stderr); // one line
    assertStringIncludes(failed.stderr, "\\u001b[2J");
    // --json stays lossless: the escapes are JSON's own.
    const json = await rpc(
      "call",
      server.url,
      "fail",
      JSON.stringify({ message: HOSTILE }),
      "--json",
    );
    assert(!RAW_CONTROL.test(json.stderr), JSON.stringify(json.stderr));
    assertEquals(JSON.parse(json.stderr).message, HOSTILE);
    // A result is JSON: its C1 and bidi characters are escaped too, and it still parses back.
    const echoed = await rpc("call", server.url, "echo", JSON.stringify([HOSTILE]));
    assertEquals(echoed.code, 0);
    assert(!RAW_CONTROL.test(echoed.stdout), JSON.stringify(echoed.stdout));
    assertEquals(JSON.parse(echoed.stdout), [HOSTILE]);
    const pretty = await rpc("call", server.url, "echo", JSON.stringify([HOSTILE]), "--pretty");
    assert(!RAW_CONTROL.test(pretty.stdout), JSON.stringify(pretty.stdout));
    assertEquals(JSON.parse(pretty.stdout), [HOSTILE]);
    // A notification the server prints (the demo's log) is escaped there.
    assertEquals(
      (await rpc("notify", server.url, "log", JSON.stringify({ line: HOSTILE }))).code,
      0,
    );
    await server.waitForOutput("stderr", "forged: line");
  } finally {
    const stopped = await server.stop();
    assert(!RAW_CONTROL.test(stopped.stderr), JSON.stringify(stopped.stderr));
    assert(!stopped.stderr.includes("\nforged: line"), stopped.stderr);
  }
});

test("rpc: what a server of another dialect answers is printed escaped", async () => {
  // A server that answers anything with escape sequences.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answering = (async () => {
    const connection = await listener.accept();
    await connection.read(new Uint8Array(1024));
    await connection.write(new TextEncoder().encode(`${HOSTILE}\n`));
    // Hold the connection open until the client goes away.
    await connection.read(new Uint8Array(1024)).catch(() => null);
    connection.close();
  })();
  try {
    const run = await rpc("call", `127.0.0.1:${listener.addr.port}`, "add", "{}");
    assertEquals(run.code, 2);
    assertStringIncludes(run.stderr, "does not speak jsonrpc");
    assert(!RAW_CONTROL.test(run.stderr), JSON.stringify(run.stderr));
  } finally {
    await answering;
    listener.close();
  }
});

test("rpc: params on stdin are read up to --max-stdin bytes (16 MiB by default)", async () => {
  const server = await serve("127.0.0.1:0");
  try {
    // 64 MiB offered in 1 MiB writes; count what the process took before refusing.
    const chunk = new TextEncoder().encode(" ".repeat(1 << 20));
    const child = new RpcProcess(["call", server.url, "echo", "-"], { stdin: true });
    const writer = child.stdinWriter();
    let written = 0;
    try {
      for (let i = 0; i < 64; i++) {
        await writer.write(chunk);
        written += chunk.length;
      }
      await writer.close();
    } catch {
      // The process stopped reading and closed its stdin: what we want.
    }
    const run = await child.finish();
    assertEquals(run.code, 2, run.stderr);
    assertStringIncludes(run.stderr, "rpc call: stdin is larger than 16777216 bytes (--max-stdin)");
    // What was taken: the cap, plus what the pipe and one write hold.
    assert(written <= 16 * 2 ** 20 + 2 * chunk.length, `the process took ${written} bytes`);

    // A smaller --max-stdin; JSON under the cap still works (in this process).
    const refused = await rpcWithInput(
      '{"a": "0123456789"}',
      "call",
      server.url,
      "echo",
      "-",
      "--max-stdin",
      "10",
    );
    assertEquals(refused.code, 2);
    assertStringIncludes(refused.stderr, "stdin is larger than 10 bytes (--max-stdin)");
    const fits = await rpcWithInput("[1, 2]", "call", server.url, "echo", "-", "--max-stdin", "10");
    assertEquals(fits.stdout, "[1,2]\n");
    const bad = await rpc("call", server.url, "echo", "-", "--max-stdin", "lots");
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "--max-stdin must be a whole number");
  } finally {
    await server.stop();
  }
});

test("rpc: a password in a URL is never printed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = listener.addr.port;
  listener.close();
  const cases: [string[], string][] = [
    [["call", `amqp://guest:hunter2@127.0.0.1:${closed}/`, "echo", "--service", "s"], "guest:***@"],
    [
      ["notify", `amqp://guest:hunter2@127.0.0.1:${closed}/`, "log", "--service", "s"],
      "guest:***@",
    ],
    [["publish", `amqp://guest:hunter2@127.0.0.1:${closed}/`, "topic"], "guest:***@"],
    [["serve", `amqp://guest:hunter2@127.0.0.1:${closed}/`, "--service", "s"], "guest:***@"],
    [["call", `ws://ada:hunter2@127.0.0.1:${closed}/rpc`, "add"], "ada:***@"],
    [["call", `http://hunter2@127.0.0.1:${closed}/`, "add"], "http://***@"],
    [["call", "ftp://ada:hunter2@127.0.0.1:1/", "add"], "ada:***@"],
    [["serve", `ws://ada:hunter2@127.0.0.1:0/rpc`, "--dialect", "mushroom"], "ada:***@"],
  ];
  for (const [args, shown] of cases) {
    // serve takes no --json.
    for (const json of args[0] === "serve" ? [false] : [false, true]) {
      const run = await rpc(...args, ...(json ? ["--json"] : []));
      const what = `${args.join(" ")}${json ? " --json" : ""}`;
      assertEquals(run.code, 2, `${what}: ${run.stderr}`);
      assert(!run.stderr.includes("hunter2"), `${what}: ${run.stderr}`);
      assertStringIncludes(run.stderr, shown, what);
    }
  }
});

test("rpc main(): a readStdin of its own is held to --max-stdin too", async () => {
  const errors: string[] = [];
  const io = {
    stdout: () => {},
    stderr: (line: string) => errors.push(line),
    readStdin: () => Promise.resolve("[1, 2, 3]"),
  };
  assertEquals(await main(["call", "127.0.0.1:1", "echo", "-", "--max-stdin", "4"], io), 2);
  assertEquals(errors[0], "rpc call: stdin is larger than 4 bytes (--max-stdin)");
});
