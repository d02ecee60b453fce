// DDLs: loading, checking, validating inputs exactly as go-choria's server
// does (messages word for word), output defaults, and generated DDLs.

import {
  action,
  checkDdl,
  type DdlAction,
  type DdlInput,
  defineAgent,
  generateDdl,
  parseDdl,
  parseIP,
  re2,
  setOutputDefaults,
  validateInputs,
  validateInputValue,
} from "../choria/mod.ts";
import { assertEquals, assertThrows } from "./_assert.ts";
import { test } from "./_helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFile(new URL(`./fixtures/choria/${name}`, import.meta.url));

function input(type: string, extra: Partial<DdlInput> = {}): DdlInput {
  return { prompt: "p", description: "d", type, optional: false, ...extra };
}

test("parseDdl() accepts Choria's own DDLs and refuses broken ones", async () => {
  assertEquals(parseDdl(await fixture("echo.json")).metadata.name, "echo");
  assertEquals(parseDdl(await fixture("parrot.json")).actions.map((a) => a.action), [
    "echo",
    "invalid",
  ]);
  const pkg = JSON.parse(await fixture("package.json"));
  pkg.metadata.provider = "external";
  assertEquals(checkDdl(pkg), undefined);
  assertThrows(() => parseDdl("{"), TypeError, "The DDL is not JSON");
  assertThrows(
    () => parseDdl(JSON.stringify({ ...pkg, metadata: { ...pkg.metadata, timeout: 1 } })),
    TypeError,
    "/metadata/timeout must be >= 2",
  );
  assertThrows(
    () => parseDdl(JSON.stringify({ ...pkg, metadata: { ...pkg.metadata, name: "Bad-Name" } })),
    TypeError,
    "/metadata/name must match pattern",
  );
});

test("validateInputValue() applies each type rule with go-choria's message", () => {
  const cases: [DdlInput, unknown, string | undefined][] = [
    [input("integer"), 3, undefined],
    [input("integer"), 3.0, undefined],
    [input("Int"), 3.5, "is not an integer"],
    [input("integer"), "3", "is not an integer"],
    [input("number"), 2.5, undefined],
    [input("number"), "2.5", "is not a number"],
    [input("float"), 2, undefined],
    [input("float"), true, "is not a float"],
    [input("string"), 1, "is not a string"],
    [input("string"), "no maxlength: nothing else is checked; ` $", undefined],
    [input("string", { maxlength: 5 }), "12345", undefined],
    [input("string", { maxlength: 5 }), "123456", "is longer than 5 characters"],
    // maxlength counts UTF-8 bytes: "é" is two.
    [input("string", { maxlength: 5 }), "éé1", undefined],
    [input("string", { maxlength: 5 }), "ééé", "is longer than 5 characters"],
    [input("boolean"), false, undefined],
    [input("boolean"), "false", "is not a boolean"],
    [input("list", { list: ["a", "b", "c"] }), "b", undefined],
    [input("list", { list: ["a", "b", "c"] }), "d", "should be one of a, b, c"],
    [input("list", { list: ["a"] }), 1, "should be a string"],
    [input("list"), "a", "input type of list without a valid list of items in DDL"],
    [input("hash"), { a: 1 }, undefined],
    [input("Hash"), [1], "is not a hash map"],
    [input("hash"), null, "is not a hash map"],
    [input("array"), [1], undefined],
    [input("Array"), { a: 1 }, "is not an array"],
    [input("datetime"), "x", "unsupported input type 'datetime'"],
    [input(""), "x", "unsupported input type ''"],
  ];
  for (const [spec, value, expected] of cases) {
    assertEquals(
      validateInputValue(spec, value).error,
      expected,
      `${spec.type} ${JSON.stringify(value)}`,
    );
  }
});

