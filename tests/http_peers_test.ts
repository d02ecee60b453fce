// JSON-RPC over HTTP against real peers from npm (pinned): jayson's HTTP
// server and client, and json-rpc-2.0's client on fetch. Both ways, with
// batches and notifications.

import { assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import jayson from "npm:jayson@5.0.0";
import {
  createJSONRPCNotification,
  createJSONRPCRequest,
  JSONRPCClient,
} from "npm:json-rpc-2.0@1.8.1";
import { Peer, RemoteError, Server } from "../mod.ts";
import { connect, listen } from "../transports/http.ts";
import { deferred, recordingLogger, test, waitFor, within } from "./_helpers.ts";

/** Our server: add, and a notification it records. */
function ours(): { server: Server; heard: unknown[] } {
  const heard: unknown[] = [];
  const server = new Server({
    logger: recordingLogger(),
    handlers: {
      add: ([a, b]: number[]) => a + b,
      note: (params) => {
        heard.push(params);
      },
    },
  }).serve(listen("http://127.0.0.1:0/rpc"));
  return { server, heard };
}

/** jayson's HTTP server on a free port: add, and a notification it records. */
async function jaysonServer(): Promise<{ url: string; heard: unknown[]; close(): Promise<void> }> {
  const heard: unknown[] = [];
  const server = new jayson.Server({
    add: (args: number[], callback: (error: unknown, result?: unknown) => void) =>
      callback(null, args[0]! + args[1]!),
    note: (args: unknown, callback: (error: unknown) => void) => {
      heard.push(args);
      callback(null);
    },
  });
  const http = server.http();
  const listening = deferred();
  http.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const { port } = http.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    heard,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        (http as unknown as { closeAllConnections?(): void }).closeAllConnections?.();
      }),
  };
}

test("our client calls jayson's HTTP server: a call, an error, a notification", async () => {
  const jay = await jaysonServer();
  const client = new Peer(await connect(jay.url));
  assertEquals(await client.call("add", [1, 2]), 3);
  const error = await assertRejects(() => client.call("nope"), RemoteError);
  assertEquals(error.code, -32601);
  await client.notify("note", ["hi"]);
  await waitFor(() => jay.heard.length === 1);
  assertEquals(jay.heard, [["hi"]]);
  await client.close();
  await jay.close();
});

test("our batching client sends jayson one batch of calls and a notification", async () => {
  const jay = await jaysonServer();
  const bodies: string[] = [];
  const client = new Peer(
    await connect(jay.url, {
      batch: {},
      fetch: (input, init) => {
        bodies.push(String(init?.body));
        return fetch(input, init);
      },
    }),
  );
  const [a, b] = await Promise.all([
    client.call("add", [1, 2]),
    client.call("add", [3, 4]),
    client.notify("note", ["in a batch"]),
  ]);
  assertEquals([a, b], [3, 7]);
  assertEquals(bodies.length, 1);
  assertEquals(JSON.parse(bodies[0]!).length, 3);
  assertEquals(jay.heard, [["in a batch"]]);
  // A batch of notifications only.
  await Promise.all([client.notify("note", [1]), client.notify("note", [2])]);
  assertEquals(jay.heard.length, 3);
  await client.close();
  await jay.close();
});

/** jayson's HTTP client, its callbacks as promises. */
function jaysonClient(url: string) {
  const { port, pathname } = new URL(url);
  const client = jayson.Client.http({ host: "127.0.0.1", port: Number(port), path: pathname });
  return {
    client,
    request: (method: unknown, params?: unknown, id?: unknown) =>
      new Promise<unknown>((resolve, reject) => {
        const done = (error: unknown, response: unknown) =>
          error ? reject(error) : resolve(response);
        if (Array.isArray(method)) client.request(method as never, done);
        else if (id === undefined) client.request(method as string, params as never, done);
        else client.request(method as string, params as never, id as never, done);
      }),
  };
}

test("jayson's HTTP client calls our server: a call, a notification, a batch", async () => {
  const { server, heard } = ours();
  const jay = jaysonClient(server.addr);
  const reply = await jay.request("add", [1, 2]) as { result: number };
  assertEquals(reply.result, 3);
  await jay.request("note", ["hello"], null);
  assertEquals(heard, [["hello"]]);
  const batch = [
    jay.client.request("add", [1, 1]),
    jay.client.request("add", [2, 2]),
    jay.client.request("note", ["batched"], null),
  ];
  const replies = await jay.request(batch) as { result: number }[];
  assertEquals(replies.map((r) => r.result), [2, 4]);
  assertEquals(heard, [["hello"], ["batched"]]);
  // A batch of notifications only: answered 204, which jayson takes as done.
  await jay.request([jay.client.request("note", [3], null)]);
  assertEquals(heard.length, 3);
  await server.shutdown();
});

test("json-rpc-2.0's client on fetch calls our server: calls, a notification, a batch", async () => {
  const { server, heard } = ours();
  const statuses: number[] = [];
  const client: JSONRPCClient = new JSONRPCClient(async (request) => {
    const response = await fetch(server.addr, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    statuses.push(response.status);
    if (response.status === 200) client.receive(await response.json());
    else await response.body?.cancel();
  });
  assertEquals(await client.request("add", [20, 22]), 42);
  client.notify("note", ["quiet"]);
  await waitFor(() => heard.length === 1);
  const replies = await client.requestAdvanced([
    createJSONRPCRequest(101, "add", [1, 2]),
    createJSONRPCRequest(102, "add", [3, 4]),
    createJSONRPCNotification("note", ["batched"]),
  ]);
  assertEquals(replies.map((r) => [r.id, r.result]), [[101, 3], [102, 7]]);
  assertEquals(heard, [["quiet"], ["batched"]]);
  await waitFor(() => statuses.length === 3);
  assertEquals(statuses, [200, 204, 200]);
  const failed = await within(
    Promise.resolve(client.requestAdvanced(createJSONRPCRequest(9, "nope"))),
    5000,
  );
  assertEquals(failed.error?.code, -32601);
  assertInstanceOf(client, JSONRPCClient);
  await server.shutdown();
});
