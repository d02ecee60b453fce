// Agents and discovery programs run as go-choria runs them: the examples
// through the harness, and the harness itself against tiny shell agents whose
// behaviour is known.

import { ACTIVATION_REQUEST, DISCOVERY_REQUEST, RPC_REQUEST } from "../choria/mod.ts";
import { ChoriaHarness, runDiscoveryProgram } from "../choria/testing.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { test } from "./_helpers.ts";

const EXAMPLES = new URL("../examples/choria/", import.meta.url).pathname;
const PARROT = `${EXAMPLES}agent/parrot`;
const NODES = `${EXAMPLES}discovery/nodes`;
const NODE_LIST = `${EXAMPLES}discovery/nodes.json`;

/** A temp dir removed after `fn`, whatever happens. */
async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "choria-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ddl(
  name: string,
  actions: string[],
  options: { timeout?: number; provider?: string } = {},
) {
  return {
    $schema: "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
    metadata: {
      name,
      description: "test agent",
      author: "tests",
      license: "MIT",
      version: "1.0.0",
      url: "https://example.net",
      timeout: options.timeout ?? 2,
      provider: options.provider ?? "external",
    },
    actions: actions.map((action) => ({
      action,
      description: action,
      display: "always",
      input: {},
      output: { filled: { description: "a default", display_as: "Filled", default: "by default" } },
    })),
  };
}

async function writeAgent(path: string, script: string, mode = 0o755): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, script, { mode });
  await Deno.chmod(path, mode);
}

/** A shell agent that answers with whatever `case "$action"` picks. */
const REPLIES = `#!/bin/sh
action=$(sed 's/.*"action":"\\([a-z0-9_]*\\)".*/\\1/' "$CHORIA_EXTERNAL_REQUEST")
out="$CHORIA_EXTERNAL_REPLY"
case "$action" in
  merged) printf '{"data":{"x":1},"unknown":"ignored"}' > "$out" ;;
  msgonly) printf '{"statusmsg":"fine"}' > "$out" ;;
  casefold) printf '{"StatusCode":3,"StatusMsg":"missing","Data":{}}' > "$out" ;;
  floatcode) printf '{"statuscode":1.0,"statusmsg":"x","data":{}}' > "$out" ;;
  bigcode) printf '{"statuscode":256,"statusmsg":"x","data":{}}' > "$out" ;;
  stringcode) printf '{"statuscode":"0","statusmsg":"x","data":{}}' > "$out" ;;
  seven) printf '{"statuscode":7,"statusmsg":"seven","data":{}}' > "$out" ;;
  nulldata) printf '{"data":null}' > "$out" ;;
  arraydata) printf '{"data":[1,2]}' > "$out" ;;
  renamed) printf '{"action":"other","data":{"html":"<b>&</b>"}}' > "$out" ;;
  failed) printf '{"statuscode":1,"statusmsg":"nope","data":{}}' > "$out" ;;
  empty) : ;;
  truncated) printf '{"statuscode":0' > "$out" ;;
  garbage) printf 'nope' > "$out" ;;
  exit3) echo "going down" ; echo "badly" >&2 ; exit 3 ;;
  sleepy) sleep 30 ;;
  chatty) head -c 70000 /dev/zero | tr '\\0' 'x' ; echo ; printf '{"data":{}}' > "$out" ;;
esac
`;

const REPLY_CASES = [
  "merged",
  "msgonly",
  "casefold",
  "floatcode",
  "bigcode",
  "stringcode",
  "seven",
  "nulldata",
  "arraydata",
  "renamed",
  "failed",
  "empty",
  "truncated",
  "garbage",
  "exit3",
  "sleepy",
  "chatty",
  "run",
];

