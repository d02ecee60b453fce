// Compound filters (`filter.compound`, `[[{"expr": "..."}]]`) in discovery
// programs: go-choria's expression language, its functions, how expressions
// combine, every error class, the limits, a fuzzed parser, and one run of a
// discovery program through the harness. Expected results come from
// go-choria's own tests (cited per test); the facts, classes and agents are
// written here.

import {
  AgentLog,
  DISCOVERY_REPLY,
  DiscoveryError,
  type DiscoveryFilter,
  matchesFilter,
  type MatchOptions,
  type NodeInfo,
  respondDiscovery,
} from "../choria/mod.ts";
import { runDiscoveryProgram } from "../choria/testing.ts";
import { parseFactFilter } from "../choria/facts.ts";
import {
  CompoundError,
  MAX_DEPTH,
  MAX_EXPRESSION_LENGTH,
  MAX_STEPS,
} from "../choria/compound/error.ts";
import { parse } from "../choria/compound/parse.ts";
import { semverCheck } from "../choria/compound/semver.ts";
import { gjsonGet } from "../choria/compound/gjson.ts";
import type { Value } from "../choria/compound/evaluate.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./_assert.ts";
import { test } from "./_helpers.ts";

const NODES = new URL("../examples/choria/discovery/nodes", import.meta.url).pathname;

/** A node shaped like go-choria's server/discovery/testdata (facts.yaml, classes.txt). */
const TEST_NODE: NodeInfo = {
  identity: "test.example.net",
  facts: {
    string: "hello world",
    inumber: 1,
    fnumber: 1.2,
    tbool: true,
    fbool: false,
    sarray: ["1", "2", "3"],
    iarray: [1, 2, 3],
    nested: { string: "nested hello world", inumber: 2, fnumber: 2.2, tbool: true, fbool: false },
  },
  classes: ["role::testing", "testing", "apache"],
  agents: ["apache", "rpcutil"],
};

function filterOf(...exprs: string[]): DiscoveryFilter {
  return { fact: [], cf_class: [], identity: [], compound: exprs.map((expr) => [{ expr }]) };
}

function matches(node: NodeInfo, ...exprs: string[]): boolean {
  return matchesFilter(node, filterOf(...exprs));
}

/** The error message an expression that does not compile gives. */
function errorOf(node: NodeInfo, expr: string): string {
  const error = assertThrows(() => matches(node, expr), DiscoveryError);
  return error.message;
}

/** A log that keeps its lines, stderr ones prefixed "E ". */
function capturingLog(): { log: AgentLog; lines: string[] } {
  const lines: string[] = [];
  return { log: new AgentLog((l) => lines.push(l), (l) => lines.push(`E ${l}`)), lines };
}

/** The one error line an expression that fails on a node logs; the node must not match. */
function failureOf(node: NodeInfo, expr: string, options: MatchOptions = {}): string {
  const { log, lines } = capturingLog();
  assertEquals(matchesFilter(node, filterOf(expr), { ...options, log }), false, expr);
  assertEquals(lines.length, 1, `${expr}: ${lines.join(" | ")}`);
  return lines[0]!;
}

test("compound: go-choria's server discovery expression matches its node", () => {
  // go-choria server/discovery/discovery_test.go "Should handle compound filters"
  assertEquals(
    matches(
      TEST_NODE,
      "with('apache') and with('/testing/') and with('fnumber=1.2') and fact('nested.string') matches('h?llo') and include(fact('sarray'), '1') and include(fact('iarray'), 1)",
    ),
    true,
  );
  // ... and each term on its own, with its opposite.
  for (
    const [expr, want] of [
      ["with('apache')", true], // a class (and an agent)
      ["with('rpcutil')", true], // an agent only
      ["with('/TESTING/')", true], // class regexes ignore case
      ["with('fnumber=1.2')", true],
      ["with('fnumber=1.3')", false],
      ["with('nested.inumber>=2')", true],
      ["with('nosuch')", false],
      ["fact('nested.string') matches('h?llo')", true],
      ["fact('nested.string') matches('^h')", false],
      ["include(fact('sarray'), '1')", true],
      ["include(fact('sarray'), 1)", false],
      ["include(fact('iarray'), 1)", true],
      ["include(fact('iarray'), 1.0)", true],
      ["include(fact('missing'), 1)", false],
    ] as const
  ) {
    assertEquals(matches(TEST_NODE, expr), want, expr);
  }
});

