// unix:///path URLs in connect, listen, listenUnix and the CLI. Unix sockets
// need their own net permission, which the test run does not grant, so each
// case runs in a child process allowed exactly its socket's path (and write
// access to its temp dir); the child prints what it saw as one JSON line.

import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { RpcProcess } from "./_cli.ts";
import { test, within } from "./_helpers.ts";
import { parseUnixUrl } from "../transports/_unix_socket.ts";

const tcp = new URL("../transports/tcp.ts", import.meta.url).href;
const core = new URL("../mod.ts", import.meta.url).href;
const HEADER = `
import { Peer, Server, silentLogger as logger } from "${core}";
import { connect, listen, listenUnix } from "${tcp}";
const exists = async (path) => { try { await Deno.lstat(path); return true; } catch { return false; } };
const failure = async (f) => { try { await f(); return null; } catch (e) { return [e.name, e.message]; } };
`;

/** Runs `body` (a module, after HEADER) in a child allowed `socket`; returns its JSON line. */
async function child(dir: string, socket: string, body: string): Promise<unknown> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-lock",
      `--allow-net=unix:${socket}`,
      "--allow-read",
      `--allow-write=${dir}`,
      "-",
    ],
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = process.stdin.getWriter();
  await writer.write(new TextEncoder().encode(HEADER + body));
  await writer.close();
  const { code, stdout, stderr } = await within(process.output(), 30_000, "the child");
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** A temp dir for `fn`, removed after. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-unix-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

test("unix: URLs: unix:///abs, unix:/abs and unix:relative name a path; a host is refused", () => {
  assertEquals(parseUnixUrl("unix:///run/rpc.sock"), "/run/rpc.sock");
  assertEquals(parseUnixUrl("unix:/run/rpc.sock"), "/run/rpc.sock");
  assertEquals(parseUnixUrl("unix:run/rpc.sock"), "run/rpc.sock");
  assertEquals(parseUnixUrl(new URL("unix:///run/rpc.sock")), "/run/rpc.sock");
  assertEquals(parseUnixUrl("tcp://127.0.0.1:1"), undefined);
  assertThrows(() => parseUnixUrl("unix://host/rpc.sock"), TypeError, "no host");
  assertThrows(() => parseUnixUrl("unix:"), TypeError, "path is required");
});

test("unix: calls both ways; the file is owner-only by default, mode sets it, close removes it", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/rpc.sock`;
    const seen = await child(
      dir,
      path,
      `
const path = ${JSON.stringify(path)};
const server = new Server({
  logger,
  handlers: { add: async ({ a, b }, ctx) => (await ctx.peer.call("double", { n: a })) + b },
}).serve(listen("unix://" + path));
const mode = (await Deno.lstat(path)).mode & 0o777;
const client = new Peer(await connect(server.addr), { logger });
client.handle("double", ({ n }) => n * 2);
const sum = await client.call("add", { a: 1, b: 2 });
await client.close();
await server.shutdown();
const removed = !(await exists(path));
const wide = listen("unix:" + path, { mode: 0o660 });
const wideMode = (await Deno.lstat(path)).mode & 0o777;
await wide.close();
console.log(JSON.stringify({ addr: server.addr, sum, mode, removed, wideMode, after: await exists(path) }));
`,
    );
    assertEquals(seen, {
      addr: `unix:${path}`,
      sum: 4,
      mode: 0o600,
      removed: true,
      wideMode: 0o660,
      after: false,
    });
  });
});

test("unix: a relative unix:path is from the current directory; addr is absolute", async () => {
  await inTempDir(async (dir) => {
    const seen = await child(
      dir,
      `${dir}/rel.sock`,
      `
const server = new Server({ logger, handlers: { ping: () => "pong" } }).serve(listen("unix:rel.sock"));
const client = new Peer(await connect("unix:rel.sock"), { logger });
const answer = await client.call("ping");
await client.close();
await server.shutdown();
console.log(JSON.stringify({ addr: server.addr, answer }));
`,
    );
    // The listener's address names the absolute path.
    assertEquals(seen, { addr: `unix:${dir}/rel.sock`, answer: "pong" });
  });
});

test("unix: a stale socket file is replaced by listenUnix (listen refuses it); it then serves", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/rpc.sock`;
    // A server that died: it exits without closing, leaving the file.
    await child(dir, path, `listen("unix://${path}"); console.log("{}"); Deno.exit(0);`);
    assert((await Deno.lstat(path)).isSocket, "the stale socket file is left");
    const seen = await child(
      dir,
      path,
      `
const url = "unix://${path}";
const refused = await failure(() => listen(url));
const server = new Server({ logger, handlers: { ping: () => "pong" } }).serve(await listenUnix(url));
const client = new Peer(await connect(url), { logger });
const answer = await client.call("ping");
await client.close();
await server.shutdown();
console.log(JSON.stringify({ refused: refused[0], answer, after: await exists("${path}") }));
`,
    );
    assertEquals(seen, { refused: "AddrInUse", answer: "pong", after: false });
  });
});

