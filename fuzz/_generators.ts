// Frame generators for `deno task fuzz`: valid, mutated and hostile input
// for each dialect, from a seeded random source, so a run can be replayed.
// Structure-aware: they know what a request looks like, and break it in the
// ways that broke servers before (deep nesting, huge numbers, odd ids,
// batches, stray replies, bytes that are not UTF-8).

/** A seeded random source (mulberry32). */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A frame: text, or raw bytes (not always UTF-8). */
export type Frame = string | Uint8Array;

const METHODS = ["echo", "add", "sleep", "fail", "nosuch", "__proto__", "constructor", "rpc.ping"];
const WEIRD_NUMBERS = [
  "0",
  "-0",
  "1e400",
  "-1e400",
  "9007199254740993",
  "1.5",
  "1e-400",
  "123456789012345678901234567890",
  "0.1e1",
  "-1",
];
const WEIRD_STRINGS = [
  '""',
  '"\\u0000"',
  '"\\ud800"',
  '"é€😀"',
  '"\\n\\r\\t"',
  `"${"x".repeat(300)}"`,
];

/** A JSON value of bounded size, sometimes odd. */
export function jsonValue(random: Random, depth = 0): string {
  const roll = random.int(depth > 3 ? 6 : 9);
  switch (roll) {
    case 0:
      return String(random.int(1000));
    case 1:
      return random.pick(WEIRD_NUMBERS);
    case 2:
      return random.pick(WEIRD_STRINGS);
    case 3:
      return random.pick(["true", "false", "null"]);
    case 4:
      return `"s${random.int(100)}"`;
    case 5:
      return JSON.stringify({ __bytes: random.chance(0.5) ? "AAEC" : "!!not base64" });
    case 6: {
      const n = random.int(4);
      return `[${Array.from({ length: n }, () => jsonValue(random, depth + 1)).join(",")}]`;
    }
    default: {
      const n = random.int(4);
      const members = Array.from(
        { length: n },
        (_, i) =>
          `"${random.pick(["a", "b", "ms", "message", "code", "__proto__", `k${i}`])}":${
            jsonValue(random, depth + 1)
          }`,
      );
      return `{${members.join(",")}}`;
    }
  }
}

/** Nesting far deeper than any parser or encoder should recurse. */
export function deepValue(random: Random): string {
  const depth = random.pick([600, 2000, 10000]);
  const open = random.chance(0.5) ? "[" : '{"a":';
  const close = open === "[" ? "]" : "}";
  return open.repeat(depth) + "1" + close.repeat(depth);
}

function id(random: Random): string {
  switch (random.int(8)) {
    case 0:
      return random.pick(WEIRD_NUMBERS);
    case 1:
      return random.pick(WEIRD_STRINGS);
    case 2:
      return random.pick(["null", "true", "[1]", '{"x":1}']);
    default:
      return String(random.int(50));
  }
}

function params(random: Random, method: string): string {
  if (random.chance(0.7)) {
    switch (method) {
      case "add":
        return `{"a":${random.int(100)},"b":${random.chance(0.9) ? random.int(100) : '"x"'}}`;
      case "sleep":
        return `{"ms":${random.int(20)}}`;
      case "fail":
        return `{"message":"m${random.int(10)}"}`;
      default:
        return jsonValue(random);
    }
  }
  return random.chance(0.01) ? deepValue(random) : jsonValue(random);
}

/** Flips, drops, inserts or repeats a few characters of `text`. */
export function mutate(random: Random, text: string): string {
  let out = text;
  const edits = 1 + random.int(3);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = random.int(out.length);
    switch (random.int(5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) +
          random.pick(['"', "{", "}", "[", "]", ",", ":", "\\", "0", "\u0000"]) +
          out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + String.fromCharCode(32 + random.int(95)) + out.slice(at + 1);
        break;
      case 3:
        out = out.slice(0, at);
        break;
      default:
        out = out.slice(0, at) + out.slice(at, at + 20) + out.slice(at);
    }
  }
  return out;
}