test("compound: data functions, as go-choria's scout table uses them", () => {
  // go-choria filter/compound/compound_test.go "Should correctly match": a data
  // function scout() answering {name: "bob", value: 1, version: "1.2.3"}, classes ["foo"].
  const node: NodeInfo = { identity: "n1", classes: ["foo"] };
  const functions = { scout: () => ({ name: "bob", value: 1, version: "1.2.3" }) };
  for (
    const [expr, want] of [
      [`semver(scout("x").version, "= 1.2.3")`, true],
      [`semver(scout("x").version, "< 1.2.4")`, true],
      [`semver(scout("x").version, "> 1.0.0")`, true],
      [`semver(scout("x").version, "< 1.0.0")`, false],
      [`with("foo") && scout("x").name=="bob" && scout("x").value==1`, true],
    ] as const
  ) {
    assertEquals(matchesFilter(node, filterOf(expr), { functions }), want, expr);
  }
  // A data function answering undefined gives nil; one answering a promise is an error.
  const odd = { nothing: () => undefined, later: () => Promise.resolve(1) };
  assertEquals(matchesFilter(node, filterOf("nothing() == nil"), { functions: odd }), true);
  assertStringIncludes(
    failureOf(node, "later() == 1", { functions: odd }),
    "later(): data functions must answer synchronously",
  );
  // A data function's own error fails the node, as a data provider's error does in go-choria.
  const failing = {
    down: () => {
      throw new Error("scout is down");
    },
  };
  assertStringIncludes(failureOf(node, "down() == 1", { functions: failing }), "scout is down");
  // "__proto__" in a map literal is an ordinary key.
  assertEquals(
    matches(node, "{'__proto__': 1}.__proto__ == 1 && len({'__proto__': 1}) == 1"),
    true,
  );
  // Without the function, the call is an unknown function.
  assertStringIncludes(
    errorOf(node, `scout("x").name == "bob"`),
    "unknown function scout() at 1:1",
  );
});

test("compound: go-choria's inventory compound filter picks its node", () => {
  // go-choria providers/discovery/inventory/inventory_test.go "Should match compound
  // filters" over testdata/good-inventory.yaml: only dev1 has customer=acme and class one.
  const nodes: NodeInfo[] = [
    {
      identity: "dev1.example.net",
      facts: { country: "mt", customer: "acme" },
      classes: ["one", "two"],
      agents: ["rpcutil"],
    },
    {
      identity: "dev2.example.net",
      facts: { country: "de" },
      classes: ["one", "two", "three"],
      agents: ["other", "rpcutil"],
    },
  ];
  const filter = filterOf(`with("customer=acme") and with("one")`);
  assertEquals(nodes.filter((n) => matchesFilter(n, filter)).map((n) => n.identity), [
    "dev1.example.net",
  ]);
});

test("compound: the docs' GJSON example finds a network on any interface", () => {
  // choria-io/website docs/content/concepts/discovery/_index.md, "Compound Filters".
  const node: NodeInfo = {
    identity: "choria1",
    facts: {
      networking: {
        interfaces: {
          eth0: {
            bindings: [{ address: "10.0.2.15", network: "10.0.2.0" }],
            mtu: 1500,
          },
          eth1: {
            bindings: [{ address: "192.168.190.5", network: "192.168.190.0" }],
            mtu: 1500,
          },
        },
      },
    },
  };
  assertEquals(
    matches(node, 'include(fact("networking.interfaces.*.bindings.#.network"), "10.0.2.0")'),
    true,
  );
  assertEquals(
    matches(node, 'include(fact("networking.interfaces.*.bindings.#.network"), "10.0.9.0")'),
    false,
  );
});

