// Review of reading a body of declared length with request.json() (c1daaa6):
// what a hostile client's body gets from listen() and from httpHandler in
// Deno.serve, where the two could differ (listen() builds its own Requests,
// whose json() follows the Fetch standard).

import { assert, assertEquals } from "@std/assert";
import { Server } from "../mod.ts";
import { httpHandler, listen } from "../transports/http.ts";
import { recordingLogger, test, waitFor } from "./_helpers.ts";
import { RawHttp } from "./_http_raw.ts";

const JSON_HEADERS = { "content-type": "application/json" };
const CALL = '{"jsonrpc":"2.0","method":"add","params":[2,3],"id":1}';

function adder(): Server {
  return new Server({ logger: recordingLogger(), handlers: { add: ([a, b]: number[]) => a + b } });
}

/** The status and parsed answer of a POST of `body` to `url`. */
async function postBody(url: string, body: BodyInit): Promise<[number, unknown]> {
  const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body });
  return [response.status, await response.json()];
}

/** listen() and httpHandler in Deno.serve, each serving `adder()` with `options`. */
async function bothEndpoints(
  options: Parameters<typeof listen>[1],
  run: (url: string, kind: string) => Promise<void>,
): Promise<void> {
  const own = adder().serve(listen("http://127.0.0.1:0/rpc", options));
  try {
    await run(own.addr, "listen()");
  } finally {
    await own.shutdown();
  }
  const server = adder();
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    httpHandler(server, { ...options, path: "/rpc" }),
  );
  try {
    await run(`http://127.0.0.1:${http.addr.port}/rpc`, "httpHandler");
  } finally {
    await server.shutdown();
    await http.shutdown();
  }
}

/** A POST head declaring 400 bytes of body, and the first 10 of them. */
function stalledPost(url: string): string {
  return `POST /rpc HTTP/1.1\r\nHost: ${new URL(url).host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: 400\r\n\r\n${CALL.slice(0, 10)}`;
}

test("listen() refuses a body starting with a byte order mark as httpHandler does, declared or chunked", async () => {
  // The json() of a Request listen() made drops the mark (Fetch decodes
  // UTF-8 so); Deno.serve's refuses it: both must answer alike.
  const call = new TextEncoder().encode(CALL);
  const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
  const withBom = new Uint8Array([...bom, ...call]);
  await bothEndpoints({}, async (url, kind) => {
    for (const [name, body] of [["a call", withBom], ["a lone mark", bom]] as const) {
      for (const sent of [body, ReadableStream.from([body])]) {
        const framing = sent instanceof Uint8Array ? "declared" : "chunked";
        const [status, answer] = await postBody(url, sent);
        const error = (answer as { error: { code: number; data: string } }).error;
        assertEquals([status, error.code], [400, -32700], `${kind}, ${name}, ${framing}`);
        assert(error.data.includes("not valid JSON"), `${kind}: ${error.data}`);
      }
    }
    // Still serving.
    assertEquals(await postBody(url, call), [200, { jsonrpc: "2.0", result: 5, id: 1 }], kind);
  });
});

test("a body whose client went away mid-way gives back its POST place at once, not at bodyTimeout", async () => {
  const options = { maxConcurrentPosts: 1, bodyTimeout: 60_000 };
  await bothEndpoints(options, async (url, kind) => {
    for (let i = 0; i < 3; i++) {
      const raw = await RawHttp.open(url);
      await raw.send(stalledPost(url));
      // Admitted (the one place taken) before the client goes away.
      await waitFor(async () => {
        const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body: CALL });
        await response.body?.cancel();
        return response.status === 503 || undefined;
      }, { timeout: 5000, message: `${kind}: the stalled POST holding the place` });
      raw.close();
      await raw.done();
      // The place comes back long before the 60 s deadline.
      await waitFor(async () => {
        const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body: CALL });
        await response.body?.cancel();
        return response.status === 200 || undefined;
      }, { timeout: 5000, interval: 20, message: `${kind}: the place given back` });
    }
  });
});

test("a body of only whitespace is a Parse error, declared or chunked, on both endpoints", async () => {
  const blank = new TextEncoder().encode(" \r\n\t ");
  await bothEndpoints({}, async (url, kind) => {
    for (const sent of [blank, ReadableStream.from([blank])]) {
      const framing = sent instanceof Uint8Array ? "declared" : "chunked";
      const [status, answer] = await postBody(url, sent);
      assertEquals([status, (answer as { error: unknown }).error], [400, {
        code: -32700,
        message: "Parse error",
        data: "Unexpected end of JSON input",
      }], `${kind}, ${framing}`);
    }
    // An empty body stays an Invalid Request, declared or chunked.
    for (const sent of [new Uint8Array(), ReadableStream.from([new Uint8Array()])]) {
      const [status, answer] = await postBody(url, sent);
      assertEquals([status, (answer as { error: unknown }).error], [400, {
        code: -32600,
        message: "Invalid Request",
        data: "empty body",
      }], kind);
    }
  });
});

test("a declared body cut short by the client's half-close is 400 'could not be read', not a Parse error", async () => {
  // request.json() then fails with no SyntaxError: the body was not read.
  await bothEndpoints({ bodyTimeout: 60_000 }, async (url, kind) => {
    const raw = await RawHttp.open(url);
    let answer: string;
    try {
      await raw.send(stalledPost(url));
      await raw.closeWrite();
      // The answer and the close come at once (the body's deadline is a minute away).
      answer = await raw.ended(10_000);
    } finally {
      raw.close();
      await raw.done();
    }
    assert(answer.startsWith("HTTP/1.1 400 "), `${kind}: ${answer}`);
    assert(answer.endsWith("\r\n\r\nThe body could not be read\n"), `${kind}: ${answer}`);
    assertEquals(await postBody(url, CALL), [200, { jsonrpc: "2.0", result: 5, id: 1 }], kind);
  });
});
