// The agent runtime, in process: every status code, activation, bad request
// files, config and facts, the deadline, and the real request files of the
// helper libraries (tests/fixtures/choria).

import {
  action,
  ACTIVATION_REQUEST,
  AgentLog,
  defineAgent,
  respond,
  RPC_REQUEST,
  StatusCode,
} from "../choria/mod.ts";
import { parrot } from "../examples/choria/agent/parrot.ts";
import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { test } from "./_helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFile(new URL(`./fixtures/choria/${name}`, import.meta.url));

function capture(): { log: AgentLog; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { log: new AgentLog((l) => out.push(l), (l) => err.push(l)), out, err };
}

function rpcRequest(agent: string, actionName: string, data: Record<string, unknown> = {}) {
  return JSON.stringify({
    $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
    protocol: RPC_REQUEST,
    agent,
    action: actionName,
    requestid: "r1",
    senderid: "node1",
    callerid: "choria=test.mcollective",
    collective: "mcollective",
    ttl: 60,
    msgtime: 1700000000,
    data,
  });
}

const tester = defineAgent({
  metadata: {
    name: "tester",
    description: "t",
    author: "t",
    license: "MIT",
    version: "1.0.0",
    url: "u",
    timeout: 10,
  },
  activate: ({ config }) => config.enabled !== "false",
  actions: {
    ok: action({
      description: "succeeds",
      input: { n: { description: "n", type: "integer", optional: true, default: 2 } },
      output: {
        doubled: { description: "2n", type: "integer" },
        note: { description: "filled in", default: "none" },
      },
      run: ({ n }) => ({ doubled: n * 2 }),
    }),
    needs: action({
      description: "needs input",
      input: {
        name: { description: "name", type: "string", maxlength: 10, validation: "shellsafe" },
      },
      run: ({ name }) => ({ name }),
    }),
    boom: action({
      description: "throws",
      run: () => {
        throw new Error("the disk is on fire");
      },
    }),
    refuse: action({ description: "aborts", run: (_input, ctx) => ctx.abort("not today") }),
    custom: action({
      description: "any code",
      run: (_input, ctx) => ctx.fail(4, "bad combination"),
    }),
    nothing: action({ description: "returns nothing", run: () => {} }),
    wrong: action({ description: "returns a string", run: () => "text" as never }),
    context: action({
      description: "echoes its context",
      run: (_input, ctx) => ({
        caller: ctx.request.callerid,
        config: ctx.config,
        facts: ctx.facts,
      }),
    }),
    slow: action({
      description: "outlives its deadline",
      run: (_input, ctx) =>
        new Promise((resolve) => {
          const timer = setTimeout(resolve, 60_000);
          ctx.signal.addEventListener("abort", () => clearTimeout(timer));
        }),
    }),
  },
});

async function call(actionName: string, data: Record<string, unknown> = {}, extra = {}) {
  const { log, err } = capture();
  const reply = JSON.parse(
    await respond(tester, { request: rpcRequest("tester", actionName, data), log, ...extra }),
  );
  return { reply, err };
}

test("respond() answers success with statusmsg OK, an object, and output defaults", async () => {
  assertEquals((await call("ok", { n: 21 })).reply, {
    statuscode: 0,
    statusmsg: "OK",
    data: { doubled: 42, note: "none" },
  });
  // The input default is filled in for the handler, as clients do.
  assertEquals((await call("ok")).reply.data.doubled, 4);
  assertEquals((await call("nothing")).reply, { statuscode: 0, statusmsg: "OK", data: {} });
});

test("respond() uses every status code as the protocol assigns them", async () => {
  assertEquals((await call("nosuch")).reply, {
    statuscode: StatusCode.UnknownAction,
    statusmsg: "Unknown action nosuch for agent tester",
    data: {},
  });
  assertEquals((await call("needs")).reply.statuscode, StatusCode.MissingData);
  assertEquals((await call("needs")).reply.statusmsg, "input 'name' is required");
  assertEquals((await call("needs", { name: "a;b" })).reply, {
    statuscode: StatusCode.InvalidData,
    statusmsg: "validation failed for input 'name': may not contain ';'",
    data: {},
  });
  assertEquals(
    (await call("needs", { name: "ok", extra: 1 })).reply.statuscode,
    StatusCode.InvalidData,
  );
  const boom = await call("boom");
  assertEquals([boom.reply.statuscode, boom.reply.statusmsg], [
    StatusCode.UnknownError,
    "the disk is on fire",
  ]);
  assertStringIncludes(boom.err.join("\n"), "boom failed: Error: the disk is on fire");
  assertEquals((await call("refuse")).reply, {
    statuscode: StatusCode.Aborted,
    statusmsg: "not today",
    data: {},
  });
  assertEquals((await call("custom")).reply.statuscode, 4);
  assertEquals((await call("wrong")).reply, {
    statuscode: StatusCode.UnknownError,
    statusmsg: "Action wrong returned no object",
    data: {},
  });
});

test("respond() gives handlers the request, config and facts", async () => {
  const { reply } = await call("context", {}, {
    config: { region: "eu" },
    facts: { country: "mt" },
  });
  assertEquals(reply.data, {
    caller: "choria=test.mcollective",
    config: { region: "eu" },
    facts: { country: "mt" },
  });
});