test("compound: GJSON paths: dots, escapes, indexes, # and wildcards", () => {
  const facts = {
    "a.b": 1,
    os: { family: "Debian", release: { major: "12" } },
    disks: [{ name: "sda", size: 64 }, { name: "sdb" }, { name: "sdc", size: 128 }],
    list: [10, 20],
  } as Value;
  assertEquals(gjsonGet(facts, "os.family"), "Debian");
  assertEquals(gjsonGet(facts, "os.release.major"), "12");
  assertEquals(gjsonGet(facts, "a\\.b"), 1);
  assertEquals(gjsonGet(facts, "a.b"), undefined);
  assertEquals(gjsonGet(facts, "list.1"), 20);
  assertEquals(gjsonGet(facts, "list.2"), undefined);
  assertEquals(gjsonGet(facts, "list.#"), 2);
  assertEquals(gjsonGet(facts, "disks.#.size"), [64, 128]);
  assertEquals(gjsonGet(facts, "disks.#.name"), ["sda", "sdb", "sdc"]);
  assertEquals(gjsonGet(facts, "o?.fam*"), "Debian");
  assertEquals(gjsonGet(facts, "*.release.major"), "12"); // tries "a.b" first, as GJSON does
  assertEquals(gjsonGet(facts, ""), undefined);
  assertEquals(gjsonGet(facts, "nosuch.path"), undefined);
  // Queries and modifiers are refused, not guessed at.
  for (const path of ['disks.#(name=="sda").size', "list|@reverse", "@this"]) {
    assertThrows(() => gjsonGet(facts, path), Error, "not supported");
  }
  assertStringIncludes(
    failureOf({ identity: "n" }, 'fact("disks.#(name==\\"sda\\").size") == 64'),
    "fact(): GJSON path",
  );
});

test("compound: with() parses fact filters as go-choria does", () => {
  // go-choria filter/filter_test.go "ParseFactFilterString" (the parser with() uses).
  const t = (text: string, fact: string, operator: string, value: string) =>
    assertEquals(parseFactFilter(text), { fact, operator, value }, text);
  t("foo=/bar/", "foo", "=~", "/bar/");
  t("foo = /bar/", "foo", "=~", "/bar/");
  t("foo=bar", "foo", "==", "bar");
  t("foo = bar", "foo", "==", "bar");
  t("foo=~bar", "foo", "=~", "bar");
  t("foo =~ bar", "foo", "=~", "bar");
  t("foo=>bar", "foo", ">=", "bar");
  t("foo=<bar", "foo", "<=", "bar");
  t("foo<=bar", "foo", "<=", "bar");
  t("foo>=bar", "foo", ">=", "bar");
  t("foo<bar", "foo", "<", "bar");
  t("foo>bar", "foo", ">", "bar");
  t("foo!=bar", "foo", "!=", "bar");
  t("foo==bar", "foo", "==", "bar");
  t('storage.#(name="nvme0n1").size==64', 'storage.#(name="nvme0n1").size', "==", "64");
  t('storage.#(name="foo bar").size=>baz bar', 'storage.#(name="foo bar").size', ">=", "baz bar");
  for (const bad of ["foobarbaz", "=foo(bar=baz)", "foo=", "foo(bar=baz)>", "=><=="]) {
    assertEquals(parseFactFilter(bad), undefined, bad);
  }
});

