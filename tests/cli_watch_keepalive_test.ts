// `rpc watch` keeps a quiet connection alive: it pings the server when
// nothing has arrived for --keep-alive ms, so a server's idle timeout does
// not close a watcher that is only waiting for notifications.

import { Server } from "../mod.ts";
import { listen } from "../transports/tcp.ts";
import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { RpcProcess } from "./_cli.ts";
import { recordingLogger, test, waitFor } from "./_helpers.ts";

/** The server's idle timeout: the watcher below stays silent for three times as long. */
const IDLE = 1000;

function quietServer() {
  const logger = recordingLogger();
  const server = new Server({ idleTimeout: IDLE, logger }).serve(listen("tcp://127.0.0.1:0"));
  /** Whether the server closed a connection as idle. */
  const closedIdle = () => logger.messages("debug").some((m) => m.includes(`idle for ${IDLE} ms`));
  return { server, closedIdle };
}

test("rpc watch: keep-alive pings outlast the server's idle timeout; a late notification is printed", async () => {
  const { server, closedIdle } = quietServer();
  const watching = new RpcProcess(["watch", server.addr, "--keep-alive", "100", "--count", "1"]);
  await waitFor(() => server.connections.size === 1, { message: "the watcher to connect" });
  const [connection] = [...server.connections.values()];
  const since = performance.now();
  // Nothing is sent to the watcher for three idle timeouts: only its pings keep it open.
  await waitFor(
    () => performance.now() - since > 3 * IDLE || server.connections.size === 0,
    { message: "three idle timeouts to pass" },
  );
  assertEquals(server.connections.size, 1, "the server closed the quiet watcher");
  assertEquals(closedIdle(), false);
  await connection!.peer.notify("news", { headline: "still here" });
  const ended = await watching.finish();
  assertEquals(ended.code, 0, ended.stderr);
  assertEquals(JSON.parse(ended.stdout), { method: "news", params: { headline: "still here" } });
  await server.shutdown();
});

test("rpc watch --keep-alive 0: the server's idle timeout closes a quiet watcher", async () => {
  const { server, closedIdle } = quietServer();
  const watching = new RpcProcess(["watch", server.addr, "--keep-alive", "0"]);
  const ended = await watching.finish();
  assertEquals([ended.code, ended.stdout], [2, ""]);
  assertStringIncludes(ended.stderr, "rpc watch: the connection closed");
  assertEquals(closedIdle(), true);
  await server.shutdown();
});

test("rpc watch --keep-alive takes a whole number of milliseconds", async () => {
  const watching = new RpcProcess(["watch", "tcp://127.0.0.1:1", "--keep-alive", "soon"]);
  const ended = await watching.finish();
  assertEquals(ended.code, 2);
  assertStringIncludes(ended.stderr, "--keep-alive must be a whole number of at least 0");
});