test("harness: parrot answers, logs, and Choria's published bytes are HTML-escaped", async () => {
  const choria = new ChoriaHarness({ agentDir: `${EXAMPLES}agent`, facts: { country: "mt" } });
  const reply = await choria.rpc("parrot", "echo", { message: "fish & chips" }, {
    callerid: "choria=ada.mcollective",
  });
  assertEquals([reply.statuscode, reply.statusmsg, reply.data], [0, "OK", {
    message: "fish & chips",
  }]);
  assertEquals(reply.logs, [{
    level: "info",
    line: "echo: 12 characters from choria=ada.mcollective",
  }]);
  assertEquals(
    reply.published,
    '{"action":"echo","statuscode":0,"statusmsg":"OK","data":{"message":"fish \\u0026 chips"}}',
  );
  assertEquals(
    reply.replyFile,
    '{"statuscode":0,"statusmsg":"OK","data":{"message":"fish & chips"}}',
  );
});

test("harness: parrot's status codes as a Choria client sees them", async () => {
  const choria = new ChoriaHarness({ agentDir: `${EXAMPLES}agent` });
  const failed = await choria.rpc("parrot", "fail", {});
  assertEquals([failed.statuscode, failed.statusmsg, failed.ran], [1, "failed on purpose", true]);
  assertEquals((await choria.rpc("parrot", "fail", { message: "custom" })).statusmsg, "custom");
  const unknown = await choria.rpc("parrot", "squawk", {});
  assertEquals([unknown.statuscode, unknown.statusmsg, unknown.ran], [
    2,
    "Unknown action squawk for agent parrot",
    false,
  ]);
  const unsafe = await choria.rpc("parrot", "echo", { message: "rm -rf / ; echo" });
  assertEquals(
    [unsafe.statuscode, unsafe.statusmsg, unsafe.ran],
    [1, "Validation failed: validation failed for input 'message': may not contain ';'", false],
  );
  assertEquals(
    (await choria.rpc("parrot", "echo", {})).statusmsg,
    "Validation failed: input 'message' is required",
  );
  assertEquals(
    (await choria.rpc("parrot", "echo", { message: "x", volume: 11 })).statusmsg,
    "Validation failed: request contains an input 'volume' that is not declared in the DDL. Valid inputs are: message",
  );
});

test("harness: unicode and large inputs survive; maxlength counts UTF-8 bytes", async () => {
  const choria = new ChoriaHarness({ agentDir: `${EXAMPLES}agent` });
  for (
    const message of [
      "héllo wörld ☃ 😀",
      "é".repeat(2048),
      "x".repeat(4096),
      // Go escapes U+2028 and U+2029 in the request file; they must arrive as sent.
      "line\u2028and\u2029paragraph",
    ]
  ) {
    const reply = await choria.rpc("parrot", "echo", { message });
    assertEquals([reply.statuscode, reply.data], [0, { message }], message.slice(0, 20));
  }
  const tooLong = await choria.rpc("parrot", "echo", { message: "é".repeat(2049) });
  assertEquals(
    tooLong.statusmsg,
    "Validation failed: validation failed for input 'message': is longer than 4096 characters",
  );
});

test("harness: activation, and the config file read the three ways", async () => {
  await withTemp(async (dir) => {
    const choria = new ChoriaHarness({
      agentDir: `${EXAMPLES}agent`,
      configFile: `${dir}/server.conf`,
    });
    assertEquals(await choria.activate("parrot"), { activate: true, logs: [] });
    await Deno.mkdir(`${dir}/plugin.d/parrot`, { recursive: true });
    // py-choria-external's place; then the .cfg; then the path Choria passes.
    for (const path of [`${dir}/plugin.d/parrot/parrot.cfg`, `${dir}/plugin.d/parrot.cfg`]) {
      await Deno.writeTextFile(path, "# parrot\nenabled = false\n");
      assertEquals((await choria.activate("parrot")).activate, false, path);
      assertEquals(
        (await choria.rpc("parrot", "echo", { message: "hi" })).statusmsg,
        "Agent parrot is not active on this node",
      );
      await Deno.remove(path);
    }
    await Deno.remove(`${dir}/plugin.d/parrot`);
    await Deno.writeTextFile(`${dir}/plugin.d/parrot`, "enabled=false");
    assertEquals((await choria.activate("parrot")).activate, false);
  });
});