test("compound: expr's operators, precedence and literals", () => {
  const node: NodeInfo = {
    identity: "n",
    facts: { cpus: 8, country: "mt", tags: ["a", "b"], os: { family: "Debian" } },
    classes: ["roles::web"],
    agents: ["rpcutil"],
  };
  for (
    const [expr, want] of [
      ["true || false && false", true], // && binds tighter than ||
      ["(true || false) && false", false],
      ["not true == false", true], // (not true) == false: not binds tighter than ==
      ["!with('x') and with('roles::web')", true],
      ["1 + 2 * 3 == 7", true],
      ["2 ** 3 ** 2 == 512", true], // right-associative
      ["-2 ** 2 == -4", true],
      ["7 % 3 == 1 && 7 / 2 == 3.5", true],
      ["1 < 2 < 3", true], // chained comparisons
      ["3 > 2 > 1 && !(1 < 3 < 2)", true],
      ["fact('cpus') >= 8 and fact('cpus') < 16", true],
      ["'a' in fact('tags') && 'c' not in fact('tags')", true],
      ["'family' in fact('os')", true],
      ["'x' in fact('missing')", false],
      ["fact('country') in ['mt', 'de']", true],
      ["fact('os.family') matches '^Deb' && fact('os.family') not matches '^Red'", true],
      [
        "fact('country') contains 't' && fact('country') startsWith 'm' && fact('country') endsWith 't'",
        true,
      ],
      ["fact('country') + '-x' == 'mt-x'", true],
      ["len(agents) == 1 && 'rpcutil' in agents && classes[0] == 'roles::web'", true],
      ["fact('tags')[-1] == 'b' && fact('tags')[0:1] == ['a'] && fact('country')[1:] == 't'", true],
      ["fact('missing') == nil && nosuchname == nil", true], // unknown names are nil, as in go-choria
      ["(fact('missing') ?? 4) < 5", true],
      ["fact('os')?.family == 'Debian' && fact('missing')?.family == nil", true],
      ["fact('cpus') > 4 ? with('roles::web') : false", true],
      ["any(classes, # startsWith 'roles::') && all(fact('tags'), {len(#) == 1})", true],
      ["none(fact('tags'), # == 'c') && one(fact('tags'), # == 'a')", true],
      ["count(1..10, # % 2 == 0) == 5 && filter(fact('tags'), # != 'a') == ['b']", true],
      ["map(fact('tags'), upper(#)) == ['A', 'B']", true],
      ["{a: 1, 'b': [2]}.b[0] == 2 && keys({x: 1}) == ['x']", true],
      ["lower('MT') == fact('country') && trim(' a ') == 'a' && abs(-1) == 1", true],
      ["0x10 == 16 && 0o10 == 8 && 0b11 == 3 && 1_000 == 1e3 && .5 == 0.5", true],
      ['"tab\\there" == `tab\\there` == false', true], // raw strings keep backslashes
      ['"\\u00e9" == "é" && \'\\x41\' == "A" && "\\101" == "A"', true],
      ["[1, 2] == [1, 2] && {a: [1]} == {a: [1]} && 1 == 1.0", true],
      ["with('roles::web') // a comment\n && /* another */ true", true],
      [
        "semver('1.2.3', '~1.2') && semver('2.0.0', '^1.0 || >= 2') && !semver('1.3.0-beta', '>= 1.0')",
        true,
      ],
    ] as const
  ) {
    assertEquals(matches(node, expr), want, expr);
  }
});

test("compound: several expressions combine as go-choria counts them", () => {
  // go-choria filter/compound/compound.go MatchExprString: +1 per true, -1 per
  // false, and the node matches when the sum is above zero.
  assertEquals(matches(TEST_NODE, "true"), true);
  assertEquals(matches(TEST_NODE, "false"), false);
  assertEquals(matches(TEST_NODE, "true", "true"), true);
  assertEquals(matches(TEST_NODE, "true", "false"), false);
  assertEquals(matches(TEST_NODE, "true", "true", "false"), true);
  assertEquals(matches(TEST_NODE, "true", "false", "false"), false);
  // And with the other filters: every kind present must hold.
  const filter: DiscoveryFilter = {
    fact: [{ fact: "inumber", operator: "==", value: "1" }],
    cf_class: ["apache"],
    agent: ["rpcutil"],
    identity: ["/^test/"],
    compound: [[{ expr: "with('fnumber=1.2')" }]],
  };
  assertEquals(matchesFilter(TEST_NODE, filter), true);
  assertEquals(matchesFilter(TEST_NODE, { ...filter, identity: ["other"] }), false);
  assertEquals(
    matchesFilter(TEST_NODE, { ...filter, compound: [[{ expr: "with('fnumber=9')" }]] }),
    false,
  );
});

