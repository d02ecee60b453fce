// The validators compiled at build time are current, and agree with ajv
// compiling the same schemas at run time.

import { choriaSchema } from "../choria/mod.ts";
import { SchemaCompiler } from "../contract.ts";
import { generateValidators, OUTPUT, SCHEMAS } from "../scripts/generate_choria_validators.ts";
import { assertEquals } from "./_assert.ts";
import { test } from "./_helpers.ts";

const fixture = async (name: string) =>
  JSON.parse(await Deno.readTextFile(new URL(`./fixtures/choria/${name}`, import.meta.url)));

test("choria/_validators.generated.ts is what the generator writes (run `deno task generate`)", async () => {
  assertEquals(await Deno.readTextFile(OUTPUT), generateValidators());
});

test("choriaSchema() agrees with ajv compiling the schemas at run time", async () => {
  const compiler = new SchemaCompiler({ strict: false });
  const titles: Record<string, string> = {
    rpcRequest: "io.choria.mcorpc.external.v1.rpc_request",
    activationRequest: "io.choria.mcorpc.external.v1.activation_request",
    discoveryRequest: "io.choria.choria.discovery.v1.external_request",
    agentDdl: "mcorpc.ddl.v1.agent",
  };
  const pkg = await fixture("package.json");
  const samples: Record<string, unknown[]> = {
    rpcRequest: [
      await fixture("go-external.rpc_request.ping.json"),
      await fixture("py-mco-agent.parrot.echo.request.json"),
      await fixture("constructed-go-choria.rpc_request.wire.json"),
      { ...(await fixture("go-external.rpc_request.ping.json")), ttl: "60" },
      { ...(await fixture("go-external.rpc_request.ping.json")), agent: "Hello" },
      {},
    ],
    activationRequest: [
      await fixture("go-external.activation_request.json"),
      await fixture("constructed-go-choria.activation_request.wire.json"),
      { protocol: "io.choria.mcorpc.external.v1.activation_request", agent: "x" },
    ],
    discoveryRequest: [
      await fixture("constructed-go-choria.discovery_request.wire.json"),
      { ...(await fixture("constructed-go-choria.discovery_request.wire.json")), timeout: 0 },
    ],
    agentDdl: [await fixture("echo.json"), await fixture("parrot.json"), pkg, { metadata: {} }],
  };
  for (const [name, values] of Object.entries(samples)) {
    const atRunTime = compiler.compile(SCHEMAS[name]!);
    for (const value of values) {
      assertEquals(
        choriaSchema(titles[name]!)(value),
        atRunTime(value),
        `${name} ${JSON.stringify(value).slice(0, 60)}`,
      );
    }
  }
  // The real compound filter shape validates (the published schema says strings).
  assertEquals(choriaSchema(titles.discoveryRequest!)(samples.discoveryRequest![0]), undefined);
});