/** Bytes that are not UTF-8, inside something that looks like a frame. */
export function invalidUtf8(random: Random, text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const bad = random.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [
    0x80,
  ]]);
  const at = random.int(bytes.length + 1);
  return new Uint8Array([...bytes.subarray(0, at), ...bad, ...bytes.subarray(at)]);
}

function jsonRpcMessage(random: Random): string {
  const method = random.pick(METHODS);
  switch (random.int(10)) {
    case 0:
      return `{"jsonrpc":"2.0","method":"${method}","params":${params(random, method)}}`;
    case 1:
      return `{"jsonrpc":"2.0","result":${jsonValue(random)},"id":${id(random)}}`;
    case 2:
      return `{"jsonrpc":"2.0","error":{"code":${random.int(100)},"message":"x"},"id":${
        id(random)
      }}`;
    case 3:
      return `{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":${id(random)}}}`;
    case 4:
      return `{"jsonrpc":"${random.pick(["1.0", "2", "2.0 "])}","method":"${method}","id":1}`;
    default:
      return `{"jsonrpc":"2.0","method":"${method}","params":${params(random, method)},"id":${
        id(random)
      }}`;
  }
}

/** One JSON-RPC 2.0 frame: valid, mutated, a batch, or hostile. */
export function jsonRpcFrame(random: Random): Frame {
  const roll = random.int(20);
  if (roll < 9) return jsonRpcMessage(random);
  if (roll < 12) return mutate(random, jsonRpcMessage(random));
  if (roll < 14) {
    const n = random.chance(0.05) ? 1001 : random.pick([0, 1, 2, 10, 50]);
    const entries = Array.from(
      { length: n },
      () => random.chance(0.8) ? jsonRpcMessage(random) : jsonValue(random),
    );
    return `[${entries.join(",")}]`;
  }
  if (roll === 14) return invalidUtf8(random, jsonRpcMessage(random));
  if (roll === 15) {
    return random.chance(0.2)
      ? `{"jsonrpc":"2.0","method":"echo","params":${deepValue(random)},"id":1}`
      : jsonRpcMessage(random);
  }
  if (roll === 16) return jsonValue(random);
  if (roll === 17) return random.pick(["", " ", "\t", "null", "[]", "{}", "x", "\u0000"]);
  if (roll === 18) return `[${"1,".repeat(random.int(random.chance(0.1) ? 3000 : 100))}1]`;
  return mutate(random, mutate(random, jsonRpcMessage(random)));
}

/** One simplerpc line (without its newline). */
export function simpleRpcFrame(random: Random): Frame {
  const op = random.pick([
    "echo",
    "add",
    "sleep",
    "fail",
    "nosuch",
    "OKAY",
    "FAIL",
    "echo ",
    "a{b",
  ]);
  const roll = random.int(12);
  if (roll < 6) return `${op}${params(random, op.trim())}`;
  if (roll < 8) return mutate(random, `${op}${params(random, op.trim())}`);
  if (roll === 8) return invalidUtf8(random, `${op}${params(random, op.trim())}`);
  if (roll === 9) {
    return random.chance(0.2) ? `echo{"x":${deepValue(random)}}` : `echo{"x":[[[[1]]]]}`;
  }
  if (roll === 10) return `${op}${random.pick(["[1,2]", '"str"', "7", "", "{", "}"])}`;
  return random.pick(["", "{}", "hello", "\r", 'echo{"a":1} trailing']);
}

/** One quickrpc telegram (without its NUL). */
export function quickRpcFrame(random: Random): Frame {
  const method = random.pick(METHODS);
  const roll = random.int(14);
  const call = () =>
    `{"jsonrpc": "2.0", "method": "${method}", "params": ${params(random, method)}${
      random.chance(0.8) ? `, "id": ${id(random)}` : ""
    }}`;
  if (roll < 6) return call();
  if (roll < 8) return mutate(random, call());
  if (roll === 8) {
    return `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${jsonValue(random)}}`;
  }
  if (roll === 9) return invalidUtf8(random, call());
  if (roll === 10) return `${call()}${call()}trailing`;
  if (roll === 11) return `{"jsonrpc": "2.0", "result": ${jsonValue(random)}, "id": ${id(random)}}`;
  if (roll === 12 && random.chance(0.2)) {
    return `{"jsonrpc": "2.0", "method": "echo", "params": {"x": ${deepValue(random)}}, "id": 3}`;
  }
  return random.pick(["", "garbage", '{"jsonrpc": "1.0", "method": "add"}', "[]", "null"]);
}

