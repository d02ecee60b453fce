// quickrpc's config strings and transports: stdio, tcp, tcpserv, mux, restart, internal,
// over real sockets and a real child process.

import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  parseCodecString,
  parseQuickRpcTransport,
  parseSecurityString,
  parseTransportString,
} from "../protocol/quickrpc/quickrpc.ts";
import {
  quickRpcApi,
  QuickRpcChild,
  type QuickRpcInternal,
  QuickRpcMux,
  QuickRpcRestart,
  QuickRpcTcpClient,
  QuickRpcTcpServer,
  type QuickRpcTransport,
  quickRpcTransport,
} from "../transports/quickrpc.ts";
import { type CallContext, ConnectionClosed } from "../mod.ts";
import { test, waitFor, within } from "./_helpers.ts";

const add = ({ a, b }: { a: number; b: number }) => a + b;
const from = (_: unknown, ctx: CallContext) => ctx.from;

test("every transport string the original accepts parses as its fromstring does", () => {
  assertEquals(parseTransportString("stdio:"), { kind: "stdio" });
  assertEquals(parseTransportString("stdio"), { kind: "stdio" });
  assertEquals(parseTransportString("tcp:localhost:8888"), {
    kind: "tcp",
    host: "localhost",
    port: 8888,
  });
  assertEquals(parseTransportString("tcpserv::31001"), { kind: "tcpserv", iface: "", port: 31001 });
  assertEquals(parseTransportString("udp:8888"), { kind: "udp", port: 8888 });
  assertEquals(parseTransportString("restart::tcp:h:1"), {
    kind: "restart",
    seconds: 10,
    sub: { kind: "tcp", host: "h", port: 1 },
  });
  assertEquals(parseTransportString("restart:0:udp:1").kind, "restart");
  assertEquals((parseTransportString("restart:0:udp:1") as { seconds: number }).seconds, 1);
  assertEquals(parseTransportString("mux:(restart:5:tcp:h:1)(mux:(udp:2)(stdio:))"), {
    kind: "mux",
    parts: [
      { kind: "restart", seconds: 5, sub: { kind: "tcp", host: "h", port: 1 } },
      { kind: "mux", parts: [{ kind: "udp", port: 2 }, { kind: "stdio" }] },
    ],
  });
  assertEquals(parseTransportString("mux:[udp:2]<stdio:>"), {
    kind: "mux",
    parts: [{ kind: "udp", port: 2 }, { kind: "stdio" }],
  });
  assertEquals(parseTransportString("internal"), { kind: "internal", bus: "internal", name: "" });
  assertEquals(parseTransportString("internal:b"), { kind: "internal", bus: "b", name: "" });
  assertEquals(parseTransportString("internal:b:n"), { kind: "internal", bus: "b", name: "n" });
});

test("malformed transport strings and Qt transports are refused with the reason", () => {
  for (
    const [text, why] of [
      ["tcp:h:1:2", "expected tcp:<host>:<port>"],
      ["tcp::1", "a host is required"],
      ["udp:x", "not a port"],
      ["udp:70000", "not a port"],
      ["mux:(udp:1", "not closed"],
      ["mux:(udp:1)x", "must start with a paren"],
      ["restart:1.5:udp:1", "whole number"],
      ["qtcp:h:1", "Qt transports run inside a PyQt4 event loop"],
      ["qprocess:(ls)", "Qt transports"],
      ["qudp:1", "Qt transports"],
      ["serial:/dev/ttyS0", "no transport has the shorthand 'serial'"],
    ]
  ) assertThrows(() => parseTransportString(text!), TypeError, why);
});

test("codec and security strings parse as the original's, delimiter taken literally", () => {
  assertEquals(parseCodecString("jrpc"), { kind: "jrpc", delimiter: "\0" });
  assertEquals(parseCodecString("jrpc:"), { kind: "jrpc", delimiter: "\0" });
  assertEquals(parseCodecString("jrpc:\n"), { kind: "jrpc", delimiter: "\n" });
  // A config file's backslash-n is two characters, as Python's .encode('ascii') leaves it.
  assertEquals(parseCodecString("jrpc:\\n"), { kind: "jrpc", delimiter: "\\n" });
  assertThrows(() => parseCodecString("jrpc:é"), TypeError, "ASCII");
  assertThrows(() => parseCodecString("jsonrpc"), TypeError, "no codec has the shorthand");
  assertEquals(parseCodecString("terse"), { kind: "terse", delimiter: "\n" });
  assertEquals(parseCodecString("terse:"), { kind: "terse", delimiter: "\n" });
  assertEquals(parseSecurityString("null"), "null");
  assertEquals(parseSecurityString("blindly_believe_everything:x"), "blindly_believe_everything");
  assertThrows(() => parseSecurityString("hmac"), TypeError);
  // The older helper still maps tcp strings to URLs.
  assertEquals(parseQuickRpcTransport("tcpserv::8888").url, "tcp://0.0.0.0:8888");
});