test("harness: the agent gets exactly six variables, Choria's argv, cwd and 0600 files", async () => {
  await withTemp(async (dir) => {
    const agents = `${dir}/lib/mcollective/agent`;
    await Deno.mkdir(agents, { recursive: true });
    const spyDdl = ddl("spy", ["look"]);
    (spyDdl.actions[0]!.input as Record<string, unknown>).html = {
      prompt: "html",
      description: "some markup",
      type: "string",
      optional: true,
      validation: "",
      maxlength: 0,
    };
    await Deno.writeTextFile(`${agents}/spy.json`, JSON.stringify(spyDdl));
    await writeAgent(
      `${agents}/spy`,
      `#!/bin/sh
env_b64=$(tr '\\0' '\\n' < /proc/$$/environ | sort | base64 -w0)
argv_b64=$(printf '%s\\n' "$0" "$@" | base64 -w0)
modes=$(stat -c '%a' "$CHORIA_EXTERNAL_REQUEST" "$CHORIA_EXTERNAL_REPLY" "$CHORIA_EXTERNAL_FACTS" | tr '\\n' ' ')
request_b64=$(base64 -w0 < "$CHORIA_EXTERNAL_REQUEST")
facts_b64=$(base64 -w0 < "$CHORIA_EXTERNAL_FACTS")
reply_size=$(wc -c < "$CHORIA_EXTERNAL_REPLY")
if [ "$CHORIA_EXTERNAL_PROTOCOL" = "${ACTIVATION_REQUEST}" ]; then
  if [ "$3" = "${RPC_REQUEST}" ] && [ ! -s "$CHORIA_EXTERNAL_FACTS" ]; then active=true; else active=false; fi
  printf '{"activate":%s}' "$active" > "$CHORIA_EXTERNAL_REPLY"
  exit 0
fi
printf '{"data":{"env":"%s","argv":"%s","cwd":"%s","modes":"%s","request":"%s","facts":"%s","reply_size":%s}}' \\
  "$env_b64" "$argv_b64" "$(pwd)" "$modes" "$request_b64" "$facts_b64" "$reply_size" > "$CHORIA_EXTERNAL_REPLY"
`,
    );
    const temp = `${dir}/tmp`;
    await Deno.mkdir(temp);
    const choria = new ChoriaHarness({
      libdir: `${dir}/lib`,
      configFile: "/etc/choria/server.conf",
      facts: { country: "mt" },
      tempDir: temp,
      path: "/usr/bin:/bin",
    });
    const reply = await choria.rpc("spy", "look", { html: "<x>" }, {
      requestid: "id1",
      msgtime: 1700000000,
    });
    assertEquals(reply.statuscode, 0, reply.statusmsg);
    const seen = reply.data as Record<string, string | number>;
    const decode = (b64: string) =>
      new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const env = decode(seen.env as string).trim().split("\n");
    assertEquals(env.map((line) => line.split("=")[0]), [
      "CHORIA_EXTERNAL_CONFIG",
      "CHORIA_EXTERNAL_FACTS",
      "CHORIA_EXTERNAL_PROTOCOL",
      "CHORIA_EXTERNAL_REPLY",
      "CHORIA_EXTERNAL_REQUEST",
      "PATH",
    ]);
    assert(env.includes("CHORIA_EXTERNAL_CONFIG=/etc/choria/plugin.d/spy"));
    assert(env.includes(`CHORIA_EXTERNAL_PROTOCOL=${RPC_REQUEST}`));
    assert(env.includes("PATH=/usr/bin:/bin"));
    const argv = decode(seen.argv as string).trim().split("\n");
    assertEquals(argv[0], `${agents}/spy`);
    assertEquals([
      argv[1]!.startsWith(`${temp}/request`),
      argv[2]!.startsWith(`${temp}/reply`),
      argv[3],
    ], [true, true, RPC_REQUEST]);
    assertEquals(seen.cwd, temp);
    assertEquals(seen.modes, "600 600 600 ");
    assertEquals(seen.reply_size, 0);
    assertEquals(decode(seen.facts as string), '{"country":"mt"}');
    assertEquals(
      decode(seen.request as string),
      '{"$schema":"https://choria.io/schemas/mcorpc/external/v1/rpc_request.json","protocol":"io.choria.mcorpc.external.v1.rpc_request","agent":"spy","action":"look","requestid":"id1","senderid":"harness.example.net","callerid":"choria=harness.mcollective","collective":"mcollective","ttl":60,"msgtime":1700000000,"data":{"html":"\\u003cx\\u003e"}}',
    );
    // Activation: CHORIA_EXTERNAL_PROTOCOL says activation while argv[3]
    // still says rpc_request, and the facts file is empty.
    assertEquals(await choria.activate("spy"), { activate: true, logs: [] });
    // Every temp file is gone.
    assertEquals([...Deno.readDirSync(temp)], []);
  });
});

