// `deno task fuzz [dialect...] [--frames N] [--seed S] [--rss-bound MB]`
//
// For each dialect (jsonrpc, jsonrpc-tagged, simplerpc, quickrpc, quickrpc-terse, quickrpc-hmac, websocket,
// mushroom, choria, nuropb, amqp, worker; stdio-newline and stdio-content-length in
// fuzz/stdio.ts; http in fuzz/http.ts; quickrpc-udp in fuzz/quickrpc_udp.ts), sends generated frames (valid, mutated and hostile; see
// _generators.ts) to a live server in its own process over loopback, in
// cases of a few hundred frames on one connection (four connections at
// once), written in pieces that split frames at random bytes. After every
// round it checks that the server process is alive, answers a fresh call
// correctly, and (every 20 rounds) that its RSS stays under the bound. Choria request files go through the
// agent runtime in this process instead (one process per request is what
// Choria does; a million processes is not a fuzz run).
//
// nuropb is the codec alone, in this process: every generated envelope
// (headers, properties, body) is decoded, and valid messages are encoded and
// decoded back. amqp publishes the same envelopes through a RabbitMQ node
// (a private one from tests/_rabbitmq.ts, or $AMQP_URL) to a nuropb service
// in its own process, and fake replies to a live caller's response queue;
// after every round the service must answer a fresh request (and the caller
// must get it), and the dead-letter queue is purged.
//
// Prints one JSON line per dialect: frames, seconds, frames_per_s, cases,
// crashes, rss_mb (first sample, last, peak). A case that breaks the server
// is written to fuzz/crashes/ as a corpus file for tests/fuzz_corpus_test.ts.
// Exit status 1 when anything crashed or RSS went over the bound.

import { parseArgs } from "../cli/parse_args.ts";
import { jsonRpcTagged, Peer, silentLogger, type Transport } from "../mod.ts";
import { respond } from "../choria/mod.ts";
import { parrot } from "../examples/choria/agent/parrot.ts";
import {
  hmacSecurity,
  quickRpc,
  quickRpcTerse,
  secureTransport,
} from "../protocol/quickrpc/quickrpc.ts";
import { simpleRpc } from "../protocol/dialects/simplerpc.ts";
import { connect as connectTcp } from "../transports/tcp.ts";
import { connect as connectWebSocket } from "../transports/websocket.ts";
import { connect as connectMushroom } from "../transports/mushroom.ts";
import {
  choriaRequest,
  type Frame,
  jsonRpcFrame,
  mushroomFrames,
  mutate,
  quickRpcFrame,
  Random,
  simpleRpcFrame,
  terseFrame,
} from "./_generators.ts";
import { FUZZ_KEY } from "./_target.ts";
import { type Envelope, nuropbEnvelope } from "./_generators.ts";
import { decodeNuropb, encodeNuropbRequest } from "../protocol/nuropb/nuropb.ts";
import { fuzzStdio } from "./stdio.ts";
import { fuzzWorker } from "./worker.ts";
import { fuzzHttp } from "./http.ts";
import { fuzzQuickRpcUdp } from "./quickrpc_udp.ts";

const ALL = [
  "jsonrpc",
  "jsonrpc-tagged",
  "simplerpc",
  "quickrpc",
  "quickrpc-hmac",
  "websocket",
  "mushroom",
  "choria",
  "nuropb",
  "amqp",
  "stdio-newline",
  "stdio-content-length",
  "worker",
  "http",
  "quickrpc-udp",
  "quickrpc-terse",
];
const flags = parseArgs(Deno.args, { string: ["frames", "seed", "rss-bound"] });
const dialects = flags._.length > 0 ? flags._.map(String) : ALL;
const target = Number(flags.frames ?? 1_000_000);
const seed = Number(flags.seed ?? 1);
const rssBound = Number(flags["rss-bound"] ?? 512) * 1024 * 1024;

/** Hostile connections at once in each round. */
const PARALLEL = 4;

const GENERATORS: Record<string, (random: Random) => Frame> = {
  jsonrpc: jsonRpcFrame,
  "jsonrpc-tagged": taggedJsonRpcFrame,
  simplerpc: simpleRpcFrame,
  quickrpc: quickRpcFrame,
  "quickrpc-terse": terseFrame,
  "quickrpc-hmac": quickRpcFrame,
  websocket: jsonRpcFrame,
  mushroom: mushroomFrames(),
};

