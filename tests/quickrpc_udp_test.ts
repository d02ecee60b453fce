// quickrpc's udp: transport over node:dgram, on loopback only: one datagram per telegram,
// the sender's address as its name, broadcasts to 127.255.255.255, no reassembly, size limit.

import { assertEquals, assertRejects } from "@std/assert";
import dgram from "node:dgram";
import { quickRpcApi, QuickRpcChannel, QuickRpcUdp } from "../transports/quickrpc.ts";
import type { CallContext } from "../mod.ts";
import { test, waitFor } from "./_helpers.ts";

const quiet = { debug() {}, warn() {}, error() {} };
const LOOPBACK = { bind: "127.0.0.1", names: "ip:port" } as const;

test("udp: a call to one receiver by address, the reply routed back to the sender", async () => {
  await using server = await quickRpcApi({
    transport: new QuickRpcUdp(0, LOOPBACK),
    handlers: { from: (_: unknown, ctx: CallContext) => ctx.from },
  });
  const clientUdp = new QuickRpcUdp(0, LOOPBACK);
  await using client = await quickRpcApi({ transport: clientUdp });
  const to = `127.0.0.1:${(server.channel.transport as QuickRpcUdp).port}`;
  assertEquals(await client.peer.call("from", {}, { to }), `127.0.0.1:${clientUdp.port}`);
  assertEquals(clientUdp.stats.sent, 1);
  assertEquals(clientUdp.stats.received, 1);
});

test("udp: a notification without receivers is a broadcast every socket on the port hears", async () => {
  const probe = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const heard: string[] = [];
  // Bound to the loopback broadcast address: hears broadcasts, not unicast (Linux).
  const hearsBroadcasts = { bind: "127.255.255.255", broadcastAddress: "127.255.255.255" };
  const listener = (who: string) => ({
    news: ({ t }: { t: string }, ctx: CallContext) => void heard.push(`${who} ${t} ${ctx.from}`),
  });
  await using a = await quickRpcApi({
    transport: `udp:${port}`,
    transports: { udp: hearsBroadcasts },
    handlers: listener("a"),
  });
  await using b = await quickRpcApi({
    transport: `udp:${port}`,
    transports: { udp: hearsBroadcasts },
    handlers: listener("b"),
  });
  // Bound to 127.0.0.1 on the same port: hears unicast, not broadcasts.
  await using _c = await quickRpcApi({
    transport: `udp:${port}`,
    transports: { udp: { bind: "127.0.0.1" } },
    handlers: listener("c"),
  });
  await a.peer.notify("news", { t: "hi" });
  // The sender's own socket hears its broadcast too, as the original's does.
  await waitFor(() => heard.length === 2);
  assertEquals(heard.sort(), ["a hi 127.0.0.1", "b hi 127.0.0.1"]);
  await b.peer.notify("news", { t: "to c" }, { to: "127.0.0.1" });
  await waitFor(() => heard.length === 3);
  assertEquals(heard[2], "c to c 127.0.0.1");
});

test("udp: datagrams are never joined; an unterminated one and an oversized one are dropped and counted", async () => {
  const seen: number[] = [];
  const udp = new QuickRpcUdp(0, { ...LOOPBACK, maxDatagramBytes: 150 });
  await using api = await quickRpcApi({
    transport: udp,
    handlers: { n: ({ n }: { n: number }) => void seen.push(n) },
    logger: quiet,
  });
  const raw = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
  const send = (text: string) =>
    new Promise<void>((resolve) => raw.send(text, udp.port, "127.0.0.1", () => resolve()));
  const telegram = (n: number) => `{"jsonrpc": "2.0", "method": "n", "params": {"n": ${n}}}`;
  await send(telegram(1).slice(0, 20)); // no delimiter: dropped, not joined to the next
  await send(telegram(1).slice(20) + "\0");
  await send(`${telegram(2)}\0${telegram(3)}\0`); // two telegrams in one datagram
  await send(`${telegram(4)}\0${" ".repeat(150)}`); // over 150 bytes: dropped whole
  await send(`${telegram(5)}\0`);
  await waitFor(() => seen.includes(5));
  assertEquals(seen, [2, 3, 5]);
  assertEquals(udp.stats.tooLarge, 1);
  assertEquals(api.channel.stats.droppedTails, 1);
  await assertRejects(
    () => api.peer.notify("n", { n: "x".repeat(200) }, { to: "127.0.0.1:9" }),
    RangeError,
    "over the limit",
  );
  await new Promise<void>((resolve) => raw.close(() => resolve()));
});

test("udp: decoding state is kept for at most maxSenders senders", async () => {
  const seen: number[] = [];
  const udp = new QuickRpcUdp(0, LOOPBACK);
  const channel = await new QuickRpcChannel(udp, { maxSenders: 2, logger: quiet }).open();
  const sockets = await Promise.all([0, 1, 2].map(async () => {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return socket;
  }));
  const reading = (async () => {
    for await (const delivery of channel.incoming) {
      seen.push((delivery.message as { params: { n: number } }).params.n);
    }
  })();
  for (const [n, socket] of sockets.entries()) {
    const text = `{"jsonrpc": "2.0", "method": "n", "params": {"n": ${n}}}\0`;
    await new Promise<void>((resolve) => socket.send(text, udp.port, "127.0.0.1", () => resolve()));
  }
  await waitFor(() => seen.length === 3);
  assertEquals(channel.senders, 2);
  await channel.close();
  await reading;
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

test("udp: datagrams that come while the reader is behind are dropped and counted, not queued", async () => {
  const udp = new QuickRpcUdp(0, LOOPBACK);
  const channel = await new QuickRpcChannel(udp, { logger: quiet, highWaterMark: 10 }).open();
  const raw = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
  const text = '{"jsonrpc": "2.0", "method": "n", "params": {}}\0';
  // Nobody reads the channel: its inbox holds 10, the rest is dropped.
  for (let i = 0; i < 50; i++) {
    await new Promise<void>((resolve) => raw.send(text, udp.port, "127.0.0.1", () => resolve()));
  }
  await waitFor(() => udp.stats.received === 50, { timeout: 5000 });
  // Held: the high-water mark, give or take the datagram that reached it.
  const held = udp.stats.received - channel.stats.droppedBusy;
  assertEquals(held >= 10 && held <= 11, true, `${held} held`);
  await channel.close();
  await new Promise<void>((resolve) => raw.close(() => resolve()));
});

test("udp with terse: one telegram per datagram, each ending in a newline; a reply goes back", async () => {
  const udp = new QuickRpcUdp(0, LOOPBACK);
  await using server = await quickRpcApi({
    codec: "terse",
    transport: udp,
    handlers: { add: ({ a, b }: { a: number; b: number }) => a + b },
  });
  const raw = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
  const got: string[] = [];
  raw.on("message", (data: Uint8Array) => got.push(new TextDecoder().decode(data)));
  raw.send("add/7 a:1 b:2\n", udp.port, "127.0.0.1");
  await waitFor(() => got.length === 1);
  // The original writes a reply without a newline; a datagram of ours always ends with one.
  assertEquals(got, ["[7]:3\n"]);
  const to = `127.0.0.1:${raw.address().port}`;
  await server.peer.notify("ping", {}, { to });
  await server.peer.notify("echo", { text: "hi\nthere" }, { to });
  await waitFor(() => got.length === 3);
  assertEquals(got.slice(1), ["ping \n", 'echo text:"hi\\nthere"\n']);
  await new Promise<void>((resolve) => raw.close(() => resolve()));
});