test("harness: reply files are merge-decoded as Go's json.Unmarshal does", async () => {
  await withTemp(async (dir) => {
    const agents = `${dir}/mcollective/agent`;
    await Deno.mkdir(agents, { recursive: true });
    await Deno.writeTextFile(`${agents}/t.json`, JSON.stringify(ddl("t", REPLY_CASES)));
    await writeAgent(`${agents}/t`, REPLIES);
    const choria = new ChoriaHarness({ libdir: dir });
    const call = (action: string) => choria.rpc("t", action);
    const decodeError = (what: string) =>
      `Could not call external agent t#${what}: failed to decode reply json: `;
    const wrongFormat = "Could not set reply defaults: reply data is in the wrong format";

    const merged = await call("merged");
    assertEquals([merged.statuscode, merged.statusmsg, merged.data], [0, "OK", {
      x: 1,
      filled: "by default",
    }]);
    assertEquals([(await call("msgonly")).statuscode, (await call("msgonly")).statusmsg], [
      1,
      wrongFormat,
    ]);
    const folded = await call("casefold");
    assertEquals([folded.statuscode, folded.statusmsg], [3, "missing"]);
    assertEquals(
      (await call("floatcode")).statusmsg,
      decodeError("floatcode") +
        "json: cannot unmarshal number 1.0 into Go struct field Reply.statuscode of type mcorpc.StatusCode",
    );
    assertEquals(
      (await call("bigcode")).statusmsg,
      decodeError("bigcode") +
        "json: cannot unmarshal number 256 into Go struct field Reply.statuscode of type mcorpc.StatusCode",
    );
    assertEquals(
      (await call("stringcode")).statusmsg,
      decodeError("stringcode") +
        "json: cannot unmarshal string into Go struct field Reply.statuscode of type mcorpc.StatusCode",
    );
    const seven = await call("seven");
    assertEquals([seven.statuscode, seven.statusmsg], [7, "seven"]);
    const nullData = await call("nulldata");
    assertEquals([nullData.statuscode, nullData.data], [0, { filled: "by default" }]);
    const arrayData = await call("arraydata");
    assertEquals([arrayData.statuscode, arrayData.statusmsg], [1, wrongFormat]);
    const renamed = await call("renamed");
    assertEquals(
      renamed.published,
      '{"action":"other","statuscode":0,"statusmsg":"OK","data":{"filled":"by default","html":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"}}',
    );
    // Output defaults are applied whatever the status.
    const failed = await call("failed");
    assertEquals([failed.statuscode, failed.statusmsg, failed.data], [1, "nope", {
      filled: "by default",
    }]);
    assertEquals(
      (await call("empty")).statusmsg,
      decodeError("empty") + "unexpected end of JSON input",
    );
    assertEquals(
      (await call("truncated")).statusmsg,
      decodeError("truncated") + "unexpected end of JSON input",
    );
    assertEquals(
      (await call("garbage")).statusmsg,
      decodeError("garbage") + "invalid character 'n' looking for beginning of value",
    );
  });
});

