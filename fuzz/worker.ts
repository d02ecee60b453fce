// `deno task fuzz worker`: hostile structured-clone values posted raw to a
// Peer served by a Deno worker (fuzz/_worker_target.ts), in cases of a few
// hundred values. Every value is first decoded by the StructuredCloneCodec
// here (it must not throw); after each case a fresh call (string ids, so no
// hostile id can answer it) must be answered correctly within 5 s, and the
// worker must not have failed. Values are built from a seeded source: a
// failing case is replayed by its seed and number (printed), since cloned
// values (Maps, BigInts, typed arrays) have no JSON form for a corpus file.

import { assertEquals } from "@std/assert";
import { Peer, silentLogger } from "../mod.ts";
import { connect, StructuredCloneCodec } from "../transports/worker.ts";
import { jsonValue, Random } from "./_generators.ts";

const METHODS = [
  "echo",
  "add",
  "sleep",
  "fail",
  "nosuch",
  "__proto__",
  "constructor",
  "rpc.cancel",
];

/** One hostile value for a port: a message, a near-message, a batch, or anything at all. */
export function cloneFrame(random: Random): unknown {
  const roll = random.int(10);
  if (roll < 4) return message(random);
  if (roll < 6) return mangle(random, message(random));
  if (roll === 6) {
    const n = random.chance(0.05) ? 1001 : random.pick([0, 1, 2, 10, 50]);
    return Array.from({ length: n }, () => random.chance(0.8) ? message(random) : value(random, 0));
  }
  if (roll === 7) return deep(random);
  return value(random, 0);
}

function message(random: Random): Record<string, unknown> {
  const method = random.pick(METHODS);
  const m: Record<string, unknown> = { jsonrpc: "2.0", method };
  if (random.chance(0.8)) {
    m.params = method === "add"
      ? { a: random.int(100), b: random.chance(0.9) ? random.int(100) : value(random, 0) }
      : method === "sleep"
      ? { ms: random.int(20) }
      : random.chance(0.5)
      ? [value(random, 0)]
      : { a: value(random, 0) };
  }
  if (random.chance(0.8)) m.id = id(random);
  return m;
}

function id(random: Random): unknown {
  return random.chance(0.7) ? random.int(50) : value(random, 2);
}

/** A message with one field replaced, dropped, or a reply's fields added. */
function mangle(random: Random, m: Record<string, unknown>): unknown {
  const keys = ["jsonrpc", "method", "params", "id", "result", "error", "__proto__"];
  const key = random.pick(keys);
  switch (random.int(3)) {
    case 0:
      delete m[key];
      return m;
    case 1:
      Object.defineProperty(m, key, { value: value(random, 0), enumerable: true });
      return m;
    default:
      return random.chance(0.5)
        ? { jsonrpc: "2.0", result: value(random, 0), id: id(random) }
        : { jsonrpc: "2.0", error: value(random, 0), id: id(random) };
  }
}

/** Any value structured clone carries, sometimes odd. */
function value(random: Random, depth: number): unknown {
  switch (random.int(depth > 3 ? 12 : 16)) {
    case 0:
      return random.pick([0, -0, NaN, Infinity, -Infinity, 2 ** 53 + 2, 1.5, -1]);
    case 1:
      return random.pick(["", "\u0000", "\ud800", "é€😀", "x".repeat(random.int(5000))]);
    case 2:
      return random.pick([true, false, null, undefined]);
    case 3:
      return BigInt(random.int(1000)) ** 5n;
    case 4:
      return new Uint8Array(random.int(64)).fill(random.int(256));
    case 5:
      return random.chance(0.5) ? new ArrayBuffer(random.int(64)) : new Float64Array(3);
    case 6:
      return new Date(random.chance(0.9) ? random.int(2 ** 40) : NaN);
    case 7:
      return random.pick([
        /x+/gi,
        new Error("e"),
        new RangeError("r"),
        new String("s"),
        new Number(1),
      ]);
    case 8:
      return new DataView(new ArrayBuffer(4));
    case 9:
      return random.chance(0.5) ? new Blob(["blob"]) : new Boolean(false);
    case 10:
      return jsonValue(random); // JSON-looking text
    case 11:
      return `s${random.int(100)}`;
    case 12: {
      const list = Array.from({ length: random.int(4) }, () => value(random, depth + 1));
      if (random.chance(0.2)) list[random.int(20) + 5] = 1; // sparse
      return list;
    }
    case 13:
      return new Map([[value(random, depth + 1), value(random, depth + 1)]]);
    case 14:
      return new Set([value(random, depth + 1)]);
    default: {
      const o: Record<string, unknown> = {};
      for (let i = random.int(4); i > 0; i--) {
        const key = random.pick(["a", "b", "code", "message", "__proto__", "constructor", `k${i}`]);
        Object.defineProperty(o, key, {
          value: value(random, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
  }
}

/** Nesting deep enough to stress recursive code, within what V8 can serialize. */
function deep(random: Random): unknown {
  let inner: unknown = 1;
  for (let i = random.pick([100, 500, 1000]); i > 0; i--) {
    inner = random.chance(0.5) ? [inner] : { a: inner };
  }
  return { jsonrpc: "2.0", method: "echo", params: [inner], id: random.int(50) };
}

/** What a run counted; `fuzz/main.ts` prints it. */
export interface WorkerCounts {
  frames: number;
  cases: number;
  crashes: number;
  /** The worker's RSS in bytes, every 20 cases. */
  rss: number[];
  /** Values `postMessage` refused to clone (they never reached the worker). */
  unclonable: number;
}

/** Runs `target` values through a worker in cases of 200, from `seed`. */
export async function fuzzWorker(seed: number, target: number): Promise<WorkerCounts> {
  const random = new Random(seed * 1000 + 77);
  const codec = new StructuredCloneCodec();
  const worker = new Worker(new URL("./_worker_target.ts", import.meta.url), { type: "module" });
  let failure: string | undefined;
  worker.addEventListener("error", (event) => {
    failure = `the worker failed: ${event.message}`;
    event.preventDefault();
  });
  const health = new Peer(connect(worker), { ids: "uuid", logger: silentLogger, timeout: 5000 });
  const rss: number[] = [];
  let frames = 0;
  let cases = 0;
  let crashes = 0;
  let unclonable = 0;
  try {
    while (frames < target && crashes === 0) {
      cases++;
      for (let i = 0; i < 200 && frames < target; i++, frames++) {
        const frame = cloneFrame(random);
        try {
          codec.decode(frame);
        } catch (error) {
          failure = `the codec threw on case ${cases} value ${i}: ${error}`;
          break;
        }
        try {
          worker.postMessage(frame);
        } catch {
          unclonable++; // a Blob, or nesting V8 will not serialize: never reaches the worker
        }
      }
      if (failure === undefined) {
        try {
          assertEquals(await health.call("echo", { case: cases }), { echo: { case: cases } });
          if (cases % 20 === 0) rss.push((await health.call("rss") as { rss: number }).rss);
        } catch (error) {
          failure = `case ${cases}: the worker did not answer a fresh call (${error})`;
        }
      }
      if (failure !== undefined) {
        crashes++;
        console.error(`worker: seed ${seed}, ${failure}`);
      }
    }
  } finally {
    await health.close();
  }
  return { frames, cases, crashes, rss, unclonable };
}