interface TargetProcess {
  url: string;
  child: Deno.ChildProcess;
  exited: boolean;
  stop(): Promise<void>;
}

async function startTarget(dialect: string, ...extra: string[]): Promise<TargetProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      ...(dialect === "amqp" ? ["--allow-env", "--allow-read"] : []),
      new URL("./_target.ts", import.meta.url).pathname,
      dialect,
      ...extra,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the target exited before printing its URL");
    text += new TextDecoder().decode(value);
  }
  const process: TargetProcess = {
    url: text.trim(),
    child,
    exited: false,
    async stop() {
      try {
        await child.stdin.close();
      } catch { /* closed */ }
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
  child.status.then(() => process.exited = true);
  return process;
}

/** Tags (good, broken, deep, huge) in echo calls, among JSON-RPC frames. */
const TAGS = [
  '{"$bigint":"-123"}',
  '{"$bigint":"1e3"}',
  `{"$bigint":"${"9".repeat(5000)}"}`,
  '{"$date":"2024-02-29T12:00:00Z"}',
  '{"$date":"soon"}',
  '{"$date":null}',
  '{"$bytes":"AQI="}',
  '{"$bytes":"*"}',
  '{"$map":[[{"$bigint":"1"},{"$set":[1]}]]}',
  '{"$map":[[1]]}',
  '{"$map":{}}',
  '{"$set":[{"$number":"NaN"}]}',
  '{"$number":"1"}',
  '{"$escape":{"$date":1}}',
  '{"$escape":[]}',
  `${'{"$set":['.repeat(600)}${"]}".repeat(600)}`,
  `${'{"$escape":{"a":'.repeat(600)}1${"}}".repeat(600)}`,
];

function taggedJsonRpcFrame(random: Random): Frame {
  if (random.chance(0.5)) return jsonRpcFrame(random);
  const tags = Array.from({ length: 1 + random.int(3) }, () => random.pick(TAGS));
  const frame = `{"jsonrpc":"2.0","method":"echo","params":[${tags.join(",")}],"id":${
    random.int(1000)
  }}`;
  return random.chance(0.3) ? mutate(random, frame) : frame;
}

/** A well-behaved client of the target, for the checks between cases. */
async function healthClient(dialect: string, url: string): Promise<Peer> {
  let transport: Transport<string>;
  switch (dialect) {
    case "simplerpc":
      transport = await connectTcp(url, { dialect: simpleRpc });
      break;
    case "quickrpc":
      transport = await connectTcp(url, { dialect: quickRpc });
      break;
    case "quickrpc-terse":
      transport = await connectTcp(url, { dialect: quickRpcTerse });
      break;
    case "quickrpc-hmac":
      transport = secureTransport(
        await connectTcp(url, { dialect: quickRpc }),
        hmacSecurity({ key: FUZZ_KEY, user: "health" }),
        { logger: silentLogger },
      );
      break;
    case "websocket":
      transport = await connectWebSocket(url);
      break;
    case "jsonrpc-tagged":
      transport = await connectTcp(url, { dialect: jsonRpcTagged });
      break;
    case "mushroom":
      return new Peer(await connectMushroom(url, { logger: silentLogger }), {
        logger: silentLogger,
        timeout: 5000,
      });
    default:
      transport = await connectTcp(url);
  }
  return new Peer(transport, { logger: silentLogger, timeout: 5000 });
}

const encoder = new TextEncoder();

/** The frames as one byte stream, and where each frame ends in it. */
function bytesOf(frames: Frame[], delimiter: number): { bytes: Uint8Array; ends: number[] } {
  const parts = frames.map((f) => typeof f === "string" ? encoder.encode(f) : f);
  let length = 0;
  for (const part of parts) length += part.length + 1;
  const bytes = new Uint8Array(length);
  const ends: number[] = [];
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
    bytes[offset++] = delimiter;
    ends.push(offset);
  }
  return { bytes, ends };
}

/**
 * One case over TCP: the bytes in random pieces, replies read and dropped.
 * Resolves with how many frames were written whole (the server may close
 * first, as it does on a refused HMAC frame).
 */