test("terse from its string over tcpserv and tcp: calls between ours; security refused as the original does", async () => {
  await using server = await quickRpcApi({
    codec: "terse",
    transport: "tcpserv:127.0.0.1:0",
    handlers: { add, from },
  });
  const port = (server.channel.transport as QuickRpcTcpServer).port;
  await using client = await quickRpcApi({ codec: "terse", transport: `tcp:127.0.0.1:${port}` });
  assertEquals(await client.peer.call("add", { a: 2, b: 3 }), 5);
  assertEquals((await client.peer.call("from", {}) as string).startsWith("127.0.0.1:"), true);
  // The original's TerseCodec raises 'Security is not supported by TerseCodec.'
  await assertRejects(
    () =>
      quickRpcApi({
        codec: "terse",
        security: "blindly_believe_everything",
        transport: "tcp:127.0.0.1:1",
      }),
    TypeError,
    "security is not supported by the terse codec",
  );
});

test("tcpserv and tcp from strings: calls, the sender named ip:port, a broadcast to all", async () => {
  await using server = await quickRpcApi({
    codec: "jrpc",
    transport: "tcpserv:127.0.0.1:0",
    security: "null",
    handlers: { add, from },
  });
  const port = (server.channel.transport as QuickRpcTcpServer).port;
  const heard: string[] = [];
  const hear = { news: ({ text }: { text: string }) => void heard.push(text) };
  await using a = await quickRpcApi({ transport: `tcp:127.0.0.1:${port}`, handlers: hear });
  await using b = await quickRpcApi({
    transport: { kind: "tcp", host: "127.0.0.1", port },
    handlers: hear,
  });
  assertEquals(await a.peer.call("add", { a: 2, b: 3 }), 5);
  const name = await b.peer.call("from", {}) as string;
  assertEquals(name.startsWith("127.0.0.1:"), true);
  assertEquals((server.channel.transport as QuickRpcTcpServer).peers.includes(name), true);
  await server.peer.notify("news", { text: "all" });
  await server.peer.notify("news", { text: "b only" }, { to: name });
  await waitFor(() => heard.length === 3);
  assertEquals(heard.sort(), ["all", "all", "b only"]);
});

test("jrpc:\\n and blindly_believe_everything put the original's bytes on the wire", async () => {
  await using server = await quickRpcApi({
    codec: "jrpc:\n",
    transport: "tcpserv:127.0.0.1:0",
    security: "blindly_believe_everything",
    handlers: { add },
  });
  const port = (server.channel.transport as QuickRpcTcpServer).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      '{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}, "id": 7}\n',
    ),
  );
  const expected = '{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": {"user": ""}}\n' +
    '{"jsonrpc": "2.0", "result": 3, "id": 7}\n';
  let text = "";
  const buffer = new Uint8Array(1024);
  while (text.length < expected.length) {
    const n = await within(conn.read(buffer), 5000, "the reply");
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  assertEquals(text, expected);
  conn.close();
});

test("internal: calls to a named peer, broadcasts to the others, unknown receivers refused", async () => {
  const heard: string[] = [];
  await using _calc = await quickRpcApi({
    transport: "internal:t1:calc",
    handlers: { add, from, news: ({ t }: { t: string }) => void heard.push(`calc ${t}`) },
  });
  await using other = await quickRpcApi({
    transport: "internal:t1",
    handlers: { news: ({ t }: { t: string }) => void heard.push(`other ${t}`) },
  });
  await using user = await quickRpcApi({ transport: "internal:t1:user" });
  assertEquals((other.channel.transport as QuickRpcInternal).name, "t1.0");
  assertEquals(await user.peer.call("add", { a: 1, b: 2 }, { to: "calc" }), 3);
  assertEquals(await user.peer.call("from", {}, { to: "calc" }), "user");
  await user.peer.notify("news", { t: "hi" });
  await waitFor(() => heard.length === 2);
  assertEquals(heard.sort(), ["calc hi", "other hi"]);
  await assertRejects(
    () => user.peer.notify("news", { t: "x" }, { to: "nobody" }),
    Error,
    "Unknown receiver nobody",
  );
});

