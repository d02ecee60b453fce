// Per-call metadata on mushroom (a fifth list item between our peers) and on
// nuropb (context, trace_id, and W3C trace context in AMQP headers nuropb
// does not read), byte for byte; and live over mushroom's WebSocket and poll.

import { assertEquals } from "@std/assert";
import { type CallContext, type Meta, Peer, Server } from "../mod.ts";
import { MushroomCallCodec } from "../protocol/dialects/mushroom_calls.ts";
import { StructuredCloneCodec } from "../transports/worker.ts";
import { connect, decodeMushroom, encodeMushroom } from "../transports/mushroom.ts";
import { listen } from "../transports/mushroom_server.ts";
import {
  decodeNuropb,
  NuropbCallerCodec,
  nuropbHeaders,
  NuropbServiceCodec,
} from "../transports/amqp.ts";
import { deferred, recordingLogger, test, waitFor, within } from "./_helpers.ts";

test("mushroom: meta is a fifth item of a call, only when not empty", () => {
  const codec = new MushroomCallCodec();
  const [withMeta] = codec.encode({
    kind: "request",
    id: 1,
    method: "add",
    params: [1, 2],
    meta: { user: "u1" },
  });
  assertEquals(encodeMushroom(withMeta!, "python"), '[2, 0, "add", [1, 2], {"user": "u1"}]');
  assertEquals(encodeMushroom(withMeta!, "compact"), '[2,0,"add",[1,2],{"user":"u1"}]');
  const [empty] = codec.encode({ kind: "request", id: 2, method: "add", params: [1], meta: {} });
  assertEquals(encodeMushroom(empty!, "python"), '[2, 1, "add", [1]]');
  const [plain] = codec.encode({ kind: "notification", method: "tick" });
  assertEquals(encodeMushroom(plain!, "python"), '[1, 2, "tick", null]');
  const [noted] = codec.encode({ kind: "notification", method: "tick", meta: { n: 1 } });
  assertEquals(encodeMushroom(noted!, "compact"), '[1,3,"tick",null,{"n":1}]');
});

test("mushroom: a fifth item is read as meta; one that is not an object is refused", () => {
  assertEquals(decodeMushroom([2, 6, "get_time", null, { traceId: "t" }]), {
    code: 2,
    id: 6,
    method: "get_time",
    data: null,
    meta: { traceId: "t" },
  });
  const codec = new MushroomCallCodec();
  assertEquals(codec.decode({ code: 1, id: 0, method: "m", data: [1], meta: { a: 1 } }), {
    kind: "notification",
    method: "m",
    params: [1],
    meta: { a: 1 },
  });
  assertEquals(decodeMushroom([2, 6, "m", null, [1]]), "message 2 is [2, id, method, data]");
  assertEquals(decodeMushroom([3, 6, 1, null, {}]), "message 3 is [3, id, request_id, data]");
});

for (const transport of ["ws", "poll"] as const) {
  test(`mushroom (${transport}): meta reaches the handler both ways between our peers`, async () => {
    const logger = recordingLogger();
    const server = new Server({
      logger,
      handlers: { meta: (_params: unknown, ctx: CallContext) => ctx.meta },
    }).serve(listen("http://127.0.0.1:0/mushroom/", { logger, transports: [transport] }));
    const heard = deferred<Meta>();
    const client = new Peer(await connect(server.addr, { logger, transports: [transport] }), {
      handlers: { note: (_params: unknown, ctx: CallContext) => heard.resolve(ctx.meta) },
    });
    assertEquals(await client.call("meta", [], { meta: { user: "u1", traceId: "t" } }), {
      user: "u1",
      traceId: "t",
    });
    assertEquals(await client.call("meta"), {});
    await waitFor(() => server.connections.size === 1);
    const [connection] = [...server.connections.values()];
    await connection!.peer.notify("note", [], { meta: { from: "server" } });
    assertEquals(await within(heard.promise, 5_000), { from: "server" });
    await client.close();
    await server.shutdown();
  });
}

test("nuropb: a caller's meta traceId and context are the wire's trace_id and context", () => {
  const codec = new NuropbCallerCodec("nuropb-x-client-1-rq");
  const [wire] = codec.encode({
    kind: "request",
    id: "c1",
    method: "add",
    params: { a: 1 },
    meta: { traceId: "t-1", context: { user: "u1" } },
  }, "calc");
  assertEquals(
    wire!.body,
    '{"tag": "request", "service": "calc", "method": "add", "params": {"a": 1}, "correlation_id": "c1", "context": {"user": "u1"}, "trace_id": "t-1"}',
  );
  // Exactly nuropb's headers: nothing extra unless asked.
  assertEquals(wire!.properties.headers, nuropbHeaders("request", "t-1", false));
  // The service reads both back, and answers with the context and trace id.
  const service = new NuropbServiceCodec("calc");
  const request = service.decode(wire!);
  assertEquals((request as { meta?: Meta }).meta, {
    traceId: "t-1",
    context: { user: "u1" },
    nuropbType: "request",
    service: "calc",
  });
  const [answer] = service.encode({ kind: "result", id: "c1", result: 2 }, "nuropb-x-client-1-rq");
  assertEquals(
    answer!.body,
    '{"tag": "response", "result": 2, "error": null, "correlation_id": "c1", "trace_id": "t-1", "context": {"user": "u1"}, "warning": null, "reply_to": "nuropb-x-client-1-rq"}',
  );
});

test("nuropb: W3C trace context rides in AMQP headers; trace_id is its trace id unless given", () => {
  const codec = new NuropbCallerCodec("nuropb-x-client-1-rq");
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const [wire] = codec.encode({
    kind: "request",
    id: "c2",
    method: "add",
    params: {},
    meta: { traceparent, tracestate: "k=v" },
  }, "calc");
  assertEquals(wire!.properties.headers, {
    ...nuropbHeaders("request", "4bf92f3577b34da6a3ce929d0e0e4736", false),
    traceparent,
    tracestate: "k=v",
  });
  assertEquals(JSON.parse(wire!.body).trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  const decoded = decodeNuropb(wire!.body, wire!.properties) as { meta: Meta };
  assertEquals([decoded.meta.traceparent, decoded.meta.tracestate], [traceparent, "k=v"]);
  const [given] = codec.encode({
    kind: "notification",
    method: "log",
    meta: { traceparent, traceId: "mine" },
  }, "calc");
  assertEquals(JSON.parse(given!.body).trace_id, "mine");
});

test("worker: a call's meta is a member of the cloned object, only when not empty", () => {
  const codec = new StructuredCloneCodec();
  const [frame] = codec.encode({
    kind: "request",
    id: 1,
    method: "m",
    params: [1],
    meta: { k: 1 },
  });
  assertEquals(frame, { jsonrpc: "2.0", method: "m", params: [1], id: 1, meta: { k: 1 } });
  assertEquals(codec.decode(structuredClone(frame)), {
    kind: "request",
    id: 1,
    method: "m",
    params: [1],
    meta: { k: 1 },
  });
  assertEquals(codec.encode({ kind: "notification", method: "n", meta: {} }), [
    { jsonrpc: "2.0", method: "n" },
  ]);
});
