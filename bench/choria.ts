// Choria External: time from spawn to reply for the parrot example, against
// an empty `deno run` script in the same run (interleaved); the difference is
// the library's own start-up cost.

import { RPC_REQUEST } from "../choria/mod.ts";

const PARROT = new URL("../examples/choria/agent/parrot", import.meta.url).pathname;
const EMPTY = new URL("./_empty.ts", import.meta.url).pathname;
const RUNS = Number(Deno.env.get("BENCH_CHORIA_RUNS") ?? 15);

async function timed(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const started = performance.now();
  const { code } = await new Deno.Command(command, {
    args,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  })
    .output();
  const took = performance.now() - started;
  if (code !== 0) throw new Error(`${command} exited ${code}`);
  return took;
}

function summary(name: string, samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  return {
    bench: name,
    runs: samples.length,
    median_ms: Math.round(at(0.5) * 10) / 10,
    p90_ms: Math.round(at(0.9) * 10) / 10,
  };
}

export async function choriaCases(): Promise<Record<string, unknown>[]> {
  const dir = await Deno.makeTempDir({ prefix: "choria-bench-" });
  try {
    const request = `${dir}/request`;
    const reply = `${dir}/reply`;
    await Deno.writeTextFile(
      request,
      JSON.stringify({
        $schema: "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json",
        protocol: RPC_REQUEST,
        agent: "parrot",
        action: "echo",
        requestid: "bench",
        senderid: "bench",
        callerid: "choria=bench.mcollective",
        collective: "mcollective",
        ttl: 60,
        msgtime: 0,
        data: { message: "hello" },
      }),
    );
    const path = Deno.env.get("PATH") ?? "";
    const env = {
      CHORIA_EXTERNAL_REQUEST: request,
      CHORIA_EXTERNAL_REPLY: reply,
      CHORIA_EXTERNAL_PROTOCOL: RPC_REQUEST,
      CHORIA_EXTERNAL_CONFIG: `${dir}/plugin.d/parrot`,
      CHORIA_EXTERNAL_FACTS: `${dir}/facts`,
      PATH: path,
    };
    await Deno.writeTextFile(`${dir}/facts`, "{}");
    // Warm the module cache once each, as a node that has run them before.
    await timed(PARROT, [request, reply, RPC_REQUEST], env);
    await timed(Deno.execPath(), ["run", EMPTY], { PATH: path });
    const parrot: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await Deno.writeTextFile(reply, "");
      parrot.push(await timed(PARROT, [request, reply, RPC_REQUEST], env));
      const answer = JSON.parse(await Deno.readTextFile(reply));
      if (answer.statuscode !== 0) throw new Error(`parrot answered ${JSON.stringify(answer)}`);
      empty.push(await timed(Deno.execPath(), ["run", EMPTY], { PATH: path }));
    }
    const ours = summary("choria spawn to reply, parrot echo", parrot);
    const base = summary("choria spawn to exit, empty deno run script", empty);
    return [
      ours,
      base,
      {
        bench: "choria library start-up cost",
        above_empty_ms: Math.round((ours.median_ms - base.median_ms) * 10) / 10,
        ratio_to_empty: Math.round((ours.median_ms / base.median_ms) * 100) / 100,
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