/** Counts what is sent through a transport, by receivers. */
function spy(inner: QuickRpcTransport, sends: string[]): QuickRpcTransport {
  return {
    name: inner.name,
    open: (sink) => inner.open(sink),
    send: (data, receivers) => {
      sends.push(receivers?.join(",") ?? "*");
      return inner.send(data, receivers);
    },
    close: () => inner.close(),
  };
}

test("mux: one API over tcpserv and internal, each reply back on its own transport only", async () => {
  const viaServ: string[] = [];
  const viaBus: string[] = [];
  const serv = new QuickRpcTcpServer("127.0.0.1", 0);
  await using server = await quickRpcApi({
    transport: new QuickRpcMux([
      spy(serv, viaServ),
      spy(quickRpcTransport("internal:t2:server"), viaBus),
    ]),
    handlers: { from },
  });
  await using tcpClient = await quickRpcApi({ transport: `tcp:127.0.0.1:${serv.port}` });
  await using busClient = await quickRpcApi({ transport: "internal:t2:client" });
  const [a, b] = await Promise.all([
    tcpClient.peer.call("from", {}),
    busClient.peer.call("from", {}, { to: "server" }),
  ]);
  assertEquals((a as string).startsWith("127.0.0.1:"), true);
  assertEquals(b, "client");
  assertEquals([viaServ, viaBus], [[a], ["client"]]);
  // A broadcast goes to every part.
  await server.peer.notify("hello", {});
  assertEquals([viaServ.length, viaBus.length], [2, 2]);
  // From a string, and a transport object passes through.
  const mux = quickRpcTransport("mux:(tcpserv:127.0.0.1:0)(internal:t3)") as QuickRpcMux;
  assertEquals(mux.parts.length, 2);
  assertEquals(quickRpcTransport(mux), mux);
});

test("restart: the client re-opens after the server comes back, and stops on close", async () => {
  const events: boolean[] = [];
  let server = new QuickRpcTcpServer("127.0.0.1", 0);
  let api = await quickRpcApi({ transport: server, handlers: { add } });
  const port = server.port;
  await using client = await quickRpcApi({
    transport: new QuickRpcRestart(new QuickRpcTcpClient("127.0.0.1", port), 0.05, {
      onRestart: ({ opened }) => void events.push(opened),
    }),
  });
  assertEquals(await client.peer.call("add", { a: 1, b: 1 }), 2);
  await api.close();
  await waitFor(() => events.includes(false));
  await assertRejects(() => client.peer.call("add", { a: 1, b: 1 }), Error, "not running");
  server = new QuickRpcTcpServer("127.0.0.1", port);
  api = await quickRpcApi({ transport: server, handlers: { add } });
  await waitFor(() => (client.channel.transport as QuickRpcRestart).up, { timeout: 5000 });
  assertEquals(await client.peer.call("add", { a: 2, b: 2 }), 4);
  await api.close();
});

test("restart gives up after maxRestarts and the API closes", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const api = await quickRpcApi({
    transport: `restart:1:tcp:127.0.0.1:${port}`,
    transports: { restart: { maxRestarts: 0 } },
    logger: { debug() {}, warn() {}, error() {} },
  });
  await within(api.channel.closed, 5000, "giving up");
  await api.close();
});

test("stdio: a child process serving quickrpc on its stdin and stdout", async () => {
  const child = new QuickRpcChild(Deno.execPath(), [
    "run",
    "--quiet",
    new URL("./fixtures/quickrpc_stdio_child.ts", import.meta.url).pathname,
  ]);
  await using api = await quickRpcApi({ transport: child });
  assertEquals(await api.peer.call("add", { a: 20, b: 22 }), 42);
  assertEquals(await api.peer.call("whoami", {}), "stdio");
  await api.close();
  assertEquals((await child.status).success, true);
});

