// quickrpc's announcer: seek(filter) / advertise(description) over the memory
// bus, over TCP with terse and by UDP broadcast, and the exchanges captured live with the
// original's announcer (tests/fixtures/quickrpc_terse_live.json) replayed.

import { type Dialect, MemoryBus, memoryPair, Peer, Server } from "../mod.ts";
import { defineContract } from "../contract.ts";
import {
  announce,
  announcerContract,
  announcerHandlers,
  quickRpc,
  quickRpcTerse,
  seek,
} from "../protocol/quickrpc/quickrpc.ts";
import { connect, listen } from "../transports/tcp.ts";
import { quickRpcApi } from "../transports/quickrpc.ts";
import dgram from "node:dgram";
import { assertEquals, assertRejects } from "./_assert.ts";
import { deferred, recordingLogger, test } from "./_helpers.ts";
import { RawSocket } from "./_tcp.ts";
import live from "./fixtures/quickrpc_terse_live.json" with { type: "json" };

type Chunk = [string, string];

/** Plays the original's side of a captured run: its chunks sent, ours compared. */
async function replay(raw: RawSocket, chunks: readonly Chunk[], original: "C->S" | "S->C") {
  for (const [direction, text] of chunks) {
    if (direction === original) await raw.send(text);
    else assertEquals(await raw.readLike(text), text, `ours should send ${JSON.stringify(text)}`);
  }
}

/** Ends a seek once `count` advertisements are in. */
function after(count: number) {
  const stop = new AbortController();
  let seen = 0;
  return { signal: stop.signal, onAdvertise: () => ++seen === count && stop.abort() };
}

test("The announcer contract: the service takes seek and sends advertise, the seeker inverts it", async () => {
  const Announcer = defineContract(announcerContract);
  const [a, b] = memoryPair();
  const service = new Peer(a, { logger: recordingLogger() });
  Announcer.implement(service, announcerHandlers({ description: "printer" }));
  const seeker = new Peer(b, { logger: recordingLogger() });
  const heard = deferred<unknown>();
  Announcer.invert().implement(seeker, { advertise: (params) => heard.resolve(params) });
  await Announcer.invert().remote(seeker).seek({ filter: "" });
  assertEquals(await heard.promise, { description: "printer" });
  await seeker.close();
  await service.closed;
});

test("seek on the memory bus collects one advertisement per matching service", async () => {
  const bus = new MemoryBus();
  const logger = recordingLogger();
  const services = [
    announce(new Peer(bus.channel("printer"), { logger }), {
      description: { kind: "printer" },
      matches: (filter) => filter === "" || filter === "printers",
    }),
    announce(new Peer(bus.channel("scanner"), { logger }), {
      description: { kind: "scanner" },
      matches: (filter) => filter === "scanners",
    }),
  ];
  const seeker = new Peer(bus.channel("seeker"), { logger });
  const to = ["printer", "scanner"];
  const printers = await seek(seeker, { filter: "printers", to, ...after(1) });
  assertEquals(printers, [{ description: { kind: "printer" }, from: "printer" }]);
  const scanners = await seek(seeker, { filter: "scanners", to, ...after(1) });
  assertEquals(scanners, [{ description: { kind: "scanner" }, from: "scanner" }]);
  // Two seeks at once: each collects every advertisement that arrives while it runs.
  const both = await Promise.all([
    seek(seeker, { to: "printer", ...after(2) }),
    seek(seeker, { to: "printer", ...after(2) }),
  ]);
  assertEquals(both.map((found) => found.length), [2, 2]);
  await Promise.all([seeker.close(), ...services.map((service) => service.close())]);
});

test("seek ends on its signal or when the peer closes, and refuses a peer with its own advertise", async () => {
  const bus = new MemoryBus();
  const logger = recordingLogger();
  const seeker = new Peer(bus.channel("seeker"), { logger });
  assertEquals(await seek(seeker, { signal: AbortSignal.abort(), to: "nobody" }), []);
  const stop = new AbortController();
  const running = seek(seeker, { signal: stop.signal, to: "seeker" });
  await seeker.close();
  assertEquals(await running, []);
  const other = new Peer(bus.channel("other"), { logger, handlers: { advertise: () => {} } });
  await assertRejects(
    () => seek(other, { signal: AbortSignal.abort() }),
    TypeError,
    "already handles 'advertise'",
  );
  await other.close();
});

