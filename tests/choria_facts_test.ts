// Fact filters (`filter.fact`, and `with("fact=value")` in compound filters)
// match exactly as go-choria's filter/facts does. The expected results of the
// first tests are go-choria's own (filter/facts/facts_test.go, cited per
// test); the facts are written here.

import {
  AgentLog,
  type DiscoveryFilter,
  type FactFilter,
  matchesFilter,
  matchFact,
  type NodeInfo,
} from "../choria/mod.ts";
import { hasFact, parseFactFilter } from "../choria/facts.ts";
import { assertEquals, assertThrows } from "./_assert.ts";
import { test } from "./_helpers.ts";

/** Facts shaped like the ones go-choria's facts_test.go reads. */
const FACTS = {
  string: "hello world",
  inumber: 1,
  fnumber: 1.2,
  tbool: true,
  fbool: false,
  nested: { string: "nested hello world", inumber: 2, fnumber: 2.2 },
};

function t(fact: string, operator: string, value: string, facts: object = FACTS): boolean {
  return matchFact(facts as Record<string, unknown>, { fact, operator, value });
}

function table(rows: readonly (readonly [string, string, string, boolean])[], facts?: object) {
  for (const [fact, operator, value, want] of rows) {
    assertEquals(t(fact, operator, value, facts), want, `${fact} ${operator} ${value}`);
  }
}

/** What matching one fact filter logs (stderr lines prefixed "E "), and its result. */
function logged(facts: object, filter: FactFilter): { matched: boolean; lines: string[] } {
  const lines: string[] = [];
  const log = new AgentLog((l) => lines.push(l), (l) => lines.push(`E ${l}`));
  const node: NodeInfo = { identity: "n", facts: facts as Record<string, unknown> };
  const f: DiscoveryFilter = { fact: [filter], cf_class: [], identity: [], compound: [] };
  return { matched: matchesFilter(node, f, { log }), lines };
}

test("facts: strings compare ignoring case (go-choria facts_test.go)", () => {
  // "Should match strings"
  table([
    ["string", "==", "hello world", true],
    ["string", "==", "HeLlO WoRLD", true],
    ["string", "==", "helloworld", false],
    ["string", "!=", "hello world", false],
    ["string", "!=", "HeLlO WOrLd", false],
    ["string", "!=", "helloworld", true],
    ["string", "=~", "/hello/", true],
    ["string", "=~", "/HeLlO/", true],
    ["string", "=~", "/bye/", false],
    ["string", "<", "h", false],
    ["string", "<", "H", false],
    ["string", "<", "i", true],
    ["string", "<", "I", true],
    ["string", ">", "h", true],
    ["string", ">", "H", true],
    ["string", ">", "i", false],
    ["string", ">", "I", false],
    ["nested.string", "==", "nested hello world", true],
  ]);
});

test("facts: whole numbers compare as integers (go-choria facts_test.go)", () => {
  // "Should match ints"
  table([
    ["nested.inumber", "==", "2", true],
    ["inumber", "==", "2", false],
    ["inumber", "!=", "1", false],
    ["inumber", ">=", "1", true],
    ["inumber", ">", "1", false],
    ["inumber", "<", "10", true],
  ]);
});

test("facts: a value with a dot compares as a float (go-choria facts_test.go)", () => {
  // "Should match floats"
  table([
    ["nested.fnumber", "==", "2.2", true],
    ["fnumber", "==", "1.2", true],
    ["fnumber", "=~", "/1\\.\\d+/", true],
    ["fnumber", "!=", "1.2", false],
    ["fnumber", "<=", "1.01", false],
    ["fnumber", ">=", "1", true],
    ["fnumber", "<", "10", true],
    ["fnumber", "<", "1.0", false],
    ["fnumber", ">", "10", false],
    ["fnumber", ">", "1.0", true],
  ]);
});

test("facts: booleans take Go's ParseBool spellings (go-choria facts_test.go)", () => {
  // "Should match true booleans" and "Should match false booleans", the last
  // row of each showing go-choria's != on booleans.
  table([
    ["tbool", "==", "true", true],
    ["tbool", "==", "T", true],
    ["tbool", "==", "1", true],
    ["tbool", "==", "t", true],
    ["tbool", "==", "false", false],
    ["tbool", "!=", "bob", true],
    ["tbool", "!=", "false", true],
    ["tbool", "!=", "T", false],
    ["fbool", "==", "false", true],
    ["fbool", "==", "F", true],
    ["fbool", "==", "0", true],
    ["fbool", "==", "f", true],
    ["fbool", "==", "true", false],
    ["fbool", "!=", "bob", true],
    ["fbool", "!=", "true", false],
    ["fbool", "!=", "false", true],
  ]);
});