/** A terse value of bounded size, sometimes odd. */
function terseValue(random: Random, depth = 0): string {
  switch (random.int(depth > 3 ? 6 : 8)) {
    case 0:
      return String(random.int(1000));
    case 1:
      return random.pick([...WEIRD_NUMBERS, "1.23457e+06", "nan", "inf", "-inf", "-", ".", "1e"]);
    case 2:
      return random.pick(['""', '"\\n\\"\\\\"', '"é€😀"', '"\\"', '"open', `"${"x".repeat(300)}"`]);
    case 3:
      return random.pick(["None", "True", "'AAEC'", "'!!not base64'", "'open"]);
    case 4:
      return `"s${random.int(100)}"`;
    case 5:
      return random.pick(["[", "{", "]", "}", "[1", "{a:1", "{a}", "{:1}"]);
    case 6: {
      const n = random.int(4);
      return `[${Array.from({ length: n }, () => terseValue(random, depth + 1)).join(" ")}]`;
    }
    default: {
      const n = random.int(4);
      return `{${
        Array.from(
          { length: n },
          (_, i) =>
            `${random.pick(["a", "ms", "__proto__", `k${i}`])}:${terseValue(random, depth + 1)}`,
        ).join(" ")
      }}`;
    }
  }
}

/** One quickrpc terse telegram (without its newline). */
export function terseFrame(random: Random): Frame {
  const method = random.pick(METHODS);
  const head = () =>
    `${method}${
      random.chance(0.7) ? `/${random.pick(["1", "0", "42", "99999999999999999999"])}` : ""
    }`;
  const params = () => {
    if (random.chance(0.6)) {
      switch (method) {
        case "add":
          return `a:${terseValue(random)} b:${random.int(100)}`;
        case "sleep":
          return `ms:${random.int(30)}`;
        case "fail":
          return `message:${terseValue(random)}`;
      }
    }
    return `x:${terseValue(random)}`;
  };
  const call = () => `${head()} ${params()}`;
  const roll = random.int(12);
  if (roll < 5) return call();
  if (roll < 7) return mutate(random, call());
  if (roll === 7) return invalidUtf8(random, call());
  if (roll === 8) {
    return `[${random.int(50)}]:${terseValue(random)}${random.chance(0.5) ? call() : ""}`;
  }
  if (roll === 9) return `[${random.int(50)}]! message:${terseValue(random)} details:"d"${call()}`;
  if (roll === 10 && random.chance(0.2)) {
    const depth = random.pick([600, 2000, 10000]);
    return `echo/3 x:${random.pick(["[", "{a:"]).repeat(depth)}1`;
  }
  return random.pick(["", " ", "[", "[]", "[1]", ":", "/1", "echo:1", "add/1 a 1", "\r"]);
}

/** One mushroom message list (a frame, or one entry of a poll body). */
function mushroomMessage(random: Random, nextId: () => number): string {
  const method = random.pick(METHODS);
  switch (random.int(12)) {
    case 0:
      return `[0, ${random.pick(["null", "0", String(random.int(100)), "-1", "1e400", '"x"'])}]`;
    case 1:
      return `[1, ${nextId()}, "${method}", ${params(random, method)}]`;
    case 2:
      return `[3, ${nextId()}, ${random.int(50)}, ${jsonValue(random)}]`;
    case 3:
      return `[4, ${nextId()}, ${random.int(50)}, ${jsonValue(random)}]`;
    case 4:
      return `[2, ${
        random.pick([String(random.int(5)), "-3", "1.5", "9007199254740993", '"7"'])
      }, "${method}"]`;
    case 5:
      return `[${random.pick(["5", "-2", '"2"', "null", "[]"])}, 1, "${method}"]`;
    case 6:
      return random.chance(0.1) ? "[-1]" : `[2, ${nextId()}, "${method}"]`;
    default:
      return `[2, ${nextId()}, "${method}", ${params(random, method)}]`;
  }
}