test("validateInputValue() applies string validations as go-choria does", () => {
  const check = (validation: string, value: string) =>
    validateInputValue(input("string", { maxlength: 100, validation }), value);
  assertEquals(check("shellsafe", "plain text").error, undefined);
  for (
    const [value, bad] of [
      ["a`b", "`"],
      ["$HOME", "$"],
      ["a;b", ";"],
      ["a|b", "|"],
      ["a&&b", "&&"],
      ["a>b", ">"],
      ["a<b", "<"],
    ]
  ) {
    assertEquals(check("shellsafe", value!).error, `may not contain '${bad}'`, value);
  }
  // A single & is fine; the first bad character in the list order is reported.
  assertEquals(check("shellsafe", "a & b").error, undefined);
  assertEquals(check("shellsafe", "<$>").error, "may not contain '$'");
  assertEquals(check("ipv4address", "192.168.1.1").error, undefined);
  assertEquals(check("ipv4address", "::1").error, "::1 is not an IPv4 address");
  assertEquals(check("ipv6address", "2001:db8::1").error, undefined);
  assertEquals(check("ipv6address", "10.0.0.1").error, "10.0.0.1 is not an IPv6 address");
  assertEquals(check("ipaddress", "10.0.0.1").error, undefined);
  assertEquals(check("ipaddress", "host.example").error, "host.example is not an IP address");
  // Regexes search unanchored, as Go's MatchString.
  assertEquals(check("\\d{3}", "ab123cd").error, undefined);
  assertEquals(check("^\\d{3}$", "ab123cd").error, "input does not match '^\\d{3}$'");
  assertEquals(check("(unclosed", "x").error, "invalid regex '(unclosed'");
  // A name starting with a lowercase letter is an unknown validator: a warning, and a pass.
  assertEquals(check("hostname", "x"), { warning: "Unsupported validator 'hostname'" });
  // With no maxlength, even the validation is skipped (as in Choria).
  assertEquals(
    validateInputValue(input("string", { validation: "shellsafe" }), "a;b").error,
    undefined,
  );
});

test("parseIP() and re2() behave as Go's net.ParseIP and regexp", () => {
  assertEquals(
    ["1.2.3.4", "::ffff:1.2.3.4", "::1", "01.2.3.4", "1::2::3", "fe80::1%eth0"].map(parseIP),
    [
      "v4",
      "v4",
      "v6",
      undefined,
      undefined,
      undefined,
    ],
  );
  assertEquals(re2("(?i)^web(?P<n>\\d+)$").exec("WEB12")?.groups?.n, "12");
  assertEquals(re2("[[:digit:]]+\\z").test("abc123"), true);
});

const ACTION: DdlAction = {
  action: "deploy",
  description: "deploy",
  input: {
    version: input("string", { maxlength: 20, validation: "^\\d+\\.\\d+$" }),
    force: input("boolean", { optional: true }),
    count: input("integer", { default: 1 }),
  },
  output: {
    status: { description: "s", display_as: "S", default: "unknown" },
    note: { description: "n", display_as: "N", default: null },
  },
};

test("validateInputs() follows go-choria's ValidateRequestData step by step", () => {
  const problem = (data: Record<string, unknown>) => validateInputs(ACTION, data).problem;
  assertEquals(problem({ version: "1.2", count: 2 }), undefined);
  assertEquals(
    problem({ version: "1.2", count: 2, force: true, process_results: true }),
    undefined,
  );
  // Checked in name order: count before version; a default does not excuse a missing input.
  assertEquals(problem({}), { kind: "missing", message: "input 'count' is required" });
  assertEquals(problem({ count: 1 }), { kind: "missing", message: "input 'version' is required" });
  assertEquals(problem({ version: "x", count: "many" }), {
    kind: "invalid",
    message: "validation failed for input 'count': is not an integer",
  });
  assertEquals(problem({ version: "x", count: 1 }), {
    kind: "invalid",
    message: "validation failed for input 'version': input does not match '^\\d+\\.\\d+$'",
  });
  assertEquals(problem({ version: "1.2", count: 1, color: "red" }), {
    kind: "invalid",
    message:
      "request contains an input 'color' that is not declared in the DDL. Valid inputs are: count, force, version",
  });
  const empty: DdlAction = { action: "ping", description: "p", input: {}, output: {} };
  assertEquals(
    validateInputs(empty, { x: 1 }).problem?.message,
    "request contains inputs while none are declared in the DDL",
  );
  assertEquals(validateInputs(empty, { process_results: true }).problem, undefined);
  const warned = validateInputs(
    {
      action: "a",
      description: "a",
      input: { host: input("string", { maxlength: 10, validation: "fqdn" }) },
      output: {},
    },
    { host: "h" },
  );
  assertEquals(warned, { warnings: ["Unsupported validator 'fqdn'"] });
});

