// The CLI verbs, run as subprocesses exactly as a user runs them.

import { assert, assertEquals, assertMatch, assertStringIncludes } from "./_assert.ts";
import { RawSocket } from "./_tcp.ts";
import { rpc, RpcProcess, rpcProcess, rpcWithInput, serve, serveProcess } from "./_cli.ts";
import { test } from "./_helpers.ts";

const HANDLERS = new URL("./fixtures/handlers_module.ts", import.meta.url).pathname;

test("rpc serve + call: the demo API over jsonrpc; SIGTERM stops it gracefully", async () => {
  // The server in its own process (SIGTERM), the first call too.
  const server = await serveProcess("tcp://127.0.0.1:0");
  assertMatch(server.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assertEquals(await rpcProcess("call", server.url, "add", '{"a": 1, "b": 2}'), {
    code: 0,
    stdout: "3\n",
    stderr: "",
  });
  assertEquals(
    (await rpc("call", server.url, "echo", '[1, "two", {"three": 3}]')).stdout,
    '[1,"two",{"three":3}]\n',
  );
  const failed = await rpc("call", server.url, "fail", '{"message": "nope", "code": 7}');
  assertEquals([failed.code, failed.stdout, failed.stderr], [1, "", "error 7: nope\n"]);
  const invalid = await rpc("call", server.url, "add", '{"a": 1}');
  assertEquals(invalid.code, 1);
  assertStringIncludes(invalid.stderr, "error -32602: Invalid params: /b is required");
  const unknown = await rpc("call", server.url, "nosuch");
  assertEquals([unknown.code, unknown.stderr], [
    1,
    'error -32601: Method not found {"method":"nosuch"}\n',
  ]);
  // A timeout has its own exit status.
  const timedOut = await rpc("call", server.url, "sleep", '{"ms": 5000}', "--timeout", "100");
  assertEquals([timedOut.code, timedOut.stderr], [
    3,
    "error: Call 'sleep' timed out after 100 ms\n",
  ]);
  assertEquals((await rpc("notify", server.url, "echo", "{}")).code, 0);
  const stopped = await server.stop("SIGTERM");
  assertEquals(stopped.code, 0);
  assertStringIncludes(stopped.stderr, "SIGTERM: shutting down");
});

test("rpc serve --dialect simplerpc and quickrpc answer rpc call in the same dialect", async () => {
  for (const dialect of ["simplerpc", "quickrpc"]) {
    const server = await serve("tcp://127.0.0.1:0", "--dialect", dialect);
    assertEquals(
      await rpc("call", server.url, "echo", '{"k": "v"}', "--dialect", dialect),
      { code: 0, stdout: '{"k":"v"}\n', stderr: "" },
      dialect,
    );
    const failed = await rpc(
      "call",
      server.url,
      "fail",
      '{"message": "nope"}',
      "--dialect",
      dialect,
    );
    assertEquals(failed.code, 1, dialect);
    assertStringIncludes(failed.stderr, "nope", dialect);
    assertEquals((await server.stop("SIGINT")).code, 0);
  }
  // simplerpc carries objects only: a number result is sent as {"result": n}.
  const server = await serve("tcp://127.0.0.1:0", "--dialect", "simplerpc");
  assertEquals(
    (await rpc("call", server.url, "add", '{"a": 2, "b": 3}', "--dialect", "simplerpc")).stdout,
    '{"result":5}\n',
  );
  await server.stop();
});

test("rpc serve --handlers serves a module's exported functions; quickrpc strings work", async () => {
  const server = await serve("tcpserv:127.0.0.1:0", "--handlers", HANDLERS);
  const port = new URL(server.url).port;
  assertEquals(
    (await rpc("call", `tcp:127.0.0.1:${port}`, "greet", '{"name": "Ada"}')).stdout,
    '"hello Ada"\n',
  );
  assertEquals((await rpc("call", server.url, "twice", "[1, 2]")).stdout, "[2,4]\n");
  assertEquals((await rpc("call", server.url, "notAFunction")).code, 1);
  await server.stop();
});

test("rpc call and notify exit 2 when the connection fails", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  for (const verb of ["call", "notify"]) {
    const run = await rpc(verb, `tcp://127.0.0.1:${port}`, "add");
    assertEquals(run.code, 2, verb);
    assertStringIncludes(run.stderr, `rpc ${verb}: cannot connect to tcp://127.0.0.1:${port}`);
  }
});

