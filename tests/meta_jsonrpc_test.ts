// Per-call metadata over JSON-RPC: the top-level "meta" member, byte for
// byte; what our handlers and interceptors see over TCP; and strict JSON-RPC
// 2.0 servers that do not know the member (jayson, json-rpc-2.0) answering
// a call that carries it as they would any other.

import { assertEquals } from "@std/assert";
import jayson from "npm:jayson@5.0.0";
import { JSONRPCServer } from "npm:json-rpc-2.0@1.8.1";
import {
  type CallContext,
  type Interceptor,
  JsonRpcCodec,
  memoryPair,
  type Meta,
  Peer,
  Server,
} from "../mod.ts";
import { connect as connectHttp } from "../transports/http.ts";
import { connect, listen } from "../transports/tcp.ts";
import { deferred, recordingLogger, test, within } from "./_helpers.ts";

const codec = new JsonRpcCodec();

test("meta is a top-level member of requests and notifications, written only when not empty", () => {
  assertEquals(
    codec.encode({ kind: "request", id: 1, method: "add", params: [1, 2], meta: { user: "u1" } }),
    ['{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1,"meta":{"user":"u1"}}'],
  );
  assertEquals(
    codec.encode({ kind: "request", id: "a", method: "ping", meta: { traceId: "t" } }),
    ['{"jsonrpc":"2.0","method":"ping","id":"a","meta":{"traceId":"t"}}'],
  );
  assertEquals(
    codec.encode({ kind: "notification", method: "log", params: { line: "hi" }, meta: { n: 1 } }),
    ['{"jsonrpc":"2.0","method":"log","params":{"line":"hi"},"meta":{"n":1}}'],
  );
  assertEquals(codec.encode({ kind: "notification", method: "tick", meta: { n: 1 } }), [
    '{"jsonrpc":"2.0","method":"tick","meta":{"n":1}}',
  ]);
  // Empty meta: plain JSON-RPC, the same bytes as without it.
  assertEquals(codec.encode({ kind: "request", id: 1, method: "add", params: [1], meta: {} }), [
    '{"jsonrpc":"2.0","method":"add","params":[1],"id":1}',
  ]);
  assertEquals(codec.encode({ kind: "notification", method: "tick", meta: {} }), [
    '{"jsonrpc":"2.0","method":"tick"}',
  ]);
  // Replies carry no meta on this wire.
  assertEquals(codec.encode({ kind: "result", id: 1, result: 3, meta: { x: 1 } }), [
    '{"jsonrpc":"2.0","result":3,"id":1}',
  ]);
});

test("meta is read when it is an object, and ignored (never an error) when it is not", () => {
  assertEquals(
    codec.decode('{"jsonrpc":"2.0","method":"add","params":[1],"id":1,"meta":{"a":1}}'),
    {
      kind: "request",
      id: 1,
      method: "add",
      params: [1],
      meta: { a: 1 },
    },
  );
  assertEquals(codec.decode('{"jsonrpc":"2.0","method":"log","meta":{"b":[2]}}'), {
    kind: "notification",
    method: "log",
    meta: { b: [2] },
  });
  for (const junk of ["5", '"x"', "null", "[1]", "true"]) {
    assertEquals(
      codec.decode(`{"jsonrpc":"2.0","method":"m","id":1,"meta":${junk}}`),
      { kind: "request", id: 1, method: "m" },
      junk,
    );
  }
  // A round trip keeps it.
  const [frame] = codec.encode({ kind: "request", id: 9, method: "m", meta: { k: "v" } });
  assertEquals(codec.decode(frame!), { kind: "request", id: 9, method: "m", meta: { k: "v" } });
});

test("over TCP a call's and a notification's meta reach ctx.meta; plain calls see {}", async () => {
  const noted = deferred<Meta>();
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      meta: (_params: unknown, ctx: CallContext) => ctx.meta,
      note: (_params: unknown, ctx: CallContext) => noted.resolve(ctx.meta),
    },
  }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr));
  assertEquals(await client.call("meta", [], { meta: { user: "u1", traceId: "t-1" } }), {
    user: "u1",
    traceId: "t-1",
  });
  assertEquals(await client.call("meta"), {});
  await client.notify("note", [], { meta: { n: 2 } });
  assertEquals(await within(noted.promise, 5_000), { n: 2 });
  await client.close();
  await server.shutdown();
});