test("setOutputDefaults() fills missing outputs with non-null defaults only", () => {
  const data: Record<string, unknown> = { note: null };
  setOutputDefaults(ACTION, data);
  assertEquals(data, { note: null, status: "unknown" });
  const present: Record<string, unknown> = { status: "done" };
  setOutputDefaults(ACTION, present);
  assertEquals(present, { status: "done" });
});

test("generateDdl() writes a DDL that Choria's schema accepts", () => {
  const ddl = generateDdl({
    metadata: {
      name: "svc",
      description: "d",
      author: "a",
      license: "MIT",
      version: "1.2.3",
      url: "u",
      timeout: 5,
    },
    actions: {
      restart: action({
        description: "Restarts",
        display: "always",
        input: {
          name: { description: "service", type: "string", maxlength: 64, validation: "shellsafe" },
          mode: {
            description: "how",
            type: "list",
            list: ["soft", "hard"],
            optional: true,
            default: "soft",
          },
          wait: { description: "seconds", type: "integer", optional: true },
        },
        output: { status: { description: "status", type: "string", default: "unknown" } },
        aggregate: [{ function: "summary", args: ["status"] }],
        run: ({ name, mode }) => ({ status: `${name} ${mode}` }),
      }),
    },
  });
  assertEquals(checkDdl(ddl), undefined);
  assertEquals(ddl.metadata.provider, "external");
  assertEquals(ddl.actions[0]!.input.mode, {
    prompt: "mode",
    description: "how",
    type: "list",
    optional: true,
    default: "soft",
    list: ["soft", "hard"],
  });
  assertEquals(ddl.actions[0]!.output.status, {
    description: "status",
    display_as: "status",
    default: "unknown",
    type: "string",
  });
});

test("defineAgent() refuses definitions Choria would misread", () => {
  const meta = {
    name: "svc",
    description: "d",
    author: "a",
    license: "MIT",
    version: "1",
    url: "u",
    timeout: 5,
  };
  assertThrows(
    () =>
      defineAgent({
        metadata: meta,
        actions: {
          go: action({
            description: "g",
            input: { s: { description: "s", type: "string", validation: "shellsafe" } },
            run: () => {},
          }),
        },
      }),
    TypeError,
    "'validation' needs 'maxlength'",
  );
  assertThrows(
    () =>
      defineAgent({
        metadata: meta,
        actions: {
          go: action({
            description: "g",
            input: { l: { description: "l", type: "list" } },
            run: () => {},
          }),
        },
      }),
    TypeError,
    "a list input needs its 'list'",
  );
  assertThrows(
    () => defineAgent({ metadata: { ...meta, name: "Svc" }, actions: {} }),
    TypeError,
    "lowercase",
  );
  assertThrows(
    () =>
      defineAgent({
        metadata: meta,
        actions: { "Go-Now": action({ description: "g", run: () => {} }) },
      }),
    TypeError,
    "lowercase",
  );
  assertThrows(
    () => defineAgent({ metadata: { ...meta, timeout: 1 }, actions: {} }),
    TypeError,
    "/metadata/timeout must be >= 2",
  );
});