for (const dialect of [quickRpcTerse, quickRpc] as Dialect[]) {
  test(`seek and announce over TCP with ${dialect.name}`, async () => {
    const logger = recordingLogger();
    const server = new Server({
      dialect,
      logger,
      handlers: announcerHandlers({ description: { kind: "printer", floor: 3 } }),
    }).serve(listen("tcp://127.0.0.1:0", { dialect, logger }));
    const seeker = new Peer(await connect(server.addr, { dialect, logger }), { logger });
    try {
      const found = await seek(seeker, { filter: "printers", ...after(1) });
      assertEquals(found.map((ad) => ad.description), [{ kind: "printer", floor: 3 }]);
    } finally {
      await seeker.close();
      await server.shutdown();
    }
  });
}

test("Live replay: our seek against the original's announcer (terse tcpserv), byte for byte", async () => {
  const chunks = live.runs.original_announcer.chunks as Chunk[];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fake = (async () => {
    const raw = RawSocket.wrap(await listener.accept());
    try {
      await replay(raw, chunks, "S->C");
      await raw.readToEnd();
    } finally {
      raw.close();
      listener.close();
    }
  })();
  const logger = recordingLogger();
  const seeker = new Peer(
    await connect(`tcp://127.0.0.1:${listener.addr.port}`, { dialect: quickRpcTerse, logger }),
    { logger },
  );
  const printers = await seek(seeker, { filter: "printers", ...after(1) });
  // The original sends nothing back for "scanners": end that seek once the next one's answer is in.
  const scanners = new AbortController();
  const none = seek(seeker, { filter: "scanners", signal: scanners.signal });
  const any = await seek(seeker, { ...after(1) });
  scanners.abort();
  await seeker.close();
  await fake;
  assertEquals(printers, [{ description: "printer 3rd floor", from: undefined }]);
  // The advertisement for the last seek reaches both seeks that were running.
  assertEquals((await none).map((ad) => ad.description), ["printer 3rd floor"]);
  assertEquals(any.map((ad) => ad.description), ["printer 3rd floor"]);
});

test("Live replay: the original's seeker against our announcer (terse tcpserv), byte for byte", async () => {
  const logger = recordingLogger();
  const server = new Server({
    dialect: quickRpcTerse,
    logger,
    handlers: announcerHandlers({
      description: { kind: "printer", floor: 3 },
      matches: (filter) => filter === "" || filter === "printers",
    }),
  }).serve(listen("tcp://127.0.0.1:0", { dialect: quickRpcTerse, logger }));
  const raw = await RawSocket.connect(server.addr);
  try {
    await replay(raw, live.runs.original_seeker.chunks as Chunk[], "C->S");
  } finally {
    raw.close();
    await server.shutdown();
  }
});

test("seek to several services: each answers the seeker alone (memory bus; udp: broadcast with terse)", async () => {
  const bus = new MemoryBus();
  const logger = recordingLogger();
  const names = ["a", "b", "c"];
  const services = names.map((name) =>
    announce(new Peer(bus.channel(name), { logger }), { description: name })
  );
  const seeker = new Peer(bus.channel("seeker"), { logger });
  const found = await seek(seeker, { to: names, ...after(3) });
  assertEquals(found.map((ad) => ad.from).sort(), names);
  await Promise.all([seeker.close(), ...services.map((service) => service.close())]);

  // quickrpc's usual announcer wire: everyone on `udp:<port>` with terse, the seek a broadcast.
  // On loopback: the services bind the broadcast address (they hear broadcasts), the seeker
  // 127.0.0.1 (it hears the advertisements sent back to 127.0.0.1 on the port).
  const port = await freeUdpPort();
  const udp = (bind: string) => ({ udp: { bind, broadcastAddress: "127.255.255.255" } });
  const printers = await Promise.all(["printer 1", "printer 2"].map((description) =>
    quickRpcApi({
      codec: "terse",
      transport: `udp:${port}`,
      transports: udp("127.255.255.255"),
      handlers: announcerHandlers({ description, matches: (filter) => filter === "printers" }),
      logger,
    })
  ));
  await using udpSeeker = await quickRpcApi({
    codec: "terse",
    transport: `udp:${port}`,
    transports: udp("127.0.0.1"),
    logger,
  });
  try {
    const ads = await seek(udpSeeker.peer, { filter: "printers", ...after(2) });
    assertEquals(ads.map((ad) => ad.description).sort(), ["printer 1", "printer 2"]);
    assertEquals(ads.map((ad) => ad.from), ["127.0.0.1", "127.0.0.1"]);
  } finally {
    await Promise.all(printers.map((printer) => printer.close()));
  }
});

/** A UDP port free on loopback just now. */
async function freeUdpPort(): Promise<number> {
  const probe = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