test("respond() replies status 1 before the deadline instead of being killed silently", async () => {
  const { reply, err } = await call("slow", {}, { deadline: 30 });
  assertEquals(reply, {
    statuscode: StatusCode.Aborted,
    statusmsg: "Action slow did not finish within 10 s",
    data: {},
  });
  assertStringIncludes(err.join("\n"), "out of time");
});

test("respond() answers activation requests, and an inactive agent refuses RPC", async () => {
  const activation = JSON.stringify({
    $schema: "https://choria.io/schemas/mcorpc/external/v1/activation_request.json",
    protocol: ACTIVATION_REQUEST,
    agent: "tester",
  });
  assertEquals(
    await respond(tester, { request: activation, log: capture().log }),
    '{"activate":true}',
  );
  assertEquals(
    await respond(tester, {
      request: activation,
      config: { enabled: "false" },
      log: capture().log,
    }),
    '{"activate":false}',
  );
  assertEquals((await call("ok", {}, { config: { enabled: "false" } })).reply, {
    statuscode: StatusCode.Aborted,
    statusmsg: "Agent tester is not active on this node",
    data: {},
  });
  // An activation request that breaks its schema: not activated, and said why.
  const { log, err } = capture();
  assertEquals(
    await respond(tester, { request: '{"protocol": "' + ACTIVATION_REQUEST + '"}', log }),
    '{"activate":false}',
  );
  assertStringIncludes(err[0]!, "invalid activation request: /$schema is required");
});

test("respond() decides the message type by CHORIA_EXTERNAL_PROTOCOL, not the request", async () => {
  // An activation request file, with the protocol variable saying activation
  // (Choria's argv[3] would say rpc_request: it is not looked at).
  const activation = await fixture("py-mco-agent.parrot.should_activate.request.json");
  assertEquals(
    await respond(parrot, {
      protocol: ACTIVATION_REQUEST,
      request: activation,
      log: capture().log,
    }),
    '{"activate":true}',
  );
  // Without the variable, the request's own protocol decides.
  assertEquals(
    await respond(parrot, { request: activation, log: capture().log }),
    '{"activate":true}',
  );
  // When they disagree, the variable wins: an activation file read as an RPC
  // request fails the RPC schema.
  const asRpc = JSON.parse(
    await respond(parrot, { protocol: RPC_REQUEST, request: activation, log: capture().log }),
  );
  assertEquals([asRpc.statuscode, asRpc.statusmsg], [5, "Invalid request: /action is required"]);
});

test("respond() refuses bad request files with status 5 and says why", async () => {
  const reply = async (request: string, protocol?: string) =>
    JSON.parse(await respond(tester, { request, protocol, log: capture().log }));
  assertEquals(await reply(""), {
    statuscode: 5,
    statusmsg: "Invalid request: the request file is not JSON",
    data: {},
  });
  assertEquals(
    (await reply("{not json")).statusmsg,
    "Invalid request: the request file is not JSON",
  );
  assertEquals(
    (await reply("[]", RPC_REQUEST)).statusmsg,
    "Invalid request: (value) must be object",
  );
  const noTtl = JSON.parse(rpcRequest("tester", "ok"));
  delete noTtl.ttl;
  assertEquals((await reply(JSON.stringify(noTtl))).statusmsg, "Invalid request: /ttl is required");
  const badAction = JSON.parse(rpcRequest("tester", "Bad-Action"));
  assertEquals(
    (await reply(JSON.stringify(badAction))).statusmsg,
    'Invalid request: /action must match pattern "^[a-z0-9_]*$"',
  );
  assertEquals(
    await reply(rpcRequest("tester", "ok"), "io.choria.mcorpc.external.v1.rpc_reply"),
    {
      statuscode: 5,
      statusmsg: "Unsupported protocol 'io.choria.mcorpc.external.v1.rpc_reply'",
      data: {},
    },
  );
});

test("respond() handles the helper libraries' real request files", async () => {
  const echo = JSON.parse(
    await respond(parrot, {
      request: await fixture("py-mco-agent.parrot.echo.request.json"),
      log: capture().log,
    }),
  );
  assertEquals(echo, { statuscode: 0, statusmsg: "OK", data: { message: "Hello world!" } });
  const invalid = JSON.parse(
    await respond(parrot, {
      request: await fixture("py-mco-agent.parrot.invalid.request.json"),
      log: capture().log,
    }),
  );
  assertEquals(invalid, {
    statuscode: 2,
    statusmsg: "Unknown action invalid for agent parrot",
    data: {},
  });
  const wire = JSON.parse(
    await respond(parrot, {
      request: await fixture("constructed-go-choria.rpc_request.wire.json"),
      log: capture().log,
    }),
  );
  // The HTML-escaped bytes Go writes decode to the original text; shellsafe refuses its '>'.
  assertEquals(wire, {
    statuscode: 4,
    statusmsg: "validation failed for input 'message': may not contain '>'",
    data: {},
  });
  const ping = JSON.parse(
    await respond(parrot, {
      request: await fixture("go-external.rpc_request.ping.json"),
      log: capture().log,
    }),
  );
  assertEquals(ping.statuscode, 2);
});