/**
 * A mushroom generator: frames (or poll bodies) of message lists, with ids
 * that mostly increase (as a session's do), repeats, gaps, mutations,
 * batches, deep values and bytes that are not UTF-8.
 */
export function mushroomFrames(): (random: Random) => Frame {
  let last = 0;
  const nextId = () => last = last + 1;
  return (random) => {
    const roll = random.int(16);
    if (roll < 8) return mushroomMessage(random, nextId);
    if (roll < 10) return mutate(random, mushroomMessage(random, nextId));
    if (roll < 12) {
      const n = random.pick([0, 1, 2, 10, 50]);
      return `[${Array.from({ length: n }, () => mushroomMessage(random, nextId)).join(", ")}]`;
    }
    if (roll === 12) return invalidUtf8(random, mushroomMessage(random, nextId));
    if (roll === 13) {
      return random.chance(0.2)
        ? `[2, ${nextId()}, "echo", ${deepValue(random)}]`
        : `[2, ${nextId()}, "echo", [[[[1]]]]]`;
    }
    if (roll === 14) return jsonValue(random);
    return random.pick(["", "[", "null", "{}", "[[0, null]]", '[[2, 0, "echo"]]']);
  };
}

const CHORIA_ACTIONS = ["echo", "fail", "nosuch", "", "__proto__"];

/** One Choria External request file's text. */
export function choriaRequest(random: Random): string {
  const data = random.chance(0.7)
    ? `{"message":${random.pick(['"hello"', '"a;b"', '""', "7", "null", `"${"x".repeat(5000)}"`])}}`
    : jsonValue(random);
  const valid = `{"$schema":"https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",` +
    `"protocol":"io.choria.mcorpc.external.v1.rpc_request","agent":"parrot",` +
    `"action":"${random.pick(CHORIA_ACTIONS)}","requestid":"r${random.int(1000)}",` +
    `"senderid":"node","callerid":"choria=x.mcollective","collective":"mcollective",` +
    `"ttl":${random.pick(["60", "-1", "1e400"])},"msgtime":${random.int(1e9)},"data":${data}}`;
  const roll = random.int(8);
  if (roll < 4) return valid;
  if (roll < 6) return mutate(random, valid);
  if (roll === 6) return deepValue(random);
  return jsonValue(random);
}

/** A message as published to RabbitMQ: where to, its AMQP properties, its body. */
export interface Envelope {
  exchange: string;
  routingKey: string;
  properties: {
    contentType?: string;
    correlationId?: string;
    replyTo?: string;
    expiration?: string;
    headers?: Record<string, unknown>;
  };
  body: Frame;
}

const NUROPB_METHODS = [...METHODS, "nuropb.event", "nuropb_describe", "_private"];

function nuropbHeaderValue(random: Random, depth = 0): unknown {
  switch (random.int(depth > 2 ? 5 : 7)) {
    case 0:
      return random.int(1000);
    case 1:
      return random.pick(["", "0.1.1", "yes", "request", "x".repeat(300), "é€😀"]);
    case 2:
      return null;
    case 3:
      return random.chance(0.5);
    case 4:
      return -random.int(1e6) / 7;
    case 5:
      return [nuropbHeaderValue(random, depth + 1), nuropbHeaderValue(random, depth + 1)];
    default:
      return { [`k${random.int(5)}`]: nuropbHeaderValue(random, depth + 1) };
  }
}