test("rpc: bad arguments give a one-line error and the usage, exit 2; --help exits 0", async () => {
  const cases: [string[], string][] = [
    [["call"], "rpc call: a URL is required"],
    [["call", "tcp://127.0.0.1:1"], "rpc call: a method name is required"],
    [
      ["call", "ftp://x:1", "m"],
      "rpc call: 'ftp://x:1' is not host:port, tcp://host:port, tls://host:port, ws://host:port/path",
    ],
    [["call", "tcp://127.0.0.1:1", "m", "{oops"], "rpc call: params must be JSON, got '{oops'"],
    [["call", "tcp://127.0.0.1:1", "m", "7"], "rpc call: params must be a JSON object or array"],
    [["call", "tcp://127.0.0.1:1", "m", "--dialect", "soap"], "rpc call: unknown dialect 'soap'"],
    [
      ["call", "tcp://127.0.0.1:1", "m", "--timeout", "soon"],
      "rpc call: --timeout must be a number",
    ],
    [["call", "tcp://127.0.0.1:1", "m", "--bogus"], "rpc call: unknown option '--bogus'"],
    [
      ["call", "tcp://127.0.0.1:1", "m", "--count", "2"],
      "rpc call: --count does not apply to 'call'",
    ],
    [["watch", "tcp://127.0.0.1:1", "--count", "0"], "rpc watch: --count must be a whole number"],
    [["describe"], "rpc describe: a URL is required"],
    [["notify", "tcpserv::1", "m"], "rpc notify: 'tcpserv::1' is a quickrpc server string"],
    [["serve"], "rpc serve: a URL is required"],
    [["serve", "tls://127.0.0.1:0"], "rpc serve: tls:// needs --cert and --key"],
    [["serve", "wss://127.0.0.1:0/"], "rpc serve: wss:// needs --cert and --key"],
    [
      ["serve", "tcp://127.0.0.1:0", "--handlers", "/no/such/file.ts"],
      "rpc serve: cannot load handlers",
    ],
    [["frobnicate"], "rpc: unknown verb 'frobnicate'"],
  ];
  for (const [args, message] of cases) {
    const run = await rpc(...args);
    assertEquals(run.code, 2, args.join(" "));
    const [first, ...rest] = run.stderr.split("\n");
    assert(first!.startsWith(message), `${args.join(" ")}: ${first}`);
    assertStringIncludes(rest.join("\n"), "Usage: rpc");
  }
  for (const verb of ["serve", "call", "notify", "watch", "describe"]) {
    const help = await rpc(verb, "--help");
    assertEquals(help.code, 0, verb);
    assertStringIncludes(help.stdout, `Usage: rpc ${verb}`);
  }
  const top = await rpc("--help");
  assertEquals(top.code, 0);
  assertStringIncludes(top.stdout, "Verbs:");
});

test("rpc choria ddl prints the example agent's DDL, as committed beside it", async () => {
  const run = await rpc(
    "choria",
    "ddl",
    new URL("../examples/choria/agent/parrot.ts", import.meta.url).pathname,
  );
  assertEquals(run.code, 0, run.stderr);
  const committed = await Deno.readTextFile(
    new URL("../examples/choria/agent/parrot.json", import.meta.url),
  );
  assertEquals(run.stdout, committed);
  const none = await rpc("choria", "ddl", HANDLERS);
  assertEquals(none.code, 2);
  assertStringIncludes(none.stderr, "exports no agent");
  assertEquals((await rpc("choria", "lint", "x.ts")).code, 2);
});

test("rpc serve + call + notify over WebSocket, every dialect, same exit statuses", async () => {
  for (const dialect of ["jsonrpc", "simplerpc", "quickrpc"]) {
    const server = await serve("ws://127.0.0.1:0/rpc", "--dialect", dialect);
    assertMatch(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
    const added = await rpc("call", server.url, "add", '{"a": 2, "b": 3}', "--dialect", dialect);
    assertEquals([added.code, added.stdout, added.stderr], [
      0,
      dialect === "simplerpc" ? '{"result":5}\n' : "5\n",
      "",
    ]);
    const failed = await rpc(
      "call",
      server.url,
      "fail",
      '{"message": "nope"}',
      "--dialect",
      dialect,
    );
    assertEquals([failed.code, failed.stdout], [1, ""]);
    assertStringIncludes(failed.stderr, "nope");
    assertEquals((await rpc("notify", server.url, "echo", "{}", "--dialect", dialect)).code, 0);
    assertEquals((await server.stop("SIGTERM")).code, 0);
  }
  const refused = await rpc("call", "ws://127.0.0.1:1/rpc", "add", "{}");
  assertEquals(refused.code, 2);
  assertStringIncludes(refused.stderr, "cannot connect to ws://127.0.0.1:1/rpc");
  const bad = await rpc("call", "ftp://127.0.0.1:1/", "add");
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "is not host:port, tcp://host:port");
});