test("compound: syntax errors name the position", () => {
  for (
    const [expr, message] of [
      ["with(", "unexpected end of expression at 1:6"],
      ["with('apache'", 'expected ")" but the expression ended at 1:14'],
      ["with('apache') &&", "unexpected end of expression at 1:18"],
      ["with('apache') with('x')", 'unexpected token "with" at 1:16'],
      ["'unterminated", "literal not terminated at 1:1"],
      ["a @ b", 'unrecognized character "@" at 1:3'],
      ["1 +\n  )", 'unexpected token ")" at 2:3'],
      ["'\\q'", "invalid char escape at 1:2"],
      ["12abc == 1", 'bad number syntax: "12a" at 1:1'],
      ["a not b", 'unexpected token "b" at 1:7'],
      ["/* open", "unclosed comment at 1:1"],
      ["", "empty expression at 1:1"],
      ["x.y()", "method calls are not supported at 1:3"],
      ["# > 1", '"#" is only allowed inside a predicate at 1:1'],
      ["let x", '"let" is not supported at 1:1'],
      ["a | b", '"|" is not supported at 1:3'],
      ["1 ?? 2 + 3", "cannot be mixed"],
    ] as const
  ) {
    const got = errorOf(TEST_NODE, expr);
    assertStringIncludes(got, message, expr);
    assert(got.startsWith("compound filter: "), got);
  }
  assertThrows(() => parse("with("), CompoundError);
});

test("compound: unknown functions are errors before any node is seen", () => {
  for (
    const [expr, message] of [
      ["nosuch('x')", "unknown function nosuch() at 1:1"],
      ["with('a') && later(1)", "unknown function later() at 1:14"],
      ["classes('x')", "unknown function classes() at 1:1"],
    ] as const
  ) {
    assertStringIncludes(errorOf(TEST_NODE, expr), message, expr);
    // Even when no node is there to evaluate it on.
    assertThrows(() => matches({ identity: "n" }, expr), DiscoveryError, message);
  }
});

test("compound: an expression failing on a node's data is logged and the node skipped", () => {
  // go-choria filter/compound/compound.go MatchExprString: a run error is logged
  // ("Could not match compound query") and counts as failed, so the node does not match.
  for (
    const [expr, message] of [
      ["fact('missing') > 1", "invalid operation: > (mismatched types nil and int) at 1:17"],
      ["fact('string') < 1", "mismatched types string and int"],
      ["'a' && true", "invalid operation: && on string, want bool at 1:5"],
      ["!1", "invalid operation: ! on int, want bool"],
      ["1 % 0 == 0", "integer divide by zero"],
      ["1.5 % 1 == 0", "mismatched types float64 and int"],
      ["fact('sarray')[9] == 1", "index out of range: 9 (array length is 3)"],
      ["fact('missing').x == 1", 'cannot fetch "x" from nil'],
      ["facts.string == 'hello world'", 'use fact("path")'],
      ["'x' matches '('", 'invalid regular expression "("'],
      ["with(1)", "with(): want a string argument, got int at 1:1"],
      ["with('a', 'b')", "too many arguments to call with (want 1)"],
      [
        "include(fact('string'), 'h')",
        "include(): want an array as the first argument, got string",
      ],
      ["semver('nope', '>1')", 'semver(): invalid semantic version "nope"'],
      ["semver('1.0.0', '>>1')", "semver(): improper constraint"],
      ["fact('string')", "the expression gave string, want bool"],
      ["1 + 1", "the expression gave int, want bool"],
      ["any(fact('string'), # == 'h')", "cannot iterate string in any()"],
      ["all(agents, 1)", "predicate of all() gave int, want bool"],
      ["1 ? true : false", "non-bool int used as condition"],
    ] as const
  ) {
    const line = failureOf(TEST_NODE, expr);
    assert(line.startsWith(`E could not match compound filter ${JSON.stringify(expr)}: `), line);
    assertStringIncludes(line, message, expr);
  }
  // Without a log nothing is written and the node still does not match.
  assertEquals(matches(TEST_NODE, "fact('missing') > 1"), false);
  // The same expression matches a node whose data suits it.
  const { log, lines } = capturingLog();
  assertEquals(
    matchesFilter({ identity: "n", facts: { missing: 2 } }, filterOf("fact('missing') > 1"), {
      log,
    }),
    true,
  );
  assertEquals(lines, []);
  // A failure fails the node whatever the other expressions say, and each is logged.
  const both = capturingLog();
  assertEquals(
    matchesFilter(TEST_NODE, filterOf("true", "fact('missing') > 1", "true", "1 + 1"), {
      log: both.log,
    }),
    false,
  );
  assertEquals(both.lines.length, 2);
  // Guarded, the expression is fine on every node.
  assertEquals(matches(TEST_NODE, "fact('missing') != nil && fact('missing') > 1"), false);
  assertEquals(matches(TEST_NODE, "(fact('missing') ?? 2) > 1"), true);
});

