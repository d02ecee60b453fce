// Newline and Content-Length framing over byte streams: frames split
// across reads, limits, bad headers, bytes that are not UTF-8.

import { assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import {
  CloseCode,
  ConnectionClosed,
  ErrorCode,
  FrameTooLarge,
  InvalidFrame,
  Peer,
} from "../mod.ts";
import { serveStdio, StreamTransport } from "../transports/stdio.ts";
import {
  ContentLengthSplitter,
  FramingError,
  NewlineSplitter,
  type Splitter,
} from "../transports/stdio/_framing.ts";
import { recordingLogger, within } from "./_helpers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const LIMITS = { maxFrameBytes: 64, maxHeaderBytes: 100 };

function drain(splitter: Splitter): (string | InvalidFrame)[] {
  const out: (string | InvalidFrame)[] = [];
  for (let frame = splitter.next(); frame !== undefined; frame = splitter.next()) out.push(frame);
  return out;
}

/** Feeds `input` one byte at a time, collecting every frame. */
function byteByByte(splitter: Splitter, input: Uint8Array): (string | InvalidFrame)[] {
  const out: (string | InvalidFrame)[] = [];
  for (const byte of input) {
    splitter.push(Uint8Array.of(byte));
    out.push(...drain(splitter));
  }
  return out;
}

Deno.test("newline framing: lines split across reads, CRLF and blank lines", () => {
  const input = bytes('{"a":1}\r\n\n{"b":"é"}\n{"c":');
  assertEquals(byteByByte(new NewlineSplitter(LIMITS), input), ['{"a":1}', '{"b":"é"}']);
  const whole = new NewlineSplitter(LIMITS);
  whole.push(input);
  assertEquals(drain(whole), ['{"a":1}', '{"b":"é"}']);
  assertEquals(whole.buffered, 5);
  whole.push(bytes("3}\n"));
  assertEquals(drain(whole), ['{"c":3}']);
});

Deno.test("newline framing: a line over the limit throws before it is buffered whole", () => {
  const splitter = new NewlineSplitter(LIMITS);
  splitter.push(new Uint8Array(60).fill(0x61));
  assertEquals(splitter.next(), undefined);
  splitter.push(new Uint8Array(10).fill(0x61));
  assertThrows(() => splitter.next(), FrameTooLarge);
});

Deno.test("newline framing: a line that is not UTF-8 becomes an InvalidFrame, the next reads", () => {
  const splitter = new NewlineSplitter(LIMITS);
  splitter.push(Uint8Array.of(0xff, 0xfe, 10, ...bytes("ok\n")));
  const [bad, good] = drain(splitter);
  assertInstanceOf(bad, InvalidFrame);
  assertEquals(good, "ok");
});

Deno.test("content-length framing: headers and bodies split across reads, Content-Type allowed", () => {
  const input = bytes(
    'Content-Length: 10\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{"a":"é"}' +
      "content-length:2\r\nX-Other: y\r\n\r\n[]",
  );
  assertEquals(byteByByte(new ContentLengthSplitter(LIMITS), input), ['{"a":"é"}', "[]"]);
  const whole = new ContentLengthSplitter(LIMITS);
  whole.push(input);
  assertEquals(drain(whole), ['{"a":"é"}', "[]"]);
});

Deno.test("content-length framing: a body may hold bare newlines, headers may not", () => {
  const splitter = new ContentLengthSplitter(LIMITS);
  splitter.push(bytes('Content-Length: 9\r\n\r\n{\n"a":1\n}'));
  assertEquals(drain(splitter), ['{\n"a":1\n}']);
  const bare = new ContentLengthSplitter(LIMITS);
  bare.push(bytes("Content-Length: 2\n\n{}"));
  assertThrows(() => drain(bare), FramingError, "not \\r\\n");
});

Deno.test("content-length framing: headers it cannot trust are a FramingError", () => {
  const cases = [
    "Content-Type: application/json\r\n\r\n{}",
    "Content-Length: -1\r\n\r\n",
    "Content-Length: 1e3\r\n\r\n",
    "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "no colon here\r\n\r\n",
    "Content-Length: 2\r\nContent-Type: text/plain; charset=latin1\r\n\r\n{}",
    "Content-Length: 2\r\nX: \u00e9\r\n\r\n{}",
  ];
  for (const text of cases) {
    const splitter = new ContentLengthSplitter(LIMITS);
    splitter.push(bytes(text));
    assertThrows(() => drain(splitter), FramingError, undefined, JSON.stringify(text));
  }
});

Deno.test("content-length framing: headers that never end stop at maxHeaderBytes", () => {
  const splitter = new ContentLengthSplitter(LIMITS);
  splitter.push(bytes("X-Filler: " + "a".repeat(80)));
  assertEquals(splitter.next(), undefined);
  splitter.push(bytes("a".repeat(20)));
  assertThrows(() => splitter.next(), FramingError, "headers longer than 100 bytes");
});

Deno.test("content-length framing: a body over the limit is refused from its header", () => {
  const splitter = new ContentLengthSplitter(LIMITS);
  splitter.push(bytes("Content-Length: 65\r\n\r\n"));
  assertThrows(() => splitter.next(), FrameTooLarge);
});

/** Two transports joined by in-memory pipes. */
function pipePair(options: ConstructorParameters<typeof StreamTransport>[2] = {}) {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return {
    up,
    down,
    client: () => new StreamTransport(down.readable, up.writable, options),
  };
}

for (const framing of ["newline", "content-length"] as const) {
  Deno.test(`${framing} framing: a peer calls, is called back, and ends with its input`, async () => {
    const { up, down, client } = pipePair({ framing });
    const server = serveStdio({
      add: ({ a, b }: { a: number; b: number }) => a + b,
      ask: (_: unknown, ctx) => ctx.peer.call("name"),
    }, { framing, input: up.readable, output: down.writable });
    const peer = new Peer(client(), { handlers: { name: () => "client" } });
    assertEquals(await peer.call("add", { a: 2, b: 40 }), 42);
    assertEquals(await peer.call("ask"), "client");
    const many = await Promise.all(
      Array.from({ length: 100 }, (_, i) => peer.call("add", { a: i, b: 1 })),
    );
    assertEquals(many[99], 100);
    await peer.close();
    await within(server.closed, 5000, "the server's end");
    assertEquals(server.closeReason?.code, CloseCode.Remote);
  });
}

Deno.test("newline framing: a frame over the limit is answered with -32001, then the stream ends", async () => {
  const { up, down } = pipePair();
  const server = serveStdio({}, { input: up.readable, output: down.writable, maxFrameBytes: 64 });
  const writer = up.writable.getWriter();
  const reader = down.readable.getReader();
  await writer.write(bytes("x".repeat(100)));
  const { value } = await reader.read();
  const reply = JSON.parse(new TextDecoder().decode(value));
  assertEquals(reply.error.code, ErrorCode.FrameTooLarge);
  await within(server.closed, 5000, "the server's end");
  assertEquals(server.closeReason?.code, CloseCode.FrameTooLarge);
  await writer.close().catch(() => {});
  await reader.cancel();
});

Deno.test("content-length framing: a bad header closes the stream as refused", async () => {
  const { up, down } = pipePair();
  const logger = recordingLogger();
  const server = serveStdio({}, {
    framing: "content-length",
    input: up.readable,
    output: down.writable,
    logger,
  });
  const writer = up.writable.getWriter();
  const reader = down.readable.getReader();
  const ended = reader.read();
  writer.write(bytes("Content-Length: lots\r\n\r\n{}")).catch(() => {});
  await within(server.closed, 5000, "the server's end");
  assertEquals(server.closeReason?.code, CloseCode.Refused);
  assertEquals(
    server.closeReason?.message,
    "unreadable input: Content-Length is not a number: 'lots'",
  );
  assertEquals((await ended).done, true);
  assertEquals(logger.messages("warn").length, 1);
  await writer.close().catch(() => {});
});

Deno.test("a transport whose writes the other side never reads closes at maxUnsentBytes", async () => {
  const { client } = pipePair({ maxUnsentBytes: 1000, writeHighWaterMark: 100 });
  const transport = client();
  const sent = transport.send("x".repeat(500));
  await assertRejects(() => transport.send("y".repeat(600)), ConnectionClosed);
  await sent.catch(() => {});
  await within(transport.closed, 5000, "the close");
  assertEquals(transport.closeReason?.code, CloseCode.WriteOverflow);
});

Deno.test("close writes the frames sent just before it, then ends the other side's input", async () => {
  const { up, down, client } = pipePair({ framing: "content-length" });
  const transport = client();
  const other = new StreamTransport(up.readable, down.writable, { framing: "content-length" });
  transport.send("[1]");
  transport.send("[2]");
  const closing = transport.close();
  const frames: unknown[] = [];
  for await (const frame of other.frames) frames.push(frame);
  assertEquals(frames, ["[1]", "[2]"]);
  await closing;
  await within(other.closed, 5000, "the other side's end");
});

/** A byte stream (as a pipe or stdin is) that hands out `chunks` one read each. */
function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk !== undefined) return controller.enqueue(chunk);
      controller.close();
      controller.byobRequest?.respond(0); // a reader's buffer waits for the end
    },
  });
}

for (const framing of ["newline", "content-length"] as const) {
  Deno.test(`${framing} framing over a byte stream: frames split across reads into the reused buffer arrive whole`, async () => {
    const big = "x".repeat(150_000); // spans three 64 KiB reads
    const texts = ['{"a":1}', '{"b":"é"}', big, '{"c":3}'];
    const wire = framing === "newline"
      ? texts.map((t) => `${t}\n`).join("")
      : texts.map((t) => `Content-Length: ${bytes(t).length}\r\n\r\n${t}`).join("");
    const all = bytes(wire);
    // Cut inside the first frame, inside é, and across the big one.
    const cuts = [3, 12, 20, 70_000, 140_000, all.length];
    const chunks: Uint8Array[] = [];
    for (let at = 0, i = 0; i < cuts.length; at = cuts[i++]!) {
      chunks.push(all.slice(at, cuts[i]));
    }
    const out = new TransformStream<Uint8Array, Uint8Array>();
    const transport = new StreamTransport(byteStream(chunks), out.writable, {
      framing,
      maxFrameBytes: 1024 * 1024,
    });
    const received: unknown[] = [];
    for await (const frame of transport.frames) received.push(frame);
    assertEquals(received, texts);
    await transport.close();
  });
}
