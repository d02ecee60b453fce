// The listeners with their own socket (websocket and mushroom listen())
// against strangers: request heads that never end, heads too large, and
// running out of file descriptors.

import { Peer, Server } from "../mod.ts";
import { connect } from "../transports/websocket.ts";
import { listen } from "../transports/websocket_server.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { recordingLogger, within } from "./_helpers.ts";
import { headsThatNeverEnd } from "./_http_raw.ts";
import { readToEnd } from "./_ws_raw.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("websocket listen(): heads that never end are closed after headTimeout; fds return to baseline", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listen("ws://127.0.0.1:0/rpc", { logger, headTimeout: 500 }));
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  const { host } = new URL(server.addr);
  // 100 half-sent upgrade heads and 100 connections that send nothing;
  // meanwhile a client is served.
  await headsThatNeverEnd(
    server.addr,
    `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpg`,
    500,
    async () => {
      assertEquals(await client.call("ping"), "pong");
    },
  );
  assertEquals(await client.call("ping"), "pong");
  await client.close();
  await server.shutdown();
});

Deno.test("websocket listen(): a head over maxHeadBytes is answered 431, a malformed one 400", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger }).serve(
    listen("ws://127.0.0.1:0/rpc", { logger, maxHeadBytes: 1024 }),
  );
  const { hostname, port } = new URL(server.addr);
  const ask = async (head: string) => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(encoder.encode(head)).catch(() => 0);
    const text = await within(readToEnd(conn), 10_000, "an answer");
    conn.close();
    return text.split("\r\n")[0];
  };
  assertEquals(
    await ask(`GET /rpc HTTP/1.1\r\nHost: x\r\nCookie: ${"c".repeat(2000)}\r\n\r\n`),
    "HTTP/1.1 431 Request Header Fields Too Large",
  );
  assertEquals(await ask("GET /rpc HTTP/1.1\r\nno colon here\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  assertEquals(await ask("BREW /rpc HTCPCP/1.0\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  assertEquals(await ask("GET /rpc HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 426 Upgrade Required");
  assertEquals(await ask("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 404 Not Found");
  // Upgrade asked for, but not a valid WebSocket handshake (no key).
  const upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  assertEquals(
    await ask(`GET /rpc HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${upgrade}\r\n`),
    "HTTP/1.1 400 Bad Request",
  );
  // Sent to a name that is not this loopback listener's (DNS rebinding).
  assertEquals(
    await ask(`GET /rpc HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`),
    "HTTP/1.1 403 Forbidden",
  );
  await server.shutdown();
});

Deno.test("websocket listen(): a Latin-1 header value and empty lines before the request line are taken", async () => {
  const logger = recordingLogger();
  let seen: string | null = null;
  const server = new Server({ logger }).serve(
    listen("ws://127.0.0.1:0/rpc", {
      logger,
      authorize: (request) => (seen = request.headers.get("x-name"), true),
    }),
  );
  const { hostname, port, host } = new URL(server.addr);
  const head = encoder.encode(
    `\r\n\r\nGET /rpc HTTP/1.1\r\nHost: ${host}\r\nX-Name: caf?\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\n\r\n`,
  );
  head[head.indexOf("?".charCodeAt(0))] = 0xe9; // "café" in Latin-1, not UTF-8
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(head);
  const answer = new Uint8Array(1024);
  const n = await within(conn.read(answer), 10_000, "the answer");
  assertStringIncludes(decoder.decode(answer.subarray(0, n ?? 0)), "HTTP/1.1 101 ");
  assertEquals(seen, "caf\u00e9");
  conn.close();
  await server.shutdown();
});

for (const wire of ["ws", "mushroom"]) {
  Deno.test(`${wire} listen(): running out of file descriptors does not end the process; it serves again`, async () => {
    const script = new URL("./_listener_emfile.ts", import.meta.url).pathname;
    const command = new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -n 400; exec "${Deno.execPath()}" run --allow-net=127.0.0.1 "${script}" ${wire}`,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await within(command.output(), 90_000, "the child");
    const err = decoder.decode(stderr);
    assertEquals(code, 0, err);
    const report = JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!);
    assertEquals(report.answer, "pong");
    assert(report.opened > 100, `only ${report.opened} connections opened`);
    assertStringIncludes(report.warnings.join("\n"), "Too many open files");
    // Said once, not once per failed accept.
    assert(report.warnings.length <= 3, report.warnings.join("\n"));
  });
}