test("compound: a discovery over mixed nodes skips the one an expression fails on", async () => {
  const request = JSON.stringify({
    protocol: "io.choria.choria.discovery.v1.external_request",
    collective: "mcollective",
    filter: {
      fact: [],
      cf_class: [],
      agent: [],
      identity: [],
      compound: [[{ expr: "fact('cpus') >= 8" }]],
    },
    federations: null,
    options: {},
    timeout: 2,
  });
  const nodes: NodeInfo[] = [
    { identity: "big", facts: { cpus: 16 } },
    { identity: "nocpus", facts: {} },
    { identity: "small", facts: { cpus: 2 } },
  ];
  const { log, lines } = capturingLog();
  const reply = await respondDiscovery(
    (r, log) => nodes.filter((n) => matchesFilter(n, r.filter, { log })).map((n) => n.identity),
    request,
    log,
  );
  assertEquals(JSON.parse(reply), { protocol: DISCOVERY_REPLY, nodes: ["big"] });
  assertEquals(lines, [
    "E could not match compound filter \"fact('cpus') >= 8\": invalid operation: >= (mismatched types nil and int) at 1:14",
  ]);
});

test("compound: a malformed compound entry is an error, not a silent miss", () => {
  for (
    const compound of [[[]], [[{ expr: "true" }, { expr: "true" }]], [[{ exp: "true" }]], ["true"]]
  ) {
    const error = assertThrows(
      () => matchesFilter(TEST_NODE, { ...filterOf(), compound }),
      DiscoveryError,
    );
    assertStringIncludes(error.message, 'is not [{"expr": "..."}]');
  }
  // A broken expression is reported even for a node the other filters reject.
  assertThrows(
    () => matchesFilter(TEST_NODE, { ...filterOf("with("), identity: ["nosuch"] }),
    DiscoveryError,
    "unexpected end of expression",
  );
  // With several expressions the error names the one at fault.
  assertEquals(
    assertThrows(() => matches(TEST_NODE, "true", "nosuch()"), DiscoveryError).message,
    'compound filter "nosuch()": unknown function nosuch() at 1:1',
  );
});

test("compound: length, depth and step limits", () => {
  const long = `with('${"a".repeat(MAX_EXPRESSION_LENGTH)}')`;
  assertStringIncludes(errorOf(TEST_NODE, long), `over the limit of ${MAX_EXPRESSION_LENGTH}`);
  const deep = `${"(".repeat(MAX_DEPTH)}true${")".repeat(MAX_DEPTH)}`;
  assertStringIncludes(errorOf(TEST_NODE, deep), `nested deeper than ${MAX_DEPTH}`);
  const shallow = `${"(".repeat(10)}true${")".repeat(10)}`;
  assertEquals(matches(TEST_NODE, shallow), true);
  assertStringIncludes(errorOf(TEST_NODE, `${"!".repeat(MAX_DEPTH + 1)}true`), "nested deeper");
  assertStringIncludes(errorOf(TEST_NODE, `${"[".repeat(MAX_DEPTH)}`), "nested deeper");
  // The step limit is met while evaluating: that node fails, logged.
  assertStringIncludes(
    failureOf(TEST_NODE, "len(map(1..1000, map(1..1000, #))) > 0"),
    `more than ${MAX_STEPS} steps`,
  );
  assertStringIncludes(
    failureOf(TEST_NODE, "len(1..1000000000) > 0"),
    `more than ${MAX_STEPS} steps`,
  );
  // Long chains nest too, and are refused before evaluation could exhaust the stack.
  for (const chain of ["1" + "+1".repeat(2000) + " > 0", "x" + ".a".repeat(2000) + " == nil"]) {
    assertStringIncludes(errorOf(TEST_NODE, chain), `nested deeper than ${MAX_DEPTH}`);
  }
  // A long but flat expression is fine.
  const chain = Array.from({ length: 60 }, () => "with('apache')").join(" && ");
  assertEquals(matches(TEST_NODE, chain), true);
});