test("an outgoing interceptor adds meta the remote handler sees; an incoming one reads it", async () => {
  const read: unknown[] = [];
  const stamp: Interceptor = (call, next) => {
    if (call.direction === "outgoing") call.meta.tenant = "acme";
    return next();
  };
  const audit: Interceptor = (call, next) => {
    if (call.direction === "incoming") {
      read.push(call.meta.tenant);
      call.meta.seenBy = "audit"; // the handler sees what an incoming interceptor adds
    }
    return next();
  };
  const server = new Server({
    logger: recordingLogger(),
    handlers: { meta: (_params: unknown, ctx: CallContext) => ctx.meta },
    peer: { interceptors: [audit] },
  }).serve(listen("tcp://127.0.0.1:0"));
  const client = new Peer(await connect(server.addr), { interceptors: [stamp] });
  const given: Meta = { user: "u1" };
  assertEquals(await client.call("meta", [], { meta: given }), {
    user: "u1",
    tenant: "acme",
    seenBy: "audit",
  });
  assertEquals(given, { user: "u1" }, "the caller's meta object is not changed");
  assertEquals(await client.call("meta"), { tenant: "acme", seenBy: "audit" });
  assertEquals(read, ["acme", "acme"]);
  await client.close();
  await server.shutdown();
});

test("reading outgoing meta in an interceptor changes nothing the remote side sees", async () => {
  const frames: string[] = [];
  const [a, b] = memoryPair();
  const server = new Peer(a, { handlers: { meta: (_p: unknown, ctx: CallContext) => ctx.meta } });
  const client = new Peer(b, {
    interceptors: [(call, next) => (frames.push(JSON.stringify(call.meta)), next())],
  });
  assertEquals(await client.call("meta"), {});
  assertEquals(await client.call("meta", [], { meta: { k: 1 } }), { k: 1 });
  assertEquals(frames, ["{}", '{"k":1}']);
  await client.close();
  await server.closed;
});

test("jayson's HTTP server answers a call and a notification that carry meta", async () => {
  const heard: unknown[] = [];
  const jay = new jayson.Server({
    add: (args: number[], callback: (error: unknown, result?: unknown) => void) =>
      callback(null, args[0]! + args[1]!),
    note: (args: unknown, callback: (error: unknown) => void) => {
      heard.push(args);
      callback(null);
    },
  });
  const http = jay.http();
  const listening = deferred();
  http.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const { port } = http.address() as { port: number };
  const client = new Peer(await connectHttp(`http://127.0.0.1:${port}/`));
  assertEquals(await client.call("add", [1, 2], { meta: { traceparent: "00-x", user: "u" } }), 3);
  await client.notify("note", ["hi"], { meta: { user: "u" } });
  assertEquals(await client.call("add", [2, 2]), 4);
  assertEquals(heard, [["hi"]]);
  await client.close();
  await new Promise<void>((resolve) => {
    http.close(() => resolve());
    (http as unknown as { closeAllConnections?(): void }).closeAllConnections?.();
  });
});

test("json-rpc-2.0's server answers a call that carries meta, and sees no difference", async () => {
  const bodies: unknown[] = [];
  const rpc = new JSONRPCServer();
  rpc.addMethod("add", ([a, b]: number[]) => a + b);
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    bodies.push(body);
    const reply = await rpc.receive(body);
    return reply === null ? new Response(null, { status: 204 }) : Response.json(reply);
  });
  const client = new Peer(await connectHttp(`http://127.0.0.1:${http.addr.port}/`));
  assertEquals(await client.call("add", [40, 2], { meta: { user: "u1" } }), 42);
  assertEquals(bodies, [{
    jsonrpc: "2.0",
    method: "add",
    params: [40, 2],
    id: 1,
    meta: { user: "u1" },
  }]);
  await client.close();
  await http.shutdown();
});