test("rpc serve --idle-timeout and --max-connections set the server's limits", async () => {
  const server = await serve(
    "tcp://127.0.0.1:0",
    // Long enough that a busy machine answers the first call before it.
    "--idle-timeout",
    "1500",
    "--max-connections",
    "1",
  );
  const first = await RawSocket.connect(server.url);
  await first.send('{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":1},"id":1}\n');
  assertEquals(JSON.parse(await first.readFrame()).result, 2);
  // A second connection is refused while the first is open.
  const second = await RawSocket.connect(server.url);
  assertEquals(await second.readToEnd(), "");
  second.close();
  // Left idle, the first is closed.
  const started = Date.now();
  assertEquals(await first.readToEnd(), "");
  // Loose: it tells the 1.5 s --idle-timeout from the 5 min default on a busy machine.
  assert(Date.now() - started < 30_000);
  first.close();
  assertEquals((await server.stop()).code, 0);
  const bad = await rpc("serve", "tcp://127.0.0.1:0", "--idle-timeout", "soon");
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "--idle-timeout must be a whole number");
});

test("rpc for scripts: bare host:port, params from stdin, --pretty, --json, --version", async () => {
  const server = await serve("127.0.0.1:0");
  const hostPort = server.url.replace("tcp://", "");
  assertEquals((await rpc("call", hostPort, "add", '{"a": 1, "b": 2}')).stdout, "3\n");
  assertEquals(
    await rpcWithInput('{"a": 20, "b": 22}', "call", hostPort, "add", "-"),
    { code: 0, stdout: "42\n", stderr: "" },
  );
  const badStdin = await rpcWithInput("not json", "call", hostPort, "add", "-");
  assertEquals(badStdin.code, 2);
  assertStringIncludes(badStdin.stderr, "params on stdin must be JSON, got 'not json'");
  assertEquals(
    (await rpc("call", hostPort, "echo", '{"a": [1]}', "--pretty")).stdout,
    '{\n  "a": [\n    1\n  ]\n}\n',
  );
  // --json: one JSON line on stderr, for each kind of failure.
  const remote = await rpc("call", hostPort, "nosuch", "--json");
  assertEquals([remote.code, JSON.parse(remote.stderr)], [1, {
    kind: "remote",
    code: -32601,
    message: "Method not found",
    data: { method: "nosuch" },
  }]);
  const slow = await rpc("call", hostPort, "sleep", '{"ms": 5000}', "--timeout", "50", "--json");
  assertEquals([slow.code, JSON.parse(slow.stderr)], [3, {
    kind: "timeout",
    message: "Call 'sleep' timed out after 50 ms",
  }]);
  const usage = await rpc("call", hostPort, "--json");
  assertEquals([usage.code, JSON.parse(usage.stderr)], [2, {
    kind: "usage",
    message: "a method name is required",
  }]);
  const refused = await rpc("call", "127.0.0.1:1", "add", "--json");
  assertEquals(refused.code, 2);
  assertEquals(JSON.parse(refused.stderr).kind, "connection");
  const version = await rpc("--version");
  assertEquals(version.code, 0);
  assertMatch(version.stdout, /^rpc \d+\.\d+\.\d+ \(@seed\/rpc\)\n$/);
  await server.stop();
});

test("rpc notify log reaches the demo server; rpc watch prints each notification", async () => {
  const server = await serve("127.0.0.1:0");
  assertEquals((await rpc("notify", server.url, "log", '{"line": "hello from a script"}')).code, 0);
  const watched = await rpc("watch", server.url, "ticks", '{"count": 3, "ms": 1}', "--count", "3");
  assertEquals(watched.code, 0, watched.stderr);
  assertEquals(watched.stdout.trim().split("\n").map((line) => JSON.parse(line)), [
    { method: "tick", params: { n: 1 } },
    { method: "tick", params: { n: 2 } },
    { method: "tick", params: { n: 3 } },
  ]);
  // Without --count, watch ends when the server closes, with status 2: stop
  // the server once watch has printed its tick (so it is connected).
  const watching = new RpcProcess(["watch", server.url, "ticks", '{"count": 1}']);
  await watching.waitForOutput("stdout", "\n");
  await server.waitForOutput("stderr", "hello from a script");
  assertEquals((await server.stop()).code, 0);
  const ended = await watching.finish();
  assertEquals([ended.code, ended.stdout], [2, '{"method":"tick","params":{"n":1}}\n']);
  assertStringIncludes(ended.stderr, "rpc watch: the connection closed");
});

test("rpc describe prints the demo server's OpenRPC document", async () => {
  const server = await serve("127.0.0.1:0");
  const described = await rpc("describe", server.url);
  assertEquals(described.code, 0, described.stderr);
  const doc = JSON.parse(described.stdout);
  assertEquals(doc.openrpc, "1.3.2");
  assertEquals(doc.info.title, "demo");
  assertEquals(
    doc.methods.map((m: { name: string }) => m.name),
    ["echo", "add", "sleep", "fail", "log", "ticks"],
  );
  await server.stop();
  const plain = await serve("127.0.0.1:0", "--handlers", HANDLERS);
  const none = await rpc("describe", plain.url);
  assertEquals(none.code, 1);
  assertStringIncludes(none.stderr, "does not describe itself");
  await plain.stop();
});