test("harness: exit status, the timeout kill, a non-executable file, and long log lines", async () => {
  await withTemp(async (dir) => {
    const agents = `${dir}/mcollective/agent`;
    await Deno.mkdir(agents, { recursive: true });
    await Deno.writeTextFile(`${agents}/t.json`, JSON.stringify(ddl("t", REPLY_CASES)));
    await writeAgent(`${agents}/t`, REPLIES);
    const choria = new ChoriaHarness({ libdir: dir });

    const exit3 = await choria.rpc("t", "exit3");
    assertEquals(
      exit3.statusmsg,
      "Could not call external agent t#exit3: executing t failed: exit status 3",
    );
    assertEquals(exit3.logs, [{ level: "info", line: "going down" }, {
      level: "error",
      line: "badly",
    }]);

    const started = performance.now();
    const sleepy = await choria.rpc("t", "sleepy");
    const took = performance.now() - started;
    assertEquals([sleepy.statuscode, sleepy.killed, sleepy.exitCode], [1, true, -1]);
    assertEquals(
      sleepy.statusmsg,
      "Could not call external agent t#sleepy: executing t failed: exit status -1",
    );
    // Loose above: it tells "killed at the deadline" from "ran its 30 s".
    assert(took >= 1900 && took < 25_000, `killed after ${took} ms, expected about 2000`);

    const chatty = await choria.rpc("t", "chatty");
    assertEquals(chatty.statuscode, 0);
    assertEquals(chatty.logs, [{ level: "error", line: "bufio.Scanner: token too long" }]);

    await Deno.chmod(`${agents}/t`, 0o644);
    assertEquals(
      (await choria.rpc("t", "run")).statusmsg,
      `Could not call external agent t#run: executing t failed: fork/exec ${agents}/t: permission denied`,
    );
    await Deno.remove(`${agents}/t`);
    assertEquals(
      (await choria.rpc("t", "run")).statusmsg,
      "Cannot call external agent t#run: agent executable was not found",
    );
    assertEquals(await choria.activate("t"), {
      activate: false,
      warning: "agent executable for t was not found",
      logs: [],
    });
  });
});

test("harness: a failed activation check is 'not activated', with Choria's warning", async () => {
  await withTemp(async (dir) => {
    const agents = `${dir}/mcollective/agent`;
    await Deno.mkdir(agents, { recursive: true });
    const cases: [string, string, string | undefined][] = [
      ["yes", `printf '{"activate":true}'`, undefined],
      ["no", `printf '{"activate":false}'`, undefined],
      ["missing", `printf '{}'`, undefined],
      [
        "stringy",
        `printf '{"activate":"yes"}'`,
        "json: cannot unmarshal string into Go struct field Reply.activate of type bool",
      ],
      ["crash", `exit 1`, "executing crash failed: exit status 1"],
      ["slow", `sleep 30`, "executing slow failed: exit status -1"],
    ];
    for (const [name, body] of cases) {
      await Deno.writeTextFile(`${agents}/${name}.json`, JSON.stringify(ddl(name, ["run"])));
      await writeAgent(`${agents}/${name}`, `#!/bin/sh\n${body} > "$CHORIA_EXTERNAL_REPLY"\n`);
    }
    const choria = new ChoriaHarness({ libdir: dir });
    for (const [name, , error] of cases) {
      const outcome = await choria.activate(name);
      assertEquals(outcome.activate, name === "yes", name);
      assertEquals(
        outcome.warning,
        error === undefined
          ? undefined
          : `External agent ${agents}/${name} not activating due to error during activation check: ${error}`,
        name,
      );
    }
  });
});

