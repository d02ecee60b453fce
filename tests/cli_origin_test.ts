// rpc serve and cross-site calls: a page from another site cannot call a
// local ws://, http:// or http:// --dialect mushroom server unless --origin lists it.

import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { rpc, serve } from "./_cli.ts";
import { test } from "./_helpers.ts";
import { RawHttp } from "./_http_raw.ts";
import { RawWebSocket } from "./_ws_raw.ts";

const EVIL = "https://evil.example";
const APP = "https://app.example";

/** Whether a WebSocket upgrade from `origin` is accepted at `url`. */
async function upgrades(url: string, origin: string): Promise<boolean> {
  try {
    const socket = await RawWebSocket.connect(url, { origin });
    socket.close();
    return true;
  } catch (error) {
    assertStringIncludes((error as Error).message, "403");
    return false;
  }
}

/** The status and CORS header of a mushroom handshake from `origin`. */
async function handshake(url: string, origin: string): Promise<[number, string | null]> {
  const response = await fetch(url, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ transports: ["poll"] }),
  });
  await response.body?.cancel();
  return [response.status, response.headers.get("access-control-allow-origin")];
}

test("rpc serve ws://: another site's page is refused unless --origin lists it", async () => {
  const plain = await serve("ws://127.0.0.1:0/rpc");
  const listed = await serve(
    "ws://127.0.0.1:0/rpc",
    "--origin",
    APP,
    "--origin",
    "http://x.test:8080",
  );
  const any = await serve("ws://127.0.0.1:0/rpc", "--origin", "*");
  try {
    assertEquals(await upgrades(plain.url, EVIL), false);
    assertEquals(await upgrades(listed.url, EVIL), false);
    assertEquals(await upgrades(listed.url, APP), true);
    assertEquals(await upgrades(listed.url, "http://x.test:8080"), true);
    assertEquals(await upgrades(any.url, EVIL), true);
    // A client that is not a browser (no Origin) still calls.
    assertEquals((await rpc("call", listed.url, "add", '{"a": 1, "b": 2}')).stdout, "3\n");
  } finally {
    for (const server of [plain, listed, any]) assertEquals((await server.stop()).code, 0);
  }
});

test("rpc serve http:// --dialect mushroom: another site's page is refused unless --origin lists it", async () => {
  const plain = await serve("http://127.0.0.1:0/", "--dialect", "mushroom");
  const listed = await serve("http://127.0.0.1:0/", "--origin", APP, "--dialect", "mushroom");
  const any = await serve("http://127.0.0.1:0/", "--origin", "*", "--dialect", "mushroom");
  try {
    assertEquals((await handshake(plain.url, EVIL))[0], 403);
    assertEquals((await handshake(listed.url, EVIL))[0], 403);
    assertEquals(await handshake(listed.url, APP), [200, APP]);
    const [status, allowed] = await handshake(any.url, EVIL);
    assertEquals(status, 200);
    assert(allowed === "*" || allowed === EVIL, `${allowed}`);
    assertEquals(
      (await rpc("call", listed.url, "add", '{"a": 1, "b": 2}', "--dialect", "mushroom")).stdout,
      "3\n",
    );
  } finally {
    for (const server of [plain, listed, any]) assertEquals((await server.stop()).code, 0);
  }
});

test("rpc serve --origin: only origins, only for servers browsers can reach", async () => {
  const cases: [string[], string][] = [
    [["serve", "tcp://127.0.0.1:0", "--origin", APP], "--origin applies to ws://, wss://, http://"],
    [["serve", "ws://127.0.0.1:0/", "--origin", `${APP}/`], `'${APP}/' is not an origin`],
    [["serve", "ws://127.0.0.1:0/", "--origin", "app.example"], "'app.example' is not an origin"],
    [["call", "ws://127.0.0.1:1/", "m", "--origin", APP], "--origin does not apply to 'call'"],
    [
      ["serve", "amqp://guest:guest@127.0.0.1:1/", "--service", "s", "--origin", APP],
      "--origin applies to ws://, wss://, http://",
    ],
  ];
  for (const [args, message] of cases) {
    const run = await rpc(...args);
    assertEquals(run.code, 2, args.join(" "));
    assertStringIncludes(run.stderr.split("\n")[0]!, message);
  }
});

test("rpc serve --host: a name given may be in Host on a loopback server; others are refused", async () => {
  const plain = await serve("ws://127.0.0.1:0/rpc");
  const named = await serve("ws://127.0.0.1:0/rpc", "--host", "app.internal");
  const mushroom = await serve(
    "http://127.0.0.1:0/",
    "--host",
    "app.internal",
    "--dialect",
    "mushroom",
  );
  try {
    const port = (url: string) => new URL(url).port;
    const upgrade = async (url: string, host: string) => {
      try {
        (await RawWebSocket.connect(url, { host })).close();
        return true;
      } catch (error) {
        assertStringIncludes((error as Error).message, "403");
        return false;
      }
    };
    // A page at a re-pointed name (DNS rebinding) is refused by default.
    assertEquals(await upgrade(plain.url, `app.internal:${port(plain.url)}`), false);
    assertEquals(await upgrade(named.url, `app.internal:${port(named.url)}`), true);
    assertEquals(await upgrade(named.url, `evil.example:${port(named.url)}`), false);
    assertEquals(await upgrade(named.url, `localhost:${port(named.url)}`), true);
    const http = await RawHttp.open(mushroom.url);
    const body = '{"transports": ["poll"]}';
    await http.send(
      `POST / HTTP/1.1\r\nHost: app.internal:${port(mushroom.url)}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assertEquals((await http.response(10_000)).status, 200);
    http.close();
    await http.done();
  } finally {
    for (const server of [plain, named, mushroom]) assertEquals((await server.stop()).code, 0);
  }
});

test("rpc serve --host: names only, only for servers browsers can reach", async () => {
  for (
    const [args, expected] of [
      [["serve", "tcp://127.0.0.1:0", "--host", "a.example"], "--host applies to ws://"],
      [["serve", "ws://127.0.0.1:0/", "--host", "a.example:80"], "'a.example:80' is not a host"],
      [["call", "ws://127.0.0.1:1/", "m", "--host", "a.example"], "--host does not apply"],
    ] as const
  ) {
    const { code, stderr } = await rpc(...args);
    assertEquals(code, 2, stderr);
    assertStringIncludes(stderr, expected);
  }
});