test("facts: every filter must hold (go-choria facts_test.go)", () => {
  // "Be true if all match" / "Be false if some do not match"
  const node: NodeInfo = { identity: "n", facts: FACTS };
  const filter = (value: string): DiscoveryFilter => ({
    fact: [
      { fact: "string", operator: "==", value: "hello world" },
      { fact: "nested.string", operator: "==", value },
    ],
    cf_class: [],
    identity: [],
    compound: [],
  });
  assertEquals(matchesFilter(node, filter("nested hello world")), true);
  assertEquals(matchesFilter(node, filter("fail")), false);
});

test("facts: numbers as go-choria reads them: integer text, float, %.4f for regexes", () => {
  const facts = {
    cpus: 8,
    load: 8.9,
    negative: -0.5,
    big: 2 ** 60,
    tie: 1.03125, // exactly halfway at the 4th decimal
    less: -1.03125,
  };
  table([
    ["cpus", "==", "8", true],
    ["cpus", "==", "08", false], // the fact's integer text, not a number
    ["cpus", "==", "+8", false],
    ["cpus", ">=", "+8", true], // Atoi reads the sign
    ["cpus", "==", "8.0", true], // a dot: float comparison
    ["load", "==", "8", true], // the integer part: 8.9 is "8"
    ["load", ">", "8", false],
    ["load", ">", "8.9", true], // go-choria's > with a float is >=
    ["load", ">=", "8.95", false],
    ["negative", "==", "0", true], // truncated toward zero
    ["big", "==", "1152921504606846976", true],
    ["big", ">", "1152921504606846975", true],
    ["cpus", "=~", "/^8$/", true], // no dot in the pattern: the integer text
    ["load", "=~", "/^8\\.9000$/", true], // a dot: %.4f
    ["tie", "=~", "/^1\\.0312$/", true], // half to even, as Go's fmt
    ["less", "=~", "/^-1\\.0312$/", true],
    ["cpus", "==", "1_0.5", false], // Go's float syntax: _ between digits
    ["cpus", "<", "1_0.5", true],
    ["cpus", "==", "0x1.0p3", true], // hexadecimal floats
    ["cpus", ">=", ".5", true],
    ["cpus", "<=", "8.", true],
  ], facts);
});

test("facts: case is folded as Go folds it", () => {
  const facts = { city: "Straße", greek: "ΟΔΟΣ", kelvin: "\u212a", zebra: "Zebra", dotless: "ı" };
  table([
    ["city", "==", "STRASSE", false], // simple folding: ß is not "ss"
    ["city", "==", "STRAẞE", true],
    ["greek", "==", "οδος", true],
    ["greek", "==", "οδoς", false], // a Latin o
    ["kelvin", "==", "k", true], // the Kelvin sign folds to k
    ["dotless", "==", "i", false], // dotless ı folds with nothing
    ["zebra", ">", "apple", true], // lower-cased before comparing
    ["zebra", "<", "ZEBRAS", true],
    ["city", "=~", "/^strasse$/", false],
    ["city", "=~", "straSSE|STRAẞE", true],
    ["city", "=~", "(?s)^STRA", true], // the pattern's own flags join (?i)
  ], facts);
});

test("facts: booleans, null and structured facts", () => {
  const facts = { on: true, off: false, none: null, list: [1, 2], map: { a: 1 } };
  table([
    ["on", "==", "TRUE", true],
    ["on", "==", "tRuE", false], // == reads the value as written
    ["on", "=~", "tRuE", true], // =~ and != lower-case it first
    ["off", "==", "banana", true], // anything ParseBool does not read as true is false
    ["off", "=~", "no", true],
    ["on", "!=", "TRUE", false],
    ["none", "==", "null", false],
    ["none", "!=", "null", false],
    ["none", "=~", "/.*/", false],
    ["list", "==", "[1,2]", false],
    ["list", "!=", "x", false],
    ["map", "=~", "/a/", false],
    ["missing", "==", "x", false],
    ["missing", "!=", "x", false],
  ], facts);
});

test("facts: fact names are GJSON paths", () => {
  const facts = {
    "a.b": 1,
    disks: [{ name: "sda", size: 64 }, { name: "sdb", size: 128 }],
    os: { family: "Debian" },
  };
  table([
    ["os.family", "==", "debian", true],
    ["disks.1.size", "==", "128", true],
    ["disks.#", "==", "2", true],
    ["a\\.b", "==", "1", true],
    ["a.b", "==", "1", false], // a path: "a" then "b"
    ["o?.fam*", "==", "Debian", true],
  ], facts);
});