test("harness: DDL lookup finds flat, directory and multi-arch agents as the provider does", async () => {
  await withTemp(async (dir) => {
    const agents = `${dir}/mcollective/agent`;
    const platform = `${Deno.build.os}_${
      Deno.build.arch === "x86_64"
        ? "amd64"
        : Deno.build.arch === "aarch64"
        ? "arm64"
        : Deno.build.arch
    }`;
    const answer = `#!/bin/sh\nprintf '{"data":{"who":"%s"}}' "$0" > "$CHORIA_EXTERNAL_REPLY"\n`;
    const files: Record<string, unknown> = {
      "flat.json": ddl("flat", ["run"]),
      "flat": answer,
      "dir/dir.json": ddl("dir", ["run"]),
      "dir/dir": answer,
      "multi.json": ddl("multi", ["run"]),
      [`multi/multi-${platform}`]: answer,
      "renamed.json": ddl("realname", ["run"]),
      "realname": answer,
      "tmp/tmp.json": ddl("tmp", ["run"]),
      "tmp/tmp": answer,
      "rpcutil.json": ddl("rpcutil", ["run"]),
      "rpcutil": answer,
      "ruby.json": ddl("ruby", ["run"], { provider: "ruby" }),
      "broken.json": "{",
      "deep/deeper/deeper.json": ddl("deeper", ["run"]),
    };
    for (const [path, content] of Object.entries(files)) {
      await Deno.mkdir(`${agents}/${path}`.slice(0, `${agents}/${path}`.lastIndexOf("/")), {
        recursive: true,
      });
      if (typeof content === "string") await writeAgent(`${agents}/${path}`, content);
      else await Deno.writeTextFile(`${agents}/${path}`, JSON.stringify(content));
    }
    const choria = new ChoriaHarness({ libdir: dir });
    assertEquals((await choria.agents()).map((a) => a.name).sort(), [
      "dir",
      "flat",
      "multi",
      "realname",
    ]);
    for (
      const [name, executable] of [
        ["flat", `${agents}/flat`],
        ["dir", `${agents}/dir/dir`],
        ["multi", `${agents}/multi/multi-${platform}`],
        ["realname", `${agents}/realname`],
      ]
    ) {
      const reply = await choria.rpc(name!, "run");
      assertEquals(reply.data, { who: executable, filled: "by default" }, name);
    }
  });
});

test("the parrot executable writes one reply for bad request files, and exits 0", async () => {
  await withTemp(async (dir) => {
    const run = async (request: string, env: Record<string, string> = {}, args: string[] = []) => {
      await Deno.writeTextFile(`${dir}/request`, request);
      await Deno.writeTextFile(`${dir}/reply`, "x".repeat(2000)); // truncated, not appended to
      const out = await new Deno.Command(PARROT, {
        args,
        env: { PATH: Deno.env.get("PATH") ?? "", ...env },
        clearEnv: true,
        cwd: dir,
        stdin: "null",
      }).output();
      return { code: out.code, reply: await Deno.readTextFile(`${dir}/reply`) };
    };
    const viaEnv = {
      CHORIA_EXTERNAL_REQUEST: `${dir}/request`,
      CHORIA_EXTERNAL_REPLY: `${dir}/reply`,
      CHORIA_EXTERNAL_PROTOCOL: RPC_REQUEST,
    };
    for (
      const [request, statusmsg] of [
        ["", "Invalid request: the request file is not JSON"],
        ["this is not json", "Invalid request: the request file is not JSON"],
        [
          '{"protocol": "io.choria.mcorpc.external.v1.rpc_request"}',
          "Invalid request: /$schema is required",
        ],
        [
          JSON.stringify({
            $schema: "x",
            protocol: "io.choria.mcorpc.external.v1.rpc_reply",
            agent: "parrot",
            action: "echo",
            requestid: "1",
            senderid: "s",
            callerid: "c",
            collective: "m",
            ttl: 1,
            msgtime: 1,
            data: {},
          }),
          "Invalid request: /protocol must be equal to one of the allowed values",
        ],
      ]
    ) {
      const { code, reply } = await run(request!, viaEnv);
      assertEquals([code, JSON.parse(reply)], [0, { statuscode: 5, statusmsg, data: {} }], request);
    }
    const unsupported = await run("{}", {
      ...viaEnv,
      CHORIA_EXTERNAL_PROTOCOL: "io.example.v1.other",
    });
    assertEquals(JSON.parse(unsupported.reply), {
      statuscode: 5,
      statusmsg: "Unsupported protocol 'io.example.v1.other'",
      data: {},
    });
    // argv as the fallback: [request, reply, protocol], the protocol from the request itself.
    const good = await Deno.readTextFile(
      new URL("./fixtures/choria/py-mco-agent.parrot.echo.request.json", import.meta.url),
    );
    const { code, reply } = await run(good, {}, [`${dir}/request`, `${dir}/reply`, RPC_REQUEST]);
    assertEquals([code, reply], [
      0,
      '{"statuscode":0,"statusmsg":"OK","data":{"message":"Hello world!"}}',
    ]);
  });
});

