// Hostile datagrams for quickrpc's udp: transport: `deno task fuzz quickrpc-udp`. A child serves
// the fuzz API on `udp:` (loopback, names "ip:port"; this file, `serve`); each case sends a few
// hundred datagrams from four sockets: one to three jrpc telegrams each (valid, mutated), some cut
// short (no delimiter), some over the 2048-byte limit, some not UTF-8. After each case a
// well-behaved client must get a fresh call answered (retried: UDP may drop under the flood) and
// the child's RSS is read. A failing case is saved to fuzz/crashes/.

import dgram from "node:dgram";
import { silentLogger } from "../mod.ts";
import { quickRpcApi, QuickRpcUdp } from "../transports/quickrpc.ts";
import { type Frame, invalidUtf8, quickRpcFrame, Random } from "./_generators.ts";
import { targetHandlers } from "./_target.ts";

const DATAGRAMS_PER_CASE = 300;
const LIMIT = 2048;
const SELF = new URL(import.meta.url).pathname;
const encoder = new TextEncoder();

/** What the run found: the fields of fuzz/main.ts's report. */
export interface UdpReport {
  dialect: string;
  frames: number;
  seconds: number;
  frames_per_s: number;
  cases: number;
  crashes: number;
  rss_mb: { first: number; last: number; peak: number } | null;
  too_large_sent: number;
}

function bytesOf(frame: Frame): Uint8Array {
  return typeof frame === "string" ? encoder.encode(frame) : frame;
}

/** One hostile datagram and how many telegrams it holds. */
function datagram(random: Random): { bytes: Uint8Array; frames: number; tooLarge: boolean } {
  const count = 1 + random.int(3);
  let text = "";
  for (let i = 0; i < count; i++) {
    const frame = quickRpcFrame(random);
    text += typeof frame === "string" ? frame : new TextDecoder().decode(frame);
    text += "\0";
  }
  if (random.chance(0.1)) text = text.slice(0, random.int(text.length)); // cut short
  if (random.chance(0.05)) text += "x".repeat(LIMIT); // over the limit
  const bytes = random.chance(0.05) ? invalidUtf8(random, text) : bytesOf(text);
  return { bytes, frames: count, tooLarge: bytes.length > LIMIT };
}

async function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  return s;
}

/** Fuzzes the udp: transport for about `target` telegrams. */
export async function fuzzQuickRpcUdp(target: number, seed: number): Promise<UdpReport> {
  const random = new Random(seed * 1000 + 103);
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", SELF, "serve"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the udp target exited before printing its port");
    line += new TextDecoder().decode(value);
  }
  const to = `127.0.0.1:${line.trim()}`;
  const port = Number(line.trim());
  const senders = await Promise.all([0, 1, 2, 3].map(socket));
  const health = await quickRpcApi({
    transport: new QuickRpcUdp(0, { bind: "127.0.0.1", names: "ip:port" }),
    logger: silentLogger,
    timeout: 2000,
  });
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  let tooLarge = 0;
  const rss: number[] = [];
  const ask = async (method: string, params: unknown) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await health.peer.call(method, params, { to }) as Record<string, number>;
      } catch { /* lost, or the target is gone: asked again */ }
    }
    return undefined;
  };
  while (frames < target) {
    const sent: Uint8Array[] = [];
    for (let i = 0; i < DATAGRAMS_PER_CASE; i++) {
      const { bytes, frames: n, tooLarge: big } = datagram(random);
      sent.push(bytes);
      frames += n;
      if (big) tooLarge++;
      const from = senders[random.int(senders.length)]!;
      await new Promise<void>((resolve) => from.send(bytes, port, "127.0.0.1", () => resolve()));
    }
    cases++;
    const sum = (await ask("add", { a: 1, b: 2 }))?.sum;
    const memory = (await ask("rss", {}))?.rss;
    if (memory !== undefined) rss.push(memory);
    if (sum !== 3) {
      crashes++;
      const dir = new URL("./crashes/", import.meta.url).pathname;
      await Deno.mkdir(dir, { recursive: true });
      const file = `${dir}quickrpc-udp-seed${seed}-${cases}.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          dialect: "quickrpc-udp",
          seed,
          datagrams: sent.map((d) => btoa(String.fromCharCode(...d))),
        }),
      );
      console.error(`quickrpc-udp: case ${cases}: no answer to a fresh call; saved to ${file}`);
      break;
    }
  }
  await health.close();
  await Promise.all(senders.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await child.stdin.close();
  await reader.cancel().catch(() => {});
  await child.status;
  const seconds = (performance.now() - started) / 1000;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  return {
    dialect: "quickrpc-udp",
    frames,
    seconds: Math.round(seconds * 10) / 10,
    frames_per_s: Math.round(frames / seconds),
    cases,
    crashes,
    rss_mb: rss.length === 0
      ? null
      : { first: mb(rss[0]!), last: mb(rss.at(-1)!), peak: mb(Math.max(...rss)) },
    too_large_sent: tooLarge,
  };
}

if (import.meta.main && Deno.args[0] === "serve") {
  const udp = new QuickRpcUdp(0, { bind: "127.0.0.1", names: "ip:port", maxDatagramBytes: LIMIT });
  const api = await quickRpcApi({
    transport: udp,
    handlers: targetHandlers(),
    logger: silentLogger,
  });
  console.log(udp.port);
  for await (const _ of Deno.stdin.readable) { /* serve until stdin closes */ }
  await api.close();
  Deno.exit(0);
}
