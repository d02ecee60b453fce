// OpenRPC documents from contracts, served as rpc.discover on request only,
// and "Method not found" naming the method.

import {
  DISCOVER_METHOD,
  type OpenRpcDocument,
  openRpcMethod,
  Peer,
  RemoteError,
  Server,
} from "../mod.ts";
import { defineContract } from "../contract.ts";
import { connect, listen } from "../transports/tcp.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { peerPair, recordingLogger, test } from "./_helpers.ts";

const Shop = defineContract({
  name: "shop",
  incoming: {
    order: {
      description: "Places an order",
      params: {
        type: "object",
        properties: {
          sku: { type: "string", description: "The article" },
          quantity: { type: "integer", minimum: 1 },
        },
        required: ["sku"],
      },
      result: { type: "object", properties: { id: { type: "string" } } },
    },
    move: {
      params: {
        type: "array",
        prefixItems: [{ type: "number" }, { type: "number" }],
        minItems: 1,
        items: false,
      },
    },
    audit: {
      notification: true,
      params: { type: "object", properties: { line: { type: "string" } } },
    },
    now: {},
  },
  outgoing: { shipped: { notification: true } },
});

test("Contract.openrpc() describes the incoming methods as OpenRPC 1.3", () => {
  const doc = Shop.openrpc({ version: "2.0.1", description: "Orders" });
  assertEquals(doc.openrpc, "1.3.2");
  assertEquals(doc.info, { title: "shop", version: "2.0.1", description: "Orders" });
  assertEquals(doc.methods, [
    {
      name: "order",
      description: "Places an order",
      params: [
        {
          name: "sku",
          schema: { type: "string", description: "The article" },
          required: true,
          description: "The article",
        },
        { name: "quantity", schema: { type: "integer", minimum: 1 }, required: false },
      ],
      paramStructure: "either",
      result: {
        name: "result",
        schema: { type: "object", properties: { id: { type: "string" } } },
      },
    },
    {
      name: "move",
      params: [
        { name: "0", schema: { type: "number" }, required: true },
        { name: "1", schema: { type: "number" }, required: false },
      ],
      paramStructure: "by-position",
      result: { name: "result", schema: true },
    },
    {
      name: "audit",
      params: [{ name: "line", schema: { type: "string" }, required: false }],
      paramStructure: "either",
    },
    { name: "now", params: [], paramStructure: "either", result: { name: "result", schema: true } },
  ]);
  // The other side's view describes what the client answers.
  assertEquals(Shop.invert().openrpc().methods.map((m) => m.name), ["shipped"]);
  // The document is plain JSON.
  assertEquals(JSON.parse(JSON.stringify(doc)), doc);
});

test("openRpcMethod() keeps a params schema that is neither object nor tuple whole", () => {
  assertEquals(openRpcMethod("echo", { params: { type: "string" } }), {
    name: "echo",
    params: [],
    paramStructure: "either",
    "x-params-schema": { type: "string" },
    result: { name: "result", schema: true },
  });
});

test("rpc.discover is served over TCP only when the server is given a document", async () => {
  const doc = Shop.openrpc();
  const handlers = Shop.handlers({
    order: ({ sku }) => ({ id: sku }),
    move: () => null,
    audit: () => {},
    now: () => Date.now(),
  });
  const described = new Server({ handlers, peer: { discover: doc }, logger: recordingLogger() })
    .serve(listen("tcp://127.0.0.1:0"));
  const plain = new Server({ handlers, logger: recordingLogger() })
    .serve(listen("tcp://127.0.0.1:0"));
  const a = new Peer(await connect(described.addr));
  const b = new Peer(await connect(plain.addr));
  assertEquals(await a.call<OpenRpcDocument>(DISCOVER_METHOD), doc);
  const error = await assertRejects(() => b.call(DISCOVER_METHOD), RemoteError);
  assertEquals([error.code, error.data], [-32601, { method: "rpc.discover" }]);
  await a.close();
  await b.close();
  await described.shutdown();
  await plain.shutdown();
});

test("Method not found names the method in data", async () => {
  const { client, close } = peerPair();
  const error = await assertRejects(() => client.call("nosuch", [1]), RemoteError);
  assertEquals([error.code, error.message, error.data], [-32601, "Method not found", {
    method: "nosuch",
  }]);
  await close();
});
