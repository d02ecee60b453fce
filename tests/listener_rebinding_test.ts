// DNS rebinding against the listeners on loopback: a page on evil.example
// whose name was re-pointed to 127.0.0.1 is same-origin with itself, so its
// requests carry `Origin: http://evil.example:8080` and `Host:
// evil.example:8080`. A loopback listener takes only loopback names in Host
// (or those the user lists); the same-origin check alone would let it in.

import { Peer, Server } from "../mod.ts";
import { connect } from "../transports/websocket.ts";
import { listen as listenWs, websocketHandler } from "../transports/websocket_server.ts";
import { listen as listenMushroom, mushroomHandler } from "../transports/mushroom_server.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { recordingLogger } from "./_helpers.ts";
import { post, RawHttp } from "./_http_raw.ts";
import { RawWebSocket } from "./_ws_raw.ts";

const EVIL = "evil.example:8080";

/** Host and Origin headers of a page at `host`, served from that host itself. */
function pageAt(host: string): Record<string, string> {
  return { host, origin: `http://${host}` };
}

Deno.test("websocket listen() on loopback: a rebound name is refused (403); localhost, 127.0.0.1, [::1] and no Origin pass", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listenWs("ws://127.0.0.1:0/rpc", { logger }));
  const { port } = new URL(server.addr);
  // The page and the request agree (same origin), but the name is not ours.
  await assertRejects(() => RawWebSocket.connect(server.addr, pageAt(EVIL)), Error, "403");
  // Without an Origin, too: a loopback listener answers loopback names only.
  await assertRejects(() => RawWebSocket.connect(server.addr, { host: EVIL }), Error, "403");
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
    (await RawWebSocket.connect(server.addr, pageAt(host))).close();
    (await RawWebSocket.connect(server.addr, { host })).close();
  }
  const client = new Peer(await connect(server.addr), { logger: recordingLogger() });
  assertEquals(await client.call("ping"), "pong");
  await client.close();
  await server.shutdown();

  // A name the user lists is taken.
  const named = new Server({ logger, handlers: { ping: () => "pong" } })
    .serve(listenWs("ws://127.0.0.1:0/rpc", { logger, hosts: ["app.test"] }));
  (await RawWebSocket.connect(named.addr, pageAt("app.test:8080"))).close();
  await assertRejects(() => RawWebSocket.connect(named.addr, pageAt(EVIL)), Error, "403");
  await named.shutdown();
});

Deno.test("mushroom listen() on loopback: a rebound name is refused (403); loopback names, publicUrl's and no Origin pass", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger })
    .serve(listenMushroom("http://127.0.0.1:0/", { logger, publicUrl: "http://app.test:8080/" }));
  const { port } = new URL(server.addr);
  const hello = '{"transports": ["poll"], "auth": null}';
  const ask = async (headers: Record<string, string>) => {
    const raw = await RawHttp.open(server.addr);
    const { host, ...rest } = headers;
    const extra = Object.entries(rest).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    await raw.send(
      post(server.addr, hello, `${extra}Connection: close\r\n`).replace(
        /Host: [^\r]*/,
        `Host: ${host ?? `127.0.0.1:${port}`}`,
      ),
    );
    const answer = await raw.ended(10_000);
    raw.close();
    await raw.done();
    return Number(answer.split(" ")[1]);
  };
  assertEquals(await ask(pageAt(EVIL)), 403);
  assertEquals(await ask({ host: EVIL }), 403);
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
    assertEquals(await ask(pageAt(host)), 200, host);
    assertEquals(await ask({ host }), 200, host);
  }
  // publicUrl names the server: its pages pass.
  assertEquals(await ask(pageAt("app.test:8080")), 200);
  await server.shutdown();
});

Deno.test("websocketHandler and mushroomHandler: Host is checked only when hosts is given (they cannot know their address)", async () => {
  const server = new Server();
  const upgrade = (host: string) =>
    new Request(`http://${host}/rpc`, { headers: { ...pageAt(host), upgrade: "websocket" } });
  // Not told: any Host (the default check is then the same origin only).
  const open = websocketHandler(server, { path: "/rpc" });
  assertEquals((await open(upgrade(EVIL)))?.status, 400); // no key: past the checks
  const guarded = websocketHandler(server, { path: "/rpc", hosts: ["app.test"] });
  const refused = await guarded(upgrade(EVIL));
  assertEquals(refused?.status, 403);
  assertStringIncludes(await refused!.text(), "Host");
  assertEquals((await guarded(upgrade("app.test:8080")))?.status, 400);
  assertEquals((await guarded(upgrade("127.0.0.1:8080")))?.status, 400);

  const live = mushroomHandler(server, { path: "/live/", hosts: ["app.test"] });
  const hello = (host: string) =>
    live(
      new Request(`http://${host}/live/`, {
        method: "POST",
        headers: pageAt(host),
        body: '{"transports": ["poll"], "auth": null}',
      }),
    );
  assertEquals((await hello(EVIL))?.status, 403);
  const taken = await hello("app.test:8080");
  assertEquals(taken?.status, 200);
  await taken?.body?.cancel();
  await server.shutdown();
});

Deno.test("websocketHandler and mushroomHandler in Deno.serve: a loopback client gets listen()'s Host check, as httpHandler does", async () => {
  const server = new Server();
  const local = { remoteAddr: { hostname: "127.0.0.1", port: 50_000 } };
  const remote = { remoteAddr: { hostname: "192.0.2.7", port: 50_000 } };
  const upgrade = (host: string) =>
    new Request(`http://${host}/rpc`, { headers: { ...pageAt(host), upgrade: "websocket" } });
  const open = websocketHandler(server, { path: "/rpc" });
  // Before, a rebound page reached the upgrade from a loopback client too.
  assertEquals((await open(upgrade(EVIL), local))?.status, 403);
  assertEquals((await open(upgrade("localhost:8080"), local))?.status, 400); // past the checks
  assertEquals((await open(upgrade(EVIL), remote))?.status, 400); // not on loopback: any name
  const named = websocketHandler(server, { path: "/rpc", hosts: ["app.test"] });
  assertEquals((await named(upgrade("app.test:8080"), local))?.status, 400);

  const live = mushroomHandler(server, { path: "/live/" });
  const hello = (host: string, info: typeof local) =>
    live(
      new Request(`http://${host}/live/`, {
        method: "POST",
        headers: pageAt(host),
        body: '{"transports": ["poll"], "auth": null}',
      }),
      info,
    );
  assertEquals((await hello(EVIL, local))?.status, 403);
  const taken = await hello(EVIL, remote);
  assertEquals(taken?.status, 200);
  await taken?.body?.cancel();
  await server.shutdown();
});