async function tcpCase(
  url: string,
  frames: Frame[],
  delimiter: number,
  random: Random,
): Promise<number> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const draining = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while ((await conn.read(buffer)) !== null) { /* drop */ }
    } catch { /* reset */ }
  })();
  const { bytes, ends } = bytesOf(frames, delimiter);
  let written = 0;
  try {
    while (written < bytes.length) {
      // Mostly large pieces, now and then runs of single bytes.
      const size = random.chance(0.05) ? 1 : 1 + random.int(8192);
      written += await conn.write(bytes.subarray(written, written + size));
    }
    await conn.closeWrite();
  } catch { /* the server may close on us */ }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, 2000);
  await draining;
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  let whole = 0;
  while (whole < ends.length && ends[whole]! <= written) whole++;
  return whole;
}

/** One quickrpc-hmac case that gets past the security layer: signed hostile payloads. */
async function signedCase(url: string, frames: Frame[]): Promise<number> {
  const transport = secureTransport(
    await connectTcp(url, { dialect: quickRpc, logger: silentLogger }),
    hmacSecurity({ key: FUZZ_KEY, user: "fuzz" }),
    { logger: silentLogger },
  );
  const draining = (async () => {
    for await (const _ of transport.frames) { /* drop */ }
  })().catch(() => {});
  let sent = 0;
  for (const frame of frames) {
    if (typeof frame === "string" && !frame.includes("\0")) {
      transport.send(frame).catch(() => {});
      sent++;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  await transport.close();
  await draining;
  return sent;
}

/** One case over WebSocket: one message per frame, binary for raw bytes. */
async function websocketCase(url: string, frames: Frame[]): Promise<number> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  const closed = new Promise((resolve) => socket.onclose = resolve);
  // A binary frame that is not UTF-8 closes the connection (1007): send
  // those last, so the rest of the case reaches the server.
  const ordered = [
    ...frames.filter((f) => typeof f === "string"),
    ...frames.filter((f) => typeof f !== "string"),
  ];
  let sent = 0;
  for (const frame of ordered) {
    if (socket.readyState !== WebSocket.OPEN) break;
    socket.send(frame);
    sent++;
  }
  socket.close();
  await closed;
  return sent;
}

/**
 * One mushroom case: a new session, then its frames over the session's
 * WebSocket, or as long-polling bodies of a few messages each.
 */
async function mushroomCase(url: string, frames: Frame[], random: Random): Promise<number> {
  const hello = await fetch(url, {
    method: "POST",
    body: JSON.stringify({ transports: random.chance(0.5) ? ["ws"] : ["poll"], auth: null }),
  });
  const { transport, url: sessionUrl } = await hello.json();
  if (transport === "ws") return await websocketCase(sessionUrl, frames);
  let sent = 0;
  for (let i = 0; i < frames.length;) {
    const n = 1 + random.int(20);
    const bodies = frames.slice(i, i + n);
    i += n;
    // A body is one frame, or the frames joined as one list of messages.
    const body = bodies.length === 1 || random.chance(0.3)
      ? bodies[0]!
      : `[${bodies.filter((f) => typeof f === "string").join(", ")}]`;
    const answer = await fetch(sessionUrl, { method: "POST", body: body as BodyInit });
    await answer.body?.cancel();
    sent += body === bodies[0] ? 1 : bodies.length;
    if (answer.status === 404) break; // a disconnect ended the session
  }
  return sent;
}

interface Report {
  dialect: string;
  frames: number;
  seconds: number;
  frames_per_s: number;
  cases: number;
  crashes: number;
  rss_mb: { first: number; last: number; peak: number; series?: number[] } | null;
  [extra: string]: unknown;
}

async function fuzzServer(dialect: string): Promise<Report> {
  const random = new Random(seed * 1000 + ALL.indexOf(dialect));
  const generate = GENERATORS[dialect]!;
  const delimiter = dialect === "quickrpc" || dialect === "quickrpc-hmac" ? 0 : 10;
  let server = await startTarget(dialect);
  let health = await healthClient(dialect, server.url);
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  const rss: number[] = [];
  const started = performance.now();
  while (frames < target) {
    // A round: a few hostile connections at once, then the checks.
    const round = Array.from({ length: PARALLEL }, () => {
      const count = 200 + random.int(800);
      return Array.from({ length: count }, () => generate(random));
    });
    const delivered = await Promise.all(round.map(async (batch) => {
      try {
        if (dialect === "websocket") return await websocketCase(server.url, batch);
        if (dialect === "mushroom") return await mushroomCase(server.url, batch, random);
        if (dialect === "quickrpc-hmac" && random.chance(0.5)) {
          return await signedCase(server.url, batch);
        }
        return await tcpCase(server.url, batch, delimiter, random);
      } catch {
        // A refused or reset connection is an answer too; the check decides.
        return 0;
      }
    }));
    const batch = round.flat();
    // Only frames that reached the server count.
    frames += delivered.reduce((a, b) => a + b, 0);
    cases += round.length;
    const a = random.int(1000);
    const b = random.int(1000);
    let alive = false;
    try {
      const answer = await health.call("add", { a, b }) as { sum?: number };
      alive = !server.exited && answer?.sum === a + b;
    } catch {
      alive = false;
    }
    if (!alive) {
      crashes++;
      const file = await saveCrash(dialect, cases, batch);
      console.error(`${dialect}: case ${cases} broke the server; saved to ${file}`);
      await health.close().catch(() => {});
      await server.stop();
      server = await startTarget(dialect);
      health = await healthClient(dialect, server.url);
      continue;
    }
    if (cases % (20 * PARALLEL) === 0 || frames >= target) {
      const { rss: value } = await health.call("rss") as { rss: number };
      rss.push(value);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await health.close().catch(() => {});
  await server.stop();
  return {
    dialect,
    frames,
    seconds: Math.round(seconds * 10) / 10,
    frames_per_s: Math.round(frames / seconds),
    cases,
    crashes,
    rss_mb: rssSummary(rss),
  };
}

async function fuzzChoria(): Promise<Report> {
  const random = new Random(seed * 1000 + ALL.indexOf("choria"));
  const started = performance.now();
  let crashes = 0;
  let frames = 0;
  const statuses = new Map<number, number>();
  const quiet = { info() {}, warn() {}, error() {} } as unknown as Parameters<
    typeof respond
  >[1]["log"];
  while (frames < target) {
    const request = choriaRequest(random);
    frames++;
    try {
      const reply = JSON.parse(await respond(parrot, { request, log: quiet, deadline: 1000 }));
      const code = reply.statuscode;
      if (!Number.isInteger(code) || code < 0 || code > 5) throw new Error(`statuscode ${code}`);
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
    } catch (error) {
      crashes++;
      const file = await saveCrash("choria", frames, [request]);
      console.error(`choria: request ${frames} broke the runtime (${error}); saved to ${file}`);
    }
  }
  return report("choria", started, {
    frames,
    cases: frames,
    crashes,
    rss_mb: { first: 0, last: mb(Deno.memoryUsage().rss), peak: mb(Deno.memoryUsage().rss) },
  }, {
    statuscodes: Object.fromEntries(statuses),
  });
}

const decoder8 = new TextDecoder("utf-8", { fatal: true });

/** Our encoding of a decoded request; undefined when it is nested deeper than the encoder goes. */
function encodeRequestOf(
  decoded: { method: string; id: unknown; params?: unknown; meta?: unknown },
  replyTo: string,
): ReturnType<typeof encodeNuropbRequest> | undefined {
  try {
    return encodeNuropbRequest({
      type: "request",
      service: "fuzz",
      method: decoded.method,
      params: decoded.params ?? {},
      correlationId: String(decoded.id),
      context: (decoded.meta as { context?: unknown }).context ?? {},
      traceId: null,
      replyTo,
    });
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/** The nuropb codec alone: every envelope decoded; valid calls encoded and decoded back. */
function fuzzNuropb(): Report {
  const random = new Random(seed * 1000 + ALL.indexOf("nuropb"));
  const started = performance.now();
  const replyQueues = ["nuropb-fuzz-client-c1-rq"];
  const kinds = new Map<string, number>();
  const rss: number[] = [];
  let crashes = 0;
  let frames = 0;
  while (frames < target) {
    const envelope = nuropbEnvelope(random, "fuzz", replyQueues);
    frames++;
    try {
      let body: string;
      try {
        body = typeof envelope.body === "string" ? envelope.body : decoder8.decode(envelope.body);
      } catch {
        kinds.set("not utf-8", (kinds.get("not utf-8") ?? 0) + 1);
        continue;
      }
      const decoded = decodeNuropb(body, envelope.properties);
      kinds.set(decoded.kind, (kinds.get(decoded.kind) ?? 0) + 1);
      if (decoded.kind === "request" && !/[eE]\+?\d{3,}|Infinity|NaN/.test(body)) {
        // What we would send for it decodes to the same call (not for
        // non-finite numbers: Python's JSON writes them, and no JSON reads them).
        const wire = encodeRequestOf(decoded, replyQueues[0]!);
        if (wire === undefined) {
          kinds.set("too deep to encode", (kinds.get("too deep to encode") ?? 0) + 1);
          continue;
        }
        const again = decodeNuropb(wire.body, wire.properties);
        if (again.kind !== "request" || again.method !== decoded.method) {
          throw new Error(`round trip: ${again.kind}`);
        }
      }
    } catch (error) {
      crashes++;
      const file = saveEnvelopes("nuropb", frames, [envelope]);
      console.error(`nuropb: envelope ${frames} broke the codec (${error}); saved to ${file}`);
    }
    if (frames % 100_000 === 0) rss.push(Deno.memoryUsage().rss);
  }
  rss.push(Deno.memoryUsage().rss);
  return report("nuropb", started, { frames, cases: frames, crashes, rss_mb: rssSummary(rss) }, {
    decoded: Object.fromEntries(kinds),
  });
}

/** Envelopes through RabbitMQ to a nuropb service in its own process. */
async function fuzzAmqp(): Promise<Report> {
  const { startBroker } = await import("../tests/_rabbitmq.ts");
  const { connectMesh } = await import("../transports/amqp.ts");
  const { AMQPClient } = await import("@cloudamqp/amqp-client");
  const broker = await startBroker();
  if (typeof broker === "string") throw new Error(`amqp: ${broker}`);
  let url = broker.url("/");
  if (broker.private) {
    await broker.addVhost("fuzz");
    url = broker.url("fuzz");
  }
  const random = new Random(seed * 1000 + ALL.indexOf("amqp"));
  let server = await startTarget("amqp", url);
  const health = await connectMesh(url, { logger: silentLogger, timeout: 30_000 });
  const address = new URL(url);
  address.searchParams.set("frameMax", "131072");
  const publisher = new AMQPClient(address.href, undefined, null);
  await publisher.connect();
  const channel = await publisher.channel();
  const encoder = new TextEncoder();
  const replyQueues = [health.responseQueue];
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  const rss: number[] = [];
  const started = performance.now();
  const queueLength = async (queue: string) =>
    (await channel.queueDeclare(queue, { passive: true })).messageCount;
  try {
    while (frames < target) {
      const count = 500 + random.int(1500);
      const round: Envelope[] = [];
      for (let i = 0; i < count; i++) {
        const envelope = nuropbEnvelope(random, "fuzz", replyQueues);
        round.push(envelope);
        const body = typeof envelope.body === "string"
          ? encoder.encode(envelope.body)
          : envelope.body;
        await channel.basicPublish(
          envelope.exchange,
          envelope.routingKey,
          body,
          envelope.properties as never,
        );
      }
      frames += count;
      cases++;
      // The service has taken the round when its queue is empty.
      const deadline = Date.now() + 60_000;
      while ((await queueLength("nuropb-fuzz-sq")) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await channel.queuePurge("nuropb-dl-queue");
      const a = random.int(1000);
      const b = random.int(1000);
      let alive = false;
      try {
        const answer = await health.request("fuzz", "add", { a, b }) as { sum?: number };
        alive = !server.exited && answer?.sum === a + b;
      } catch {
        alive = false;
      }
      if (!alive) {
        crashes++;
        const file = saveEnvelopes("amqp", cases, round);
        console.error(`amqp: round ${cases} broke the service or caller; saved to ${file}`);
        await server.stop();
        await channel.queuePurge("nuropb-fuzz-sq");
        server = await startTarget("amqp", url);
        continue;
      }
      if (cases % 20 === 0 || frames >= target) {
        const { rss: value } = await health.request("fuzz", "rss") as { rss: number };
        rss.push(value);
      }
    }
  } finally {
    await server.stop();
    await health.close();
    await publisher.close();
    await broker.stop();
  }
  return report("amqp", started, { frames, cases, crashes, rss_mb: rssSummary(rss) }, {
    caller: (({ reconnects, droppedReplies, unknownReplies }) => ({
      reconnects,
      droppedReplies,
      unknownReplies,
    }))(health.stats()),
  });
}

/** First, last and peak RSS, and ten samples across the run: flat, or growing? */
function rssSummary(rss: number[]): Report["rss_mb"] {
  if (rss.length === 0) return null;
  return {
    first: mb(rss[0]!),
    last: mb(rss.at(-1)!),
    peak: mb(Math.max(...rss)),
    series: Array.from(
      { length: Math.min(10, rss.length) },
      (_, i) =>
        mb(rss[Math.floor(i * (rss.length - 1) / Math.max(1, Math.min(9, rss.length - 1)))]!),
    ),
  };
}

/** A failing round of envelopes, as a corpus file (tests/fixtures/fuzz/ takes them). */
function saveEnvelopes(dialect: string, index: number, envelopes: Envelope[]): string {
  const dir = new URL("./crashes/", import.meta.url).pathname;
  Deno.mkdirSync(dir, { recursive: true });
  const file = `${dir}${dialect}-seed${seed}-${index}.json`;
  const encoded = envelopes.map((e) => ({
    exchange: e.exchange,
    routingKey: e.routingKey,
    properties: e.properties,
    body: typeof e.body === "string"
      ? { text: e.body }
      : { base64: btoa(String.fromCharCode(...e.body)) },
  }));
  Deno.writeTextFileSync(file, JSON.stringify({ dialect, seed, note: "", envelopes: encoded }));
  return file;
}

/** Hostile structured-clone values to a Peer in a Deno worker (fuzz/worker.ts). */
async function fuzzWorkerTarget(): Promise<Report> {
  const started = performance.now();
  const { rss, unclonable, ...counts } = await fuzzWorker(seed, target);
  return report("worker", started, { ...counts, rss_mb: rssSummary(rss) }, { unclonable });
}

/** A dialect's line of the report. */
function report(
  dialect: string,
  started: number,
  counts: Pick<Report, "frames" | "cases" | "crashes" | "rss_mb">,
  extra: Record<string, unknown>,
): Report {
  const seconds = (performance.now() - started) / 1000;
  return {
    dialect,
    frames: counts.frames,
    seconds: Math.round(seconds * 10) / 10,
    frames_per_s: Math.round(counts.frames / seconds),
    cases: counts.cases,
    crashes: counts.crashes,
    rss_mb: counts.rss_mb,
    ...extra,
  };
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

async function saveCrash(dialect: string, index: number, frames: Frame[]): Promise<string> {
  const dir = new URL("./crashes/", import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir}${dialect}-seed${seed}-${index}.json`;
  const encoded = frames.map((f) =>
    typeof f === "string" ? { text: f } : { base64: btoa(String.fromCharCode(...f)) }
  );
  await Deno.writeTextFile(file, JSON.stringify({ dialect, seed, frames: encoded }));
  return file;
}

let failed = false;
for (const dialect of dialects) {
  if (!ALL.includes(dialect)) throw new Error(`unknown dialect ${dialect} (${ALL.join(", ")})`);
  const report = dialect === "choria"
    ? await fuzzChoria()
    : dialect === "nuropb"
    ? fuzzNuropb()
    : dialect === "amqp"
    ? await fuzzAmqp()
    : dialect.startsWith("stdio-")
    ? await fuzzStdio(dialect === "stdio-newline" ? "newline" : "content-length", target, seed)
    : dialect === "worker"
    ? await fuzzWorkerTarget()
    : dialect === "http"
    ? await fuzzHttp(target, seed)
    : dialect === "quickrpc-udp"
    ? await fuzzQuickRpcUdp(target, seed)
    : await fuzzServer(dialect);
  console.log(JSON.stringify(report));
  if (
    report.crashes > 0 || (report.rss_mb !== null && report.rss_mb.peak * 1024 * 1024 > rssBound)
  ) {
    failed = true;
  }
}
Deno.exit(failed ? 1 : 0);
