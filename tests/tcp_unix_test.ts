// The TCP transport over a unix socket (a Deno.UnixConn has a path, not a
// hostname and port). Unix sockets need their own net permission, which the
// test run does not grant, so the sockets live in a child process allowed
// exactly that path; it prints what it saw as one JSON line.

import { assertEquals } from "./_assert.ts";
import { within } from "./_helpers.ts";

const tcp = new URL("../transports/tcp.ts", import.meta.url).href;
const core = new URL("../mod.ts", import.meta.url).href;

/** The child: a server on a TcpListener over a unix listener, a TcpTransport client. */
function program(path: string): string {
  return `
import { Peer, Server, silentLogger as logger } from "${core}";
import { TcpListener, TcpTransport } from "${tcp}";
const path = ${JSON.stringify(path)};
const listener = new TcpListener(Deno.listen({ transport: "unix", path }), false, { logger });
const server = new Server({ logger, handlers: { add: ({ a, b }) => a + b } }).serve(listener);
const transport = new TcpTransport(await Deno.connect({ transport: "unix", path }), { logger });
const client = new Peer(transport, { logger });
const sum = await client.call("add", { a: 1, b: 2 });
const names = [...server.connections.values()].map((c) => c.name);
await client.close();
await server.shutdown();
console.log(JSON.stringify({ addr: listener.addr, remote: transport.remote, sum, names }));
`;
}

Deno.test("tcp: a unix socket connection can be wrapped in TcpTransport and served", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seed-rpc-unix-" });
  const path = `${dir}/rpc.sock`;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-lock",
        `--allow-net=unix:${path}`,
        "--allow-read",
        `--allow-write=${dir}`,
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(program(path)));
    await writer.close();
    const { code, stdout, stderr } = await within(child.output(), 30_000, "the child");
    const err = new TextDecoder().decode(stderr);
    assertEquals(code, 0, err);
    const seen = JSON.parse(new TextDecoder().decode(stdout));
    assertEquals(seen, {
      addr: `unix:${path}`,
      remote: `unix:${path}`,
      sum: 3,
      // The accepting side's peer has no path (an unnamed client socket).
      names: ["unix:"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
