// JSON Schema's common `format`s (date-time, email, uuid, uri, date...) work
// out of the box in contracts, checked at the boundary like any keyword.

import { RemoteError } from "../mod.ts";
import { defineContract, SchemaCompiler } from "../contract.ts";
import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { peerPair, test } from "./_helpers.ts";

test("contract formats: date-time, email, uuid, uri and date are known to defineContract", async () => {
  const Bookings = defineContract({
    incoming: {
      book: {
        params: {
          type: "object",
          properties: {
            at: { type: "string", format: "date-time" },
            email: { type: "string", format: "email" },
            id: { type: "string", format: "uuid" },
            site: { type: "string", format: "uri" },
            day: { type: "string", format: "date" },
          },
          required: ["at", "email", "id", "site", "day"],
          additionalProperties: false,
        },
        result: { type: "string", format: "uuid" },
      },
    },
  });
  const { server, client, close } = peerPair();
  Bookings.implement(server, { book: ({ id }) => id });
  const bookings = Bookings.invert().remote(client);
  const good = {
    at: "2024-02-29T12:30:00Z",
    email: "ada@example.com",
    id: "123e4567-e89b-12d3-a456-426614174000",
    site: "https://example.com/a?b=c",
    day: "2024-02-29",
  };
  try {
    assertEquals(await bookings.book(good), good.id);
    const bad: [keyof typeof good, string][] = [
      ["at", "yesterday"],
      ["at", "2024-02-30T12:30:00Z"],
      ["email", "ada at example.com"],
      ["id", "123e4567"],
      ["site", "not a uri"],
      ["day", "2023-02-29"],
    ];
    for (const [field, value] of bad) {
      // Sent raw, past the client-side check, so the server's check answers.
      const error = await assertRejects(
        () => client.call("book", { ...good, [field]: value }),
        RemoteError,
      );
      assertEquals(error.code, -32602, `${field}: ${value}`);
      assertEquals(
        error.message,
        `Invalid params: /${field} must match format "${
          ({ at: "date-time", email: "email", id: "uuid", site: "uri", day: "date" })[field]
        }"`,
      );
    }
  } finally {
    await close();
  }
});

test("contract formats: SchemaCompiler knows the common formats; an unknown one still fails", () => {
  const compiler = new SchemaCompiler();
  const cases: [string, string, string][] = [
    ["date-time", "2024-01-01T00:00:00+01:00", "2024-01-01"],
    ["date", "2024-01-01", "01/01/2024"],
    ["time", "12:30:00Z", "25:00:00Z"],
    ["duration", "P1DT2H", "1 day"],
    ["email", "a.b@example.org", "a@"],
    ["hostname", "example.org", "-bad-.org"],
    ["ipv4", "127.0.0.1", "256.0.0.1"],
    ["ipv6", "::1", "1:::2"],
    ["uri", "urn:isbn:0451450523", "/relative/only"],
    ["uri-reference", "/relative/only", "\\\\bad"],
    ["uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b"],
    ["json-pointer", "/a/b~1c", "a/b"],
  ];
  for (const [format, good, bad] of cases) {
    const validate = compiler.compile({ type: "string", format });
    assertEquals(validate(good), undefined, `${format}: ${good}`);
    assertEquals(validate(bad)?.[0]?.keyword, "format", `${format}: ${bad}`);
  }
  assertThrows(
    () => compiler.compile({ type: "string", format: "no-such-format" }),
    TypeError,
    'unknown format "no-such-format"',
  );
});

test("contract formats: a format of the contract's own replaces a built-in one", () => {
  const compiler = new SchemaCompiler({ formats: { email: /@example\.com$/ } });
  const validate = compiler.compile({ type: "string", format: "email" });
  assertEquals(validate("ada@example.com"), undefined);
  assertEquals(validate("ada@example.org")?.[0]?.keyword, "format");
});

/** The modules `deno info` lists for `entrypoint`, with their kinds. */
async function moduleGraph(entrypoint: string): Promise<{ specifier: string; kind?: string }[]> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entrypoint, import.meta.url).pathname],
    stdin: "null",
    stderr: "null",
  }).output();
  assertEquals(code, 0);
  return JSON.parse(new TextDecoder().decode(stdout)).modules;
}

test("contract formats: the core entrypoint still loads no npm package", async () => {
  const isNpm = (m: { specifier: string; kind?: string }) =>
    m.kind === "npm" || m.specifier.startsWith("npm:");
  assertEquals((await moduleGraph("../mod.ts")).filter(isNpm), []);
  // The check can fail: the contract entrypoint's graph does show npm modules.
  assertEquals((await moduleGraph("../contract.ts")).some(isNpm), true);
});