test("compound: semver constraints as Masterminds semver reads them", () => {
  for (
    const [version, constraint, want] of [
      ["1.2.3", "= 1.2.3", true],
      ["1.2.3", "1.2.3", true],
      ["1.2.3", "!= 1.2.3", false],
      ["1.2.3", "> 1.2", false], // >1.2 wants 1.3 or more
      ["1.3.0", "> 1.2", true],
      ["1.2.3", ">= 1.2, < 2", true],
      ["1.2.3", ">= 1.2 < 1.2.3", false],
      ["1.2.3", "1.2.x", true],
      ["1.3.0", "1.2.x", false],
      ["1.2.9", "~1.2.3", true],
      ["1.3.0", "~1.2.3", false],
      ["1.9.0", "^1.2.3", true],
      ["2.0.0", "^1.2.3", false],
      ["0.2.5", "^0.2.3", true],
      ["0.3.0", "^0.2.3", false],
      ["1.5.0", "1.2 - 1.6", true],
      ["1.7.0", "1.2 - 1.6", false],
      ["3.0.0", "< 2 || >= 3", true],
      ["1.2.3-beta", ">= 1.0", false], // pre-releases only for pre-release constraints
      ["1.2.3-beta.2", ">= 1.2.3-beta.1", true],
      ["v1.2.3", "= 1.2.3", true],
    ] as const
  ) {
    assertEquals(semverCheck(version, constraint), want, `${version} ${constraint}`);
  }
  for (const bad of ["", "foo", ">> 1", "1.2.3 ||"]) {
    assertThrows(() => semverCheck("1.0.0", bad), Error, undefined, bad);
  }
});

test("compound: a bad expression is the discovery protocol's error reply", async () => {
  const request = (expr: string) =>
    JSON.stringify({
      protocol: "io.choria.choria.discovery.v1.external_request",
      collective: "mcollective",
      filter: { fact: [], cf_class: [], agent: [], identity: [], compound: [[{ expr }]] },
      federations: null,
      options: {},
      $schema: "https://choria.io/schemas/choria/discovery/v1/external_request.json",
      timeout: 2,
    });
  const discover = (r: { filter: DiscoveryFilter }) =>
    [TEST_NODE].filter((n) => matchesFilter(n, r.filter)).map((n) => n.identity);
  assertEquals(JSON.parse(await respondDiscovery(discover, request("with('apache')"))), {
    protocol: DISCOVERY_REPLY,
    nodes: ["test.example.net"],
  });
  assertEquals(JSON.parse(await respondDiscovery(discover, request("with('apache' &&"))), {
    protocol: DISCOVERY_REPLY,
    error: "compound filter: unexpected end of expression at 1:17",
  });
});