test("tcp: large telegrams sent at once arrive whole, never interleaved", async () => {
  const got: number[] = [];
  await using server = await quickRpcApi({
    transport: "tcpserv:127.0.0.1:0",
    handlers: {
      big: ({ n, text }: { n: number; text: string }) =>
        void (text === String(n).repeat(100_000) && got.push(n)),
    },
  });
  const port = (server.channel.transport as QuickRpcTcpServer).port;
  await using client = await quickRpcApi({ transport: `tcp:127.0.0.1:${port}` });
  await Promise.all(
    Array.from(
      { length: 10 },
      (_, n) => client.peer.notify("big", { n, text: String(n).repeat(100_000) }),
    ),
  );
  await waitFor(() => got.length === 10);
  assertEquals(got.sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("jrpc:<delimiter> of two characters: telegrams split anywhere, the delimiter too, are reassembled", async () => {
  const got: number[] = [];
  await using server = await quickRpcApi({
    codec: "jrpc:@@",
    transport: "tcpserv:127.0.0.1:0",
    handlers: { n: ({ n, pad }: { n: number; pad: string }) => void got.push(n + pad.length) },
  });
  const port = (server.channel.transport as QuickRpcTcpServer).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const telegram = (n: number, pad: number) =>
    `{"jsonrpc": "2.0", "method": "n", "params": {"n": ${n}, "pad": "${"x".repeat(pad)}"}}@@`;
  const bytes = new TextEncoder().encode(telegram(1, 0) + telegram(2, 300_000) + telegram(3, 0));
  // Pieces of 1 to 7 bytes near the delimiters, 4 KiB through the long telegram.
  for (let at = 0; at < bytes.length;) {
    const size = at < 100 || bytes.length - at < 100 ? 1 + (at % 7) : 4096;
    await conn.write(bytes.subarray(at, at + size));
    at += size;
  }
  await waitFor(() => got.length === 3);
  assertEquals(got, [1, 300_002, 3]);
  conn.close();
});

test("tcpserv: a peer that never reads is cut once maxUnsentBytes is unwritten; the others keep being served", async () => {
  await using server = await quickRpcApi({
    transport: "tcpserv:127.0.0.1:0",
    transports: { write: { maxUnsentBytes: 1024 * 1024 } },
    handlers: { add },
  });
  const tcp = server.channel.transport as QuickRpcTcpServer;
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: tcp.port }); // never reads
  const name = `127.0.0.1:${(stuck.localAddr as Deno.NetAddr).port}`;
  await waitFor(() => tcp.peers.includes(name));
  // 10 MiB at once, in 256 KiB telegrams: more than the bound and the kernel's buffers.
  const big = "x".repeat(256 * 1024);
  const sent = await Promise.allSettled(
    Array.from({ length: 40 }, () => server.peer.notify("big", { big }, { to: name })),
  );
  const refused = sent.filter((s) => s.status === "rejected") as PromiseRejectedResult[];
  assertEquals(refused.length > 0, true, "none refused");
  assertEquals(refused[0].reason instanceof ConnectionClosed, true);
  assertEquals((refused[0].reason as ConnectionClosed).code, "write-overflow");
  await waitFor(() => !tcp.peers.includes(name));
  await using client = await quickRpcApi({ transport: `tcp:127.0.0.1:${tcp.port}` });
  assertEquals(await client.peer.call("add", { a: 2, b: 3 }), 5);
  stuck.close();
});

test("tcpserv: a send to a peer that reads nothing fails after writeTimeout and the peer is cut", async () => {
  await using server = await quickRpcApi({
    transport: "tcpserv:127.0.0.1:0",
    transports: { write: { writeHighWaterMark: 64 * 1024, writeTimeout: 200 } },
    handlers: { add },
  });
  const tcp = server.channel.transport as QuickRpcTcpServer;
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: tcp.port }); // never reads
  const name = `127.0.0.1:${(stuck.localAddr as Deno.NetAddr).port}`;
  await waitFor(() => tcp.peers.includes(name));
  const big = "x".repeat(256 * 1024);
  // One after another: the kernel's buffers fill, then a send waits and times out.
  const error = await within(
    (async () => {
      for (let i = 0; i < 1000; i++) {
        try {
          await server.peer.notify("big", { big }, { to: name });
        } catch (error) {
          return error as ConnectionClosed;
        }
      }
      throw new Error("1000 sends to a peer that reads nothing all went through");
    })(),
    10_000,
    "the write timeout",
  );
  assertEquals(error.code, "write-timeout");
  await waitFor(() => !tcp.peers.includes(name));
  await using client = await quickRpcApi({ transport: `tcp:127.0.0.1:${tcp.port}` });
  assertEquals(await client.peer.call("add", { a: 2, b: 3 }), 5);
  stuck.close();
});

test("child: one that never reads its stdin is cut at maxUnsentBytes, and close still stops it", async () => {
  const child = new QuickRpcChild("sleep", ["60"], undefined, { maxUnsentBytes: 256 * 1024 });
  const api = await quickRpcApi({ transport: child });
  const big = "x".repeat(64 * 1024);
  const sent = await Promise.allSettled(
    Array.from({ length: 40 }, () => api.peer.notify("big", { big })),
  );
  const refused = sent.filter((s) => s.status === "rejected") as PromiseRejectedResult[];
  assertEquals(refused.length > 0, true, "none refused");
  assertEquals((refused[0].reason as ConnectionClosed).code, "write-overflow");
  // sleep ignores the end of its stdin: close kills it.
  await within(api.close(), 10_000, "close");
  assertEquals((await child.status).success, false);
});
