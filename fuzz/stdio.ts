// Hostile input for the stdio transport, both framings: `deno task fuzz
// stdio-newline stdio-content-length`. Each case starts a child serving the
// fuzz API over its stdin and stdout (this file, `serve FRAMING`), writes
// a few hundred generated frames (valid, mutated, not UTF-8, batches) in
// pieces that split them at random bytes, then checks the child answers a
// fresh call and reports its RSS; then a hostile tail (a line or body over
// the 1 MiB limit, headers that never end, a bad or missing Content-Length,
// a charset that is not UTF-8) must make it close, not grow, and the child
// must exit 0 once its stdin ends. A failing case is saved to fuzz/crashes/.

import { silentLogger } from "../mod.ts";
import { type Framing, serveStdio } from "../transports/stdio.ts";
import { splitter } from "../transports/stdio/_framing.ts";
import { type Frame, invalidUtf8, jsonRpcFrame, Random } from "./_generators.ts";
import { targetHandlers } from "./_target.ts";
import { concat } from "../tests/_bytes.ts";

const FRAMES_PER_CASE = 300;
/** The frame limit of the fuzzed server. */
export const MAX_FRAME_BYTES = 1024 * 1024;
const encoder = new TextEncoder();
const SELF = new URL(import.meta.url).pathname;

/** What one framing's run found: the fields of fuzz/main.ts's report. */
export interface StdioReport {
  dialect: string;
  frames: number;
  seconds: number;
  frames_per_s: number;
  cases: number;
  crashes: number;
  rss_mb: { first: number; last: number; peak: number } | null;
}

function bytesOf(frame: Frame): Uint8Array {
  return typeof frame === "string" ? encoder.encode(frame) : frame;
}

/** One frame on the wire in `framing`. */
function wire(framing: Framing, frame: Frame): Uint8Array {
  const body = bytesOf(frame);
  if (framing === "newline") return concat([body, Uint8Array.of(10)]);
  return concat([encoder.encode(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

/** The last thing a case sends: input the transport must refuse by closing. */
function hostileTail(framing: Framing, random: Random): Uint8Array {
  const big = random.int(2) === 0 ? "x".repeat(MAX_FRAME_BYTES + 10) : "";
  if (framing === "newline") {
    return random.chance(0.5)
      ? encoder.encode(big || "y".repeat(MAX_FRAME_BYTES + 2)) // no newline, ever
      : invalidUtf8(random, `{"jsonrpc":"2.0","method":"${big}"}\n`);
  }
  return encoder.encode(random.pick(HOSTILE_HEADERS));
}

/** Header blocks a content-length reader must refuse by closing (the limit is 1 MiB). */
export const HOSTILE_HEADERS: readonly string[] = [
  `Content-Length: ${MAX_FRAME_BYTES + 1}\r\n\r\n`,
  `Content-Length: 99999999999999999999\r\n\r\n`,
  `Content-Length: -5\r\n\r\n{}`,
  `Content-Type: application/json\r\n\r\n{}`,
  `Content-Length: 2\r\nContent-Type: x; charset=utf-16\r\n\r\n{}`,
  `X-Filler: ${"h".repeat(20_000)}`,
  `Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
  `\u00ff\u00fe: 2\r\n\r\n{}`,
  `Content-Length: 2\n\n{}`,
];

/** Writes `bytes` in pieces cut at random places. */
async function writePieces(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  bytes: Uint8Array,
  random: Random,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + random.int(random.chance(0.1) ? 8 : 64 * 1024);
    await writer.write(bytes.subarray(at, at + n));
    at += n;
  }
}

interface CaseResult {
  ok: boolean;
  why?: string;
  rss?: number;
}

/** One child, one case. */
async function runCase(framing: Framing, input: Uint8Array, tail: Uint8Array, random: Random) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", SELF, "serve", framing],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const replies = new Map<string, unknown>();
  const reading = (async () => {
    const split = splitter(framing, { maxFrameBytes: 64 * 1024 * 1024, maxHeaderBytes: 8192 });
    for await (const chunk of child.stdout) {
      split.push(chunk);
      for (let frame = split.next(); frame !== undefined; frame = split.next()) {
        if (typeof frame !== "string" || !frame.includes('"probe-')) continue;
        const reply = JSON.parse(frame) as { id: string; result: unknown };
        replies.set(reply.id, reply.result);
      }
    }
  })();
  const deadline = (ms: number) => new Promise<"late">((r) => setTimeout(() => r("late"), ms));
  let result: CaseResult = { ok: true };
  try {
    await writePieces(writer, input, random);
    await writer.write(
      wire(framing, '{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":"probe-add"}'),
    );
    await writer.write(wire(framing, '{"jsonrpc":"2.0","method":"rss","id":"probe-rss"}'));
    const started = performance.now();
    while (!replies.has("probe-rss") && performance.now() - started < 10_000) {
      await Promise.race([reading, deadline(5)]);
    }
    const sum = (replies.get("probe-add") as { sum?: number } | undefined)?.sum;
    const rss = (replies.get("probe-rss") as { rss?: number } | undefined)?.rss;
    if (sum !== 3 || rss === undefined) result = { ok: false, why: "no answer to a fresh call" };
    else result = { ok: true, rss };
    await writePieces(writer, tail, random).catch(() => {}); // it may close first
  } catch (error) {
    result = { ok: false, why: `writing failed: ${error}` };
  }
  await writer.close().catch(() => {});
  const status = await Promise.race([child.status, deadline(10_000)]);
  if (status === "late") {
    child.kill("SIGKILL");
    await child.status;
    result = { ok: false, why: "the child did not exit once its stdin ended" };
  } else if (status.code !== 0 && result.ok) {
    result = { ok: false, why: `the child exited with code ${status.code}` };
  }
  await reading.catch(() => {});
  return result;
}

/** Fuzzes one framing for about `target` frames. */
export async function fuzzStdio(framing: Framing, target: number, seed: number) {
  const random = new Random(seed * 1000 + (framing === "newline" ? 101 : 102));
  const started = performance.now();
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  const rss: number[] = [];
  while (frames < target) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < FRAMES_PER_CASE; i++) parts.push(wire(framing, jsonRpcFrame(random)));
    const input = concat(parts);
    const tail = hostileTail(framing, random);
    const result = await runCase(framing, input, tail, random);
    frames += FRAMES_PER_CASE + 1;
    cases++;
    if (result.rss !== undefined) rss.push(result.rss);
    if (!result.ok) {
      crashes++;
      const dir = new URL("./crashes/", import.meta.url).pathname;
      await Deno.mkdir(dir, { recursive: true });
      const file = `${dir}stdio-${framing}-seed${seed}-${cases}.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          framing,
          seed,
          why: result.why,
          input: btoa(String.fromCharCode(...concat([input, tail]))),
        }),
      );
      console.error(`stdio ${framing}: case ${cases}: ${result.why}; saved to ${file}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  const report: StdioReport = {
    dialect: `stdio-${framing}`,
    frames,
    seconds: Math.round(seconds * 10) / 10,
    frames_per_s: Math.round(frames / seconds),
    cases,
    crashes,
    rss_mb: rss.length === 0
      ? null
      : { first: mb(rss[0]!), last: mb(rss.at(-1)!), peak: mb(Math.max(...rss)) },
  };
  return report;
}

if (import.meta.main && Deno.args[0] === "serve") {
  const peer = serveStdio(targetHandlers(), {
    framing: Deno.args[1] as Framing,
    maxFrameBytes: MAX_FRAME_BYTES,
    logger: silentLogger,
  });
  await peer.closed;
}