test("facts: a filter that cannot be evaluated does not match, with go-choria's warning", () => {
  // go-choria filter/facts/facts.go MatchFacts: HasFactJSON's error is logged
  // ("Failed to match fact") and the node does not match.
  const facts = { cpus: 8, on: true, none: null, list: [1], name: "web" };
  for (
    const [filter, message] of [
      [["cpus", ">=", "four"], 'strconv.Atoi: parsing "four": invalid syntax'],
      [["cpus", ">=", "99999999999999999999"], "value out of range"],
      [["cpus", "==", "1.2.3"], 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'],
      [["cpus", "<", "1._5"], "invalid syntax"],
      [["cpus", "<", "1.0e400"], "value out of range"],
      [["on", "<", "1"], "do not know how to evaluate data of type True"],
      [["none", ">=", "1"], "do not know how to evaluate data of type Null"],
      [["list", "<=", "1"], "do not know how to evaluate data of type JSON"],
      [["name", "=~", "/(/"], "error parsing regexp"],
      [["name", "~=", "web"], "unknown fact matching operator ~= while looking for fact name"],
      [['disks.#(name=="sda").size', "==", "64"], "not supported"],
    ] as const
  ) {
    const [fact, operator, value] = filter;
    assertThrows(() => hasFact(facts, { fact, operator, value }), Error, message);
    assertEquals(matchFact(facts, { fact, operator, value }), false);
    const { matched, lines } = logged(facts, { fact, operator, value });
    assertEquals(matched, false);
    assertEquals(lines.length, 1, lines.join(" | "));
    assertEquals(
      lines[0]!.startsWith(`E warning: failed to match fact filter ${JSON.stringify(filter)}: `),
      true,
      lines[0],
    );
    assertEquals(lines[0]!.includes(message), true, lines[0]);
  }
  // A missing fact is no error.
  assertEquals(logged(facts, { fact: "nosuch", operator: "<", value: "x" }), {
    matched: false,
    lines: [],
  });
});

test("facts: with() in a compound filter matches and warns as a fact filter does", () => {
  const lines: string[] = [];
  const log = new AgentLog((l) => lines.push(l), (l) => lines.push(`E ${l}`));
  const node: NodeInfo = { identity: "n", facts: { cpus: 8, country: "MT" } };
  const run = (expr: string) =>
    matchesFilter(node, { fact: [], cf_class: [], identity: [], compound: [[{ expr }]] }, { log });
  assertEquals(run("with('country=mt') && with('cpus>=8.0')"), true);
  assertEquals(run("with('cpus>=four') || with('country=~^m')"), true);
  assertEquals(lines, [
    'E warning: failed to match fact filter ["cpus",">=","four"]: strconv.Atoi: parsing "four": invalid syntax',
  ]);
});

test("facts: fact filter text parses as go-choria's ParseFactFilterString", () => {
  // go-choria filter/filter_test.go "ParseFactFilterString" rows are in
  // choria_compound_test.ts; these are Go's TrimSpace around the operands.
  assertEquals(parseFactFilter("os.family\u00a0=\u0085Debian"), {
    fact: "os.family",
    operator: "==",
    value: "Debian",
  });
  assertEquals(parseFactFilter("a=\ufeffb")?.value, "\ufeffb"); // not a space to Go
  assertEquals(parseFactFilter("x =~ /"), { fact: "x", operator: "=~", value: "/" });
});

test("discovery: class, agent and identity filters as go-choria's filter packages", () => {
  const node: NodeInfo = {
    identity: "tests.example.net",
    classes: ["role::testing", "apache"],
    agents: ["rpcutil", "package", "choria_util"],
  };
  const match = (filter: Partial<DiscoveryFilter>) =>
    matchesFilter(node, { fact: [], cf_class: [], identity: [], compound: [], ...filter });
  // go-choria filter/classes/classes_test.go: regexes ignore case, names are lower-cased.
  for (
    const [cf_class, want] of [
      [["/test/"], true],
      [["/TeSt/"], true],
      [["/nonxisting/"], false],
      [["role::testing"], true],
      [["RoLe::TeStInG"], true],
      [["NoNxIsTInG"], false],
    ] as const
  ) {
    assertEquals(match({ cf_class: [...cf_class] }), want, cf_class[0]);
  }
  // go-choria filter/agents/agents_test.go: every needle must match.
  for (
    const [agent, want] of [
      [["/rpc/", "/choria/"], true],
      [["/foo/"], false],
      [["rpcutil", "choria_util"], true],
      [["foo", "choria_util"], false],
      [["/RPC/"], false],
    ] as const
  ) {
    assertEquals(match({ agent: [...agent] }), want, agent.join());
  }
  // go-choria filter/identity/identity_test.go: any identity may match.
  for (
    const [identity, want] of [
      [["foo", "bar", "/example/"], true],
      [["foo", "bar", "/baz/"], false],
      [["foo", "bar", "tests.example.net"], true],
      [["foo", "bar", "test"], false],
      [["/(/"], false],
    ] as const
  ) {
    assertEquals(match({ identity: [...identity] }), want, identity.join());
  }
});