test("rpc call against a server of another dialect fails at once, saying so", async () => {
  const server = await serve("127.0.0.1:0", "--dialect", "simplerpc");
  const run = await rpc("call", server.url, "add", '{"a": 1, "b": 2}', "--timeout", "60000");
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "the other side does not speak jsonrpc: it answered 'FAIL{");
  await server.stop();
});

test("rpc resolves paths from the user's directory, also under deno task (INIT_CWD)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/api.ts`, "export const hi = () => 'hi from api.ts';\n");
    const child = new RpcProcess(["serve", "127.0.0.1:0", "--handlers", "./api.ts"], {
      permissions: ["--allow-net=127.0.0.1", "--allow-read", "--allow-env=INIT_CWD"],
      // deno task runs in the project's directory and says where the user was.
      cwd: new URL("..", import.meta.url).pathname,
      env: { INIT_CWD: dir },
    });
    try {
      const url = /listening on (\S+)/.exec(await child.waitForOutput("stdout", "\n"))?.[1];
      assert(url !== undefined, `no address in ${child.stdout}`);
      assertEquals((await rpc("call", url, "hi")).stdout, '"hi from api.ts"\n');
    } finally {
      child.kill("SIGTERM");
      await child.finish();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("rpc serve and call over mushroom (http:// URLs with --dialect mushroom): call, notify, watch, describe", async () => {
  const server = await serve("http://127.0.0.1:0/", "--dialect", "mushroom");
  assertMatch(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const M = ["--dialect", "mushroom"];
  assertEquals(await rpc("call", server.url, "add", '{"a": 1, "b": 2}', ...M), {
    code: 0,
    stdout: "3\n",
    stderr: "",
  });
  assertEquals((await rpc("call", server.url, "echo", "[1]", ...M)).stdout, "[1]\n");
  assertEquals((await rpc("notify", server.url, "log", '{"line": "over mushroom"}', ...M)).code, 0);
  const failed = await rpc("call", server.url, "fail", '{"message": "nope"}', ...M);
  assertEquals([failed.code, failed.stderr], [1, 'error -32000: nope "nope"\n']);
  const watched = await rpc(
    "watch",
    server.url,
    "ticks",
    '{"count": 2, "ms": 1}',
    "--count",
    "2",
    ...M,
  );
  assertEquals(
    watched.stdout,
    '{"method":"tick","params":{"n":1}}\n{"method":"tick","params":{"n":2}}\n',
  );
  assertEquals(JSON.parse((await rpc("describe", server.url, ...M)).stdout).info.title, "demo");
  // http:// means JSON-RPC over HTTP POST: a mushroom server's answer gets a hint.
  const wrong = await rpc("call", server.url, "add", "{}");
  assertEquals(wrong.code, 2);
  assertStringIncludes(wrong.stderr, "add --dialect mushroom");
  const stopped = await server.stop();
  assertStringIncludes(stopped.stderr, "over mushroom");
});

test("rpc serve and call with --dialect quickrpc open quickrpc's many-peer transport strings", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const server = await serve(
    `mux:(tcpserv:127.0.0.1:${port})(internal:cli)`,
    "--dialect",
    "quickrpc",
  );
  assertEquals(server.url, `mux:(tcpserv:127.0.0.1:${port})(internal:cli)`);
  assertEquals(
    await rpc(
      "call",
      `restart:1:tcp:127.0.0.1:${port}`,
      "add",
      '{"a": 1, "b": 2}',
      "--dialect",
      "quickrpc",
    ),
    { code: 0, stdout: "3\n", stderr: "" },
  );
  assertEquals((await server.stop()).code, 0);
  const cases: [string[], string][] = [
    [
      ["call", "udp:8888", "m"],
      "rpc call: 'udp:8888' is a quickrpc transport: add --dialect quickrpc",
    ],
    [
      ["call", "qudp:1", "m", "--dialect", "quickrpc"],
      "rpc call: quickrpc transport 'qudp:1': Qt transports",
    ],
    [
      ["serve", "mux:(udp:1", "--dialect", "quickrpc"],
      "rpc serve: quickrpc transport 'mux:(udp:1'",
    ],
  ];
  for (const [args, message] of cases) {
    const run = await rpc(...args);
    assertEquals(run.code, 2, args.join(" "));
    assert(run.stderr.startsWith(message), `${args.join(" ")}: ${run.stderr}`);
  }
});