/** nuropb's headers, right or broken in the ways a stranger may break them. */
function nuropbHeaders(random: Random, type: string): Record<string, unknown> | undefined {
  const roll = random.int(20);
  if (roll === 0) return undefined;
  const headers: Record<string, unknown> = {
    nuropb_protocol: random.chance(0.95) ? "0.1.1" : random.pick(["9.9", "", 1]),
    nuropb_version: "0.1.8",
    nuropb_type: random.chance(0.95) ? type : random.pick(["gossip", "", 7, null]),
    trace_id: random.chance(0.7) ? null : nuropbHeaderValue(random),
    encrypted: random.chance(0.95) ? "" : random.pick(["yes", "no", 1]),
  };
  if (roll === 1) delete headers.nuropb_type;
  if (roll === 2) headers[`x-${random.int(100)}`] = nuropbHeaderValue(random);
  if (roll === 3 && random.chance(0.1)) {
    // A header table larger than any message of ours: 9 kB to near the frame maximum.
    headers.pad = "x".repeat(random.pick([9, 30, 70, 100, 120, 127]) * 1024);
  }
  return headers;
}

/** A nuropb JSON payload of `type`, valid or close to it. */
function nuropbPayload(random: Random, type: string): string {
  const method = random.pick(NUROPB_METHODS);
  const context = random.chance(0.8) ? "{}" : jsonValue(random);
  switch (type) {
    case "request":
    case "command":
      return `{"tag": "${type}", "service": "fuzz", "method": "${method}", "params": ${
        params(random, method)
      }, "correlation_id": "c", "context": ${context}, "trace_id": null}`;
    case "event":
      return `{"tag": "event", "topic": "${random.pick(["fuzz.a", "", "x"])}", "event": ${
        jsonValue(random)
      }, "context": ${context}, "target": null}`;
    default:
      return random.chance(0.5)
        ? `{"tag": "response", "result": ${jsonValue(random)}, "error": null}`
        : `{"tag": "response", "result": null, "error": ${
          random.pick([jsonValue(random), '{"error": "NuropbException", "description": "x"}'])
        }}`;
  }
}

/**
 * One message a stranger could publish to a nuropb mesh: requests, commands,
 * events and fake responses, with broken headers, properties and bodies,
 * header tables up to the broker's frame maximum, and bodies that are not
 * JSON or not UTF-8. `service` is the service under attack; `replyQueues`
 * are response queues of live callers (fake responses go there too).
 */
export function nuropbEnvelope(
  random: Random,
  service: string,
  replyQueues: readonly string[],
): Envelope {
  const type = random.pick(["request", "request", "request", "command", "event", "response"]);
  const payload = nuropbPayload(random, type);
  let body: Frame = payload;
  const roll = random.int(20);
  if (roll < 3) body = mutate(random, payload);
  else if (roll === 3) body = invalidUtf8(random, payload);
  else if (roll === 4) body = jsonValue(random);
  else if (roll === 5 && random.chance(0.2)) {
    body = payload.replace('"params": ', `"params": {"x": ${deepValue(random)}}, "p": `);
  } else if (roll === 6) body = random.pick(["", "null", "[]", "{}", "x"]);
  else if (roll === 7 && random.chance(0.002)) {
    // Over what a service holds per request with its defaults (4 MiB).
    body = payload.replace('"params": ', `"pad": "${"x".repeat(5 * 1024 * 1024)}", "params": `);
  }
  const replyTo = random.pick([
    ...replyQueues,
    ...replyQueues,
    "",
    `nuropb-${service}-sq`,
    "nuropb-dl-queue",
    "amq.rabbitmq.reply-to.x",
    `nuropb-${"x".repeat(random.int(240))}-rq`,
  ]);
  const properties: Envelope["properties"] = {
    contentType: random.chance(0.9) ? "application/json" : "text/plain",
    correlationId: random.chance(0.9) ? `f${random.int(1e9)}` : random.pick(["", "x".repeat(255)]),
    replyTo: type === "request" || random.chance(0.1) ? replyTo : "",
    headers: nuropbHeaders(random, type),
  };
  if (random.chance(0.05)) properties.expiration = random.pick(["0", "1", "60000"]);
  if (type === "response") {
    // A fake reply, straight into a caller's response queue.
    return { exchange: "", routingKey: random.pick(replyQueues), properties, body };
  }
  if (type === "event") {
    return { exchange: "nuropb-events-exchange", routingKey: "fuzz.a", properties, body };
  }
  return { exchange: "nuropb-rpc-exchange", routingKey: service, properties, body };
}
