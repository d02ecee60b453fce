// A Choria invocation on the one dispatch path: the agent's interceptors,
// the DDL's validation (the agent's contract), the fallback and the latency
// stats reach its actions, and the shared error model maps onto statuscode.

import {
  action,
  type ActionCall,
  ActionFailure,
  AgentLog,
  defineAgent,
  type PeerStats,
  respond,
  RPC_REQUEST,
  RpcError,
  StatusCode,
} from "../choria/mod.ts";
import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { test } from "./_helpers.ts";

function rpcRequest(actionName: string, data: Record<string, unknown>, callerid = "choria=ops") {
  return JSON.stringify({
    $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
    protocol: RPC_REQUEST,
    agent: "guarded",
    action: actionName,
    requestid: "r1",
    senderid: "node1",
    callerid,
    collective: "mcollective",
    ttl: 60,
    msgtime: 1700000000,
    data,
  });
}

const metadata = {
  name: "guarded",
  description: "t",
  author: "t",
  license: "MIT",
  version: "1.0.0",
  url: "u",
  timeout: 10,
};

/** What the interceptors saw, in order. */
const seen: string[] = [];

const guarded = defineAgent({
  metadata,
  interceptors: [
    async (call: ActionCall, next) => {
      seen.push(`outer ${call.action} by ${call.request.callerid}`);
      const data = await next();
      seen.push(`outer done ${JSON.stringify(data)}`);
      return data;
    },
    (call, next) => {
      if (call.request.callerid !== "choria=ops") {
        throw new ActionFailure(StatusCode.Aborted, `${call.request.callerid} may not`);
      }
      if (call.inputs.name === "shout") call.inputs = { name: "SHOUT" };
      if (call.inputs.name === "smuggle") call.inputs = { name: "a;b" };
      if (call.inputs.name === "crash") throw new Error("the interceptor broke");
      if (call.inputs.name === "json") throw new RpcError(-32602, "Invalid params: /name");
      return next();
    },
  ],
  fallback: (input, ctx) => ({ handled: ctx.request.action, input }),
  actions: {
    greet: action({
      description: "greets",
      input: {
        name: { description: "who", type: "string", maxlength: 10, validation: "shellsafe" },
      },
      output: {
        greeting: { description: "the greeting" },
        mood: { description: "m", default: "ok" },
      },
      run: ({ name }) => {
        seen.push(`ran ${name}`);
        return { greeting: `hello ${name}` };
      },
    }),
  },
});

async function call(name: string, data: Record<string, unknown>, callerid?: string) {
  seen.length = 0;
  const err: string[] = [];
  let stats: PeerStats | undefined;
  const reply = JSON.parse(
    await respond(guarded, {
      request: rpcRequest(name, data, callerid),
      log: new AgentLog(() => {}, (line) => err.push(line)),
      stats: (s) => stats = s,
    }),
  );
  return { reply, err, stats: stats!, seen: [...seen] };
}

test("choria dispatch: an interceptor reaches the action, changes its inputs, and sees its data", async () => {
  const { reply, seen } = await call("greet", { name: "shout" });
  assertEquals(reply, {
    statuscode: 0,
    statusmsg: "OK",
    data: { greeting: "hello SHOUT", mood: "ok" },
  });
  assertEquals(seen, [
    "outer greet by choria=ops",
    "ran SHOUT",
    'outer done {"greeting":"hello SHOUT","mood":"ok"}',
  ]);
});

test("choria dispatch: an interceptor's ActionFailure answers its status; an exception answers 5", async () => {
  const refused = await call("greet", { name: "ada" }, "choria=intruder");
  assertEquals(refused.reply, {
    statuscode: StatusCode.Aborted,
    statusmsg: "choria=intruder may not",
    data: {},
  });
  assertEquals(refused.seen, ["outer greet by choria=intruder"]);
  const crashed = await call("greet", { name: "crash" });
  assertEquals(crashed.reply, {
    statuscode: StatusCode.UnknownError,
    statusmsg: "the interceptor broke",
    data: {},
  });
  assertStringIncludes(crashed.err.join("\n"), "the interceptor broke");
  // The shared error model's codes map onto Choria's: -32602 is InvalidData.
  assertEquals((await call("greet", { name: "json" })).reply, {
    statuscode: StatusCode.InvalidData,
    statusmsg: "Invalid params: /name",
    data: {},
  });
});

test("choria dispatch: the DDL validates after the interceptors, as a contract does", async () => {
  const missing = await call("greet", {});
  assertEquals([missing.reply.statuscode, missing.reply.statusmsg], [
    StatusCode.MissingData,
    "input 'name' is required",
  ]);
  // An interceptor cannot slip invalid inputs past the DDL.
  const smuggled = await call("greet", { name: "smuggle" });
  assertEquals(smuggled.reply, {
    statuscode: StatusCode.InvalidData,
    statusmsg: "validation failed for input 'name': may not contain ';'",
    data: {},
  });
  assertEquals(smuggled.seen.includes("ran a;b"), false);
});

test("choria dispatch: latency stats count the action, refused or not", async () => {
  for (const data of [{ name: "ada" }, { name: "a;b" }]) {
    const { stats } = await call("greet", data);
    assertEquals(stats.handlerLatency?.count, 1);
    assertEquals([stats.messagesReceived, stats.messagesSent, stats.invalidMessages], [1, 1, 0]);
  }
});

test("choria dispatch: the fallback runs actions the agent does not have", async () => {
  const { reply } = await call("other", { x: 1 });
  assertEquals(reply, {
    statuscode: 0,
    statusmsg: "OK",
    data: { handled: "other", input: { x: 1 } },
  });
});

test("choria dispatch: the deadline covers a slow interceptor and aborts the action's signal", async () => {
  let reason: unknown;
  const slow = defineAgent({
    metadata: { ...metadata, name: "slow", timeout: 3 },
    interceptors: [(call, next) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(next()), 60_000);
        call.signal.addEventListener("abort", () => {
          reason = call.signal.reason;
          clearTimeout(timer);
        });
      })],
    actions: { wait: action({ description: "w", run: () => ({}) }) },
  });
  const request = rpcRequest("wait", {}).replace('"guarded"', '"slow"');
  const reply = JSON.parse(
    await respond(slow, { request, deadline: 20, log: new AgentLog(() => {}, () => {}) }),
  );
  assertEquals(reply, {
    statuscode: StatusCode.Aborted,
    statusmsg: "Action wait did not finish within 3 s",
    data: {},
  });
  assertEquals((reason as DOMException).name, "TimeoutError");
});

test("choria dispatch: a bad request file is counted as invalid input, as on any wire", async () => {
  let stats: PeerStats | undefined;
  const reply = await respond(guarded, {
    request: "{not json",
    log: new AgentLog(() => {}, () => {}),
    stats: (s) => stats = s,
  });
  assertEquals(JSON.parse(reply).statuscode, StatusCode.UnknownError);
  assertEquals(stats!.invalidMessages, 1);
});