test("unix: a live socket is refused as in use and keeps serving", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/rpc.sock`;
    const seen = await child(
      dir,
      path,
      `
const url = "unix://${path}";
const server = new Server({ logger, handlers: { ping: () => "pong" } }).serve(await listenUnix(url));
const second = await failure(() => listenUnix(url));
const client = new Peer(await connect(url), { logger });
const answer = await client.call("ping");
await client.close();
await server.shutdown();
console.log(JSON.stringify({ second, answer }));
`,
    );
    assertEquals(seen, {
      second: ["AddrInUse", `unix socket '${path}' is in use: a server listens on it`],
      answer: "pong",
    });
  });
});

test("unix: a regular file at the path is never removed: listen and listenUnix refuse it", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/notes.txt`;
    await Deno.writeTextFile(path, "keep me");
    const seen = await child(
      dir,
      path,
      `
const url = "unix://${path}";
console.log(JSON.stringify({ sync: await failure(() => listen(url)), async: await failure(() => listenUnix(url)) }));
`,
    );
    const refused = [
      "AlreadyExists",
      `'${path}' exists and is not a socket; it is left alone (remove it, or pick another path)`,
    ];
    assertEquals(seen, { sync: refused, async: refused });
    assertEquals(await Deno.readTextFile(path), "keep me");
  });
});

test("unix: no TLS options and sane permission bits", async () => {
  const { listen, listenUnix } = await import("../transports/tcp.ts");
  assertThrows(() => listen("unix:///x.sock", { cert: "c", key: "k" }), TypeError, "no TLS");
  await assertRejects(() => listenUnix("unix:///x.sock", { mode: 0o1777 }), TypeError, "mode");
  await assertRejects(() => listenUnix("tcp://127.0.0.1:0"), TypeError, "unix: URL");
});

test("rpc serve unix:///path --mode 660 + rpc call and describe over it; SIGTERM removes the file", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/rpc.sock`;
    const permissions = [`--allow-net=unix:${path}`, "--allow-read", `--allow-write=${path}`];
    const server = new RpcProcess(["serve", `unix://${path}`, "--mode", "660"], {
      permissions,
      deadline: 60_000,
    });
    try {
      await server.waitForOutput("stdout", `listening on unix:${path}\n`);
      assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o660);
      const call = await new RpcProcess(["call", `unix://${path}`, "add", '{"a": 1, "b": 2}'], {
        permissions,
      }).finish();
      assertEquals(call, { code: 0, stdout: "3\n", stderr: "" });
      // Our own addr form works too.
      const describe = await new RpcProcess(["describe", `unix:${path}`], { permissions }).finish();
      assertEquals(describe.code, 0, describe.stderr);
      assertEquals(JSON.parse(describe.stdout).openrpc !== undefined, true);
      const refused = await new RpcProcess(["serve", `unix://${path}`], { permissions }).finish();
      assertEquals(refused.code, 2);
      assert(refused.stderr.startsWith(`rpc serve: cannot listen on unix://${path}: unix socket`));
    } finally {
      server.kill("SIGTERM");
      assertEquals((await server.finish()).code, 0);
    }
    assertEquals(await exists(path), false);
    // Nobody there: exit status 2, as for TCP; a host in the URL is a usage error.
    const missing = await new RpcProcess(["call", `unix://${path}`, "add"], { permissions })
      .finish();
    assertEquals(missing.code, 2);
    assert(
      missing.stderr.startsWith(`rpc call: cannot connect to unix://${path}:`),
      missing.stderr,
    );
    const host = await new RpcProcess(["call", "unix://host/rpc.sock", "add"]).finish();
    assertEquals(host.code, 2);
    assert(host.stderr.startsWith("rpc call: 'unix://host/rpc.sock' names a host"), host.stderr);
  });
});
