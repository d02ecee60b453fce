// The agent's files as a hostile node could lay them out: a reply path that
// is a symlink, a request or facts path that is a FIFO or a device, a
// request too large. None may hang the agent, crash it, or make it write
// through a link.

import { runAgent } from "../choria/mod.ts";
import { AgentLog } from "../choria/log.ts";
import { parrot } from "../examples/choria/agent/parrot.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { test } from "./_helpers.ts";

const echoRequest = JSON.stringify({
  $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
  protocol: "io.choria.mcorpc.external.v1.rpc_request",
  agent: "parrot",
  action: "echo",
  requestid: "r1",
  senderid: "node1",
  callerid: "choria=test.mcollective",
  collective: "mcollective",
  ttl: 60,
  msgtime: 1700000000,
  data: { message: "hello" },
});

/** Runs parrot in this process with the given files; resolves with what it logged. */
async function run(files: { request: string; reply: string; facts?: string }) {
  const errors: string[] = [];
  const log = new AgentLog(() => {}, (line) => errors.push(line));
  const env: Record<string, string> = {
    CHORIA_EXTERNAL_PROTOCOL: "io.choria.mcorpc.external.v1.rpc_request",
    CHORIA_EXTERNAL_REQUEST: files.request,
    CHORIA_EXTERNAL_REPLY: files.reply,
  };
  if (files.facts !== undefined) env.CHORIA_EXTERNAL_FACTS = files.facts;
  const started = Date.now();
  await runAgent(parrot, { exit: false, args: [], env: (name) => env[name], log });
  return { errors, ms: Date.now() - started };
}

async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assertEquals(code, 0);
}

test("choria: a reply path that is a symlink is refused, and its target left alone", async () => {
  const dir = await Deno.makeTempDir();
  const target = `${dir}/precious`;
  await Deno.writeTextFile(target, "do not overwrite");
  await Deno.symlink(target, `${dir}/reply`);
  await Deno.writeTextFile(`${dir}/request`, echoRequest);
  const { errors } = await run({ request: `${dir}/request`, reply: `${dir}/reply` });
  assertEquals(await Deno.readTextFile(target), "do not overwrite");
  assert(errors.some((e) => e.includes("it is a symlink")), errors.join("\n"));
  await Deno.remove(dir, { recursive: true });
});

test("choria: a request or facts path that is a FIFO does not hang the agent", async () => {
  const dir = await Deno.makeTempDir();
  await mkfifo(`${dir}/request`);
  await Deno.writeTextFile(`${dir}/reply`, "");
  const first = await run({ request: `${dir}/request`, reply: `${dir}/reply` });
  assert(first.ms < 5000);
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/reply`)).statuscode, 5);
  assert(first.errors.some((e) => e.includes("is not a regular file")), first.errors.join("\n"));

  await Deno.remove(`${dir}/request`);
  await Deno.writeTextFile(`${dir}/request`, echoRequest);
  await mkfifo(`${dir}/facts`);
  const second = await run({
    request: `${dir}/request`,
    reply: `${dir}/reply`,
    facts: `${dir}/facts`,
  });
  assert(second.ms < 5000);
  const reply = JSON.parse(await Deno.readTextFile(`${dir}/reply`));
  assertEquals([reply.statuscode, reply.data.message], [0, "hello"]);
  await Deno.remove(dir, { recursive: true });
});

test("choria: a request that is a device or too large is refused without reading it all", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/reply`, "");
  const zero = await run({ request: "/dev/zero", reply: `${dir}/reply` });
  assert(zero.ms < 5000);
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/reply`)).statuscode, 5);
  assertStringIncludes(zero.errors.join("\n"), "/dev/zero is not a regular file");

  const big = await Deno.open(`${dir}/request`, { write: true, create: true });
  await big.truncate(17 * 1024 * 1024);
  big.close();
  const large = await run({ request: `${dir}/request`, reply: `${dir}/reply` });
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/reply`)).statuscode, 5);
  assertStringIncludes(large.errors.join("\n"), "is larger than 16777216 bytes");
  await Deno.remove(dir, { recursive: true });
});