test("compound: the nodes discovery program answers a real compound request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const list = `${dir}/nodes.json`;
    await Deno.writeTextFile(
      list,
      JSON.stringify([
        {
          identity: "web1.example.net",
          facts: { country: "mt", customer: "acme", environment: "staging" },
          classes: ["apache", "roles::web"],
          agents: ["rpcutil"],
        },
        {
          identity: "web2.example.net",
          facts: { country: "de", customer: "other", environment: "development" },
          classes: ["apache"],
          agents: ["rpcutil"],
        },
        {
          identity: "db1.example.net",
          facts: { country: "mt", customer: "acme", environment: "production" },
          classes: ["mysql"],
          agents: ["rpcutil", "prometheus"],
        },
      ]),
    );
    const run = (expr: string) =>
      runDiscoveryProgram(NODES, {
        filter: { compound: [[{ expr }]] },
        options: { nodes: list },
        tempDir: dir,
        // Not the 2 s default: the program (a deno script) can take longer to start under load.
        timeout: 20,
      });
    // choria-io/website docs/content/concepts/cli/_index.md, "Complex Compound or Select Queries".
    const docs = await run(
      '((with("customer=acme") && with("environment=staging") || with("environment=development")) && with("/apache/"))',
    );
    assertEquals(docs.nodes, ["web1.example.net", "web2.example.net"]);
    assertStringIncludes(docs.requestFile, '"compound":[[{"expr":"((with(\\"customer=acme\\")');
    // docs/content/concepts/discovery/_index.md, "Compound Filters".
    const either = await run(
      '(with("customer=acme") && with("environment=staging")) || with("/prometheus/")',
    );
    assertEquals(either.nodes, ["web1.example.net", "db1.example.net"]);
    // No node has the fact: nil > 1 fails before || is reached (db1 has the agent too), so
    // every node is skipped, each with an error line, as go-choria's servers would.
    const partial = await run('fact("prometheus.port") > 1 || with("/prometheus/")');
    assertEquals(partial.nodes, []);
    assertEquals(partial.logs.filter((l) => l.level === "error").length, 3);
    assertStringIncludes(partial.logs[0]!.line, "could not match compound filter");
    assertStringIncludes(partial.logs[0]!.line, "mismatched types nil and int");
    const broken = await run('with("apache") &&& true');
    assertEquals(broken.error, 'compound filter: unrecognized character "&" at 1:18');
    assertEquals(broken.nodes, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("compound: fuzzed expressions fail only with the clean error", () => {
  // A bounded mutation loop: seeds from the tables above, cut, spliced and
  // sprinkled with tokens; every input either evaluates or throws a
  // DiscoveryError (never a crash, a RangeError or a hang).
  const seeds = [
    "with('apache') and with('/testing/') and with('fnumber=1.2') and fact('nested.string') matches('h?llo') and include(fact('sarray'), '1') and include(fact('iarray'), 1)",
    "semver(fact('v'), '>= 1.2, < 2 || ^3')",
    "any(classes, {# startsWith 'role'}) && count(1..10, # % 2 == 0) == 5",
    "{a: [1, 2.5e3, 0x1f], 'b': nil}?.a[-1:] == [31] ? !true : fact('x.#.y') ?? `raw`",
    "'\\u00e9\\x41\\101' not in map(agents, upper(#)) || 1 < 2 < 3",
  ];
  const pieces = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "`",
    "\\",
    "#",
    ".",
    "?.",
    "??",
    "?",
    ":",
    ",",
    "!",
    "not",
    "in",
    "matches",
    "&&",
    "||",
    "**",
    "..",
    "-",
    "+",
    "/*",
    "//",
    "\n",
    "0x",
    "1e",
    "nil",
    "with(",
    "fact(",
    "semver(",
    "map(",
    "é",
    "\u0000",
    "\ud800",
    " ",
  ];
  let seed = 20_260_601;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const started = performance.now();
  let evaluated = 0, rejected = 0;
  for (let i = 0; i < 4000 && performance.now() - started < 5000; i++) {
    let text = seeds[random(seeds.length)]!;
    for (let m = random(4) + 1; m > 0; m--) {
      const at = random(text.length + 1);
      switch (random(4)) {
        case 0:
          text = text.slice(0, at) + pieces[random(pieces.length)] + text.slice(at);
          break;
        case 1:
          text = text.slice(0, at) + text.slice(at + random(8) + 1);
          break;
        case 2:
          text = text.slice(0, at) + String.fromCharCode(random(0x3000)) + text.slice(at + 1);
          break;
        default: {
          const other = seeds[random(seeds.length)]!;
          text = text.slice(0, at) + other.slice(random(other.length));
        }
      }
    }
    try {
      matches(TEST_NODE, text);
      evaluated++;
    } catch (error) {
      if (!(error instanceof DiscoveryError)) {
        throw new Error(`${JSON.stringify(text)} threw ${(error as Error).stack}`);
      }
      rejected++;
    }
  }
  assert(evaluated + rejected >= 500, `only ${evaluated + rejected} inputs in the time allowed`);
  assert(rejected > 0);
});