test("discovery: the nodes example honours identity, fact, class and agent filters", async () => {
  // A 20 s timeout, not the 2 s default: the example (a deno script) can take
  // longer than 2 s to start on a busy machine.
  const discover = (
    filter: Record<string, unknown>,
    options: Record<string, string> = { nodes: NODE_LIST },
  ) => runDiscoveryProgram(NODES, { filter, options, timeout: 20 });
  assertEquals((await discover({})).nodes, [
    "web1.example.net",
    "web2.example.net",
    "db1.example.net",
  ]);
  assertEquals((await discover({ identity: ["/^web/"] })).nodes, [
    "web1.example.net",
    "web2.example.net",
  ]);
  assertEquals((await discover({ identity: ["db1.example.net", "nosuch"] })).nodes, [
    "db1.example.net",
  ]);
  assertEquals(
    (await discover({ fact: [{ fact: "country", operator: "==", value: "mt" }] })).nodes,
    [
      "web1.example.net",
      "db1.example.net",
    ],
  );
  assertEquals(
    (await discover({
      fact: [{ fact: "os.family", operator: "=~", value: "/^deb/i" }, {
        fact: "cpus",
        operator: ">",
        value: "4",
      }],
    })).nodes,
    [],
  );
  assertEquals((await discover({ fact: [{ fact: "cpus", operator: ">=", value: "8" }] })).nodes, [
    "web1.example.net",
    "db1.example.net",
  ]);
  assertEquals((await discover({ agent: ["parrot"], cf_class: ["roles::web"] })).nodes, [
    "web1.example.net",
    "web2.example.net",
  ]);
  // Without the option, the list beside the program is used.
  assertEquals((await discover({ identity: ["/db/"] }, {})).nodes, ["db1.example.net"]);
  const compound = await discover({ compound: [[{ expr: "with('roles::db')" }]] });
  assertEquals(compound.nodes, ["db1.example.net"]);
  const missing = await discover({}, { nodes: "/no/such/file.json" });
  assertStringIncludes(missing.error!, "cannot read the node list /no/such/file.json");
});

test("discovery: the request is Go's, and the reply is checked as Choria's client does", async () => {
  await withTemp(async (dir) => {
    const program = `${dir}/discover`;
    await writeAgent(
      program,
      `#!/bin/sh
cp "$CHORIA_EXTERNAL_REQUEST" "${dir}/seen"
[ "$4" = "${DISCOVERY_REQUEST}" ] || exit 9
case "$1" in
  ok) printf '{"protocol":"io.choria.choria.discovery.v1.external_reply","nodes":["a","b"]}' > "$3" ;;
  wrong) printf '{"protocol":"something.else","nodes":["a"]}' > "$3" ;;
  failing) printf '{"error":"inventory is down"}' > "$3" ;;
  crash) exit 2 ;;
esac
`,
    );
    const ok = await runDiscoveryProgram(`${program} ok`, {
      filter: { fact: [{ fact: "country", operator: "==", value: "mt" }], agent: ["rpcutil"] },
      options: { foo: "bar" },
      tempDir: dir,
    });
    assertEquals(ok.nodes, ["a", "b"]);
    assertEquals(
      await Deno.readTextFile(`${dir}/seen`),
      '{"protocol":"io.choria.choria.discovery.v1.external_request","collective":"mcollective","filter":{"fact":[{"fact":"country","operator":"==","value":"mt"}],"cf_class":[],"agent":["rpcutil"],"identity":[],"compound":[]},"federations":null,"options":{"foo":"bar"},"$schema":"https://choria.io/schemas/choria/discovery/v1/external_request.json","timeout":2}',
    );
    assertEquals(
      (await runDiscoveryProgram(`${program} wrong`, { tempDir: dir })).error,
      'invalid response received, expected protocol "io.choria.choria.discovery.v1.external_reply" got "something.else"',
    );
    assertEquals(
      (await runDiscoveryProgram(`${program} failing`, { tempDir: dir })).error,
      "inventory is down",
    );
    assertEquals(
      (await runDiscoveryProgram([program, "crash"], { tempDir: dir })).error,
      "executing discover failed: exit status 2",
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["discover", "seen"]);
  });
});
