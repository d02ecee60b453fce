// amqp cases: a nuropb mesh request (our service, our caller) against the
// bare AMQP client's own RPC round trip (a consumer that answers to reply_to
// on the default exchange; the caller correlates by correlation id), and
// against the same bare RPC made to carry what the mesh's wire carries
// (nuropb's headers and expiration, mandatory through a direct exchange,
// publisher confirms, a durable dead-lettering queue), all on the same broker
// in the same run, TCP no-delay everywhere; BENCH_ROUNDS interleaved rounds
// (default 3), medians and ranges printed. Between them, the wire's cost
// split: the bare RPC with ONE of those features added at a time, each line
// its rate against the bare RPC of the same round and the microseconds per
// call it adds (whether a Python nuropb peer could tell it is on the line).
// For 1 and 100 in flight, a summary line ("amqp summary, N in flight") puts
// the ceiling the wire sets (the same-wire bare RPC against the bare one) next
// to the mesh's ratio to the bare RPC and to the same-wire one, with a
// sentence to quote.
// Then scale-out (_amqp_scale.ts): 1, 2 and 4 instances of a 1 ms service,
// and events to 1, 10 and 100 subscribers. The broker is $AMQP_URL or a
// private node (Debian's rabbitmq-server); without either the group reports
// that it was skipped.

import process from "node:process";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { silentLogger } from "../mod.ts";
import { connectMesh } from "../transports/amqp.ts";
import { startBroker } from "../tests/_rabbitmq.ts";
import { type BenchResult, measure } from "./_measure.ts";
import { competingConsumers, fanOut } from "./_amqp_scale.ts";

/**
 * What the bare RPC does of what the nuropb wire and the mesh's delivery
 * guarantees need (all off: the client's plain RPC example).
 */
export interface BareWire {
  /** nuropb's properties: its five headers, content type, and on requests an expiration. */
  headers?: boolean;
  /** Requests through a direct exchange (nuropb's rpc exchange) instead of the default one. */
  exchange?: boolean;
  /** Requests published mandatory (a return when no queue takes them). */
  mandatory?: boolean;
  /** Publisher confirms on the caller's channel (the mesh awaits them: a nack fails the call). */
  confirm?: boolean;
  /** A durable queue dead-lettering to an exchange, as nuropb declares service queues. */
  durable?: boolean;
}

/** Every feature of the mesh's wire, on. */
export const MESH_WIRE: Readonly<Required<BareWire>> = {
  headers: true,
  exchange: true,
  mandatory: true,
  confirm: true,
  durable: true,
};

/** One feature at a time: what it is, and whether a Python nuropb peer could tell. */
export const WIRE_FEATURES: ReadonlyArray<{
  feature: keyof BareWire;
  what: string;
  visible_to_python_peer: boolean;
}> = [
  {
    feature: "headers",
    what: "nuropb's message properties (5 headers, content type, expiration on requests)",
    visible_to_python_peer: true,
  },
  {
    feature: "exchange",
    what: "requests through a direct exchange, not the default one",
    visible_to_python_peer: true,
  },
  {
    feature: "mandatory",
    what: "requests published mandatory (the publisher's frame flag)",
    visible_to_python_peer: false,
  },
  {
    feature: "confirm",
    what: "publisher confirms on the caller's channel (the publisher's channel mode)",
    visible_to_python_peer: false,
  },
  {
    feature: "durable",
    what: "a durable service queue dead-lettering to an exchange (queue arguments)",
    visible_to_python_peer: true,
  },
];

const HEADERS = (type: string) => ({
  nuropb_protocol: "0.1.1",
  nuropb_version: "0.1.8",
  nuropb_type: type,
  trace_id: null,
  encrypted: "",
});

/** The bare client's RPC: one queue served, replies to an exclusive queue. */
export async function bareRpc(url: string, wire: BareWire = {}) {
  const name = `bare-rpc-${Object.keys(wire).filter((k) => wire[k as keyof BareWire]).join("-")}`;
  const server = await new AMQPClient(url, undefined, null).connect();
  (server as AMQPClient).socket?.setNoDelay(true);
  const serverChannel = await server.channel();
  if (wire.durable) {
    await serverChannel.exchangeDeclare("bare-dl", "fanout", { durable: true });
    await serverChannel.queueDeclare(name, { durable: true, autoDelete: false }, {
      "x-dead-letter-exchange": "bare-dl",
    });
  } else {
    await serverChannel.queueDeclare(name, { durable: false, autoDelete: true });
  }
  const exchange = wire.exchange ? "bare-rpc-exchange" : "";
  if (wire.exchange) {
    await serverChannel.exchangeDeclare(exchange, "direct", { durable: true });
    await serverChannel.queueBind(name, exchange, name);
  }
  await serverChannel.basicQos(16);
  const replyHeaders = wire.headers ? HEADERS("response") : undefined;
  await serverChannel.basicConsume(name, { noAck: false }, async (message) => {
    const { a, b } = JSON.parse(new TextDecoder().decode(message.body!));
    await serverChannel.basicPublish("", message.properties.replyTo!, JSON.stringify(a + b), {
      correlationId: message.properties.correlationId,
      ...(replyHeaders && { headers: replyHeaders, contentType: "application/json", replyTo: "" }),
    });
    await message.ack();
  });
  const client = await new AMQPClient(url, undefined, null).connect();
  (client as AMQPClient).socket?.setNoDelay(true);
  const channel = await client.channel();
  if (wire.confirm) await channel.confirmSelect();
  const { name: replyQueue } = await channel.queueDeclare("", { exclusive: true });
  const pending = new Map<string, (value: unknown) => void>();
  await channel.basicConsume(replyQueue, { noAck: true }, (message) => {
    const resolve = pending.get(message.properties.correlationId!);
    pending.delete(message.properties.correlationId!);
    resolve?.(JSON.parse(new TextDecoder().decode(message.body!)));
  });
  const requestHeaders = wire.headers ? HEADERS("request") : undefined;
  let next = 0;
  return {
    call(params: { a: number; b: number }): Promise<unknown> {
      const id = String(++next);
      const answered = new Promise((resolve) => pending.set(id, resolve));
      channel.basicPublish(exchange, name, JSON.stringify(params), {
        correlationId: id,
        replyTo: replyQueue,
        ...(requestHeaders &&
          { headers: requestHeaders, contentType: "application/json", expiration: "30000" }),
      }, wire.mandatory).catch(() => {});
      return answered;
    },
    async close() {
      if (wire.durable) await serverChannel.queueDelete(name);
      await client.close();
      await server.close();
    },
  };
}

/** The median of `values` and their range. */
function spread(values: number[]): { median: number; range: [number, number] } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, range: [sorted[0]!, sorted.at(-1)!] };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** The per-call time of `rate` calls/s, µs. */
const usPerCall = (rate: number) => 1e6 / rate;

/** A process's CPU time so far (user + system), ms, read by `cat` (Deno reads no /proc without -A). */
async function cpuMsOf(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
  const stat = new TextDecoder().decode(stdout);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
}

/** `measure`, with this process's and the broker's CPU time per call (warm-up included), µs. */
async function metered(
  name: string,
  call: () => Promise<unknown>,
  inFlight: number,
  brokerPid: number | undefined,
): Promise<BenchResult> {
  const broker0 = brokerPid === undefined ? NaN : await cpuMsOf(brokerPid).catch(() => NaN);
  const cpu0 = process.cpuUsage();
  const result = await measure(name, call, { inFlight });
  const cpu = process.cpuUsage(cpu0);
  const broker = brokerPid === undefined ? NaN : await cpuMsOf(brokerPid).catch(() => NaN);
  const calls = result.calls + (result.warmup_calls as number);
  result.deno_us = (cpu.user + cpu.system) / calls;
  result.broker_us = (broker - broker0) * 1000 / calls;
  return result;
}

export async function amqpCases(): Promise<Record<string, unknown>[]> {
  const broker = await startBroker();
  if (typeof broker === "string") return [{ bench: "amqp", skipped: broker }];
  const url = broker.url("/");
  const results: Record<string, unknown>[] = [];
  const params = { a: 1, b: 2 };
  const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
  try {
    const bare = await bareRpc(url);
    const sameWire = await bareRpc(url, MESH_WIRE);
    const singles: Array<Awaited<ReturnType<typeof bareRpc>>> = [];
    for (const { feature } of WIRE_FEATURES) singles.push(await bareRpc(url, { [feature]: true }));
    const server = await connectMesh(url, { logger: silentLogger });
    await server.serve("bench", { add: ({ a, b }) => a + b }, { prefetch: 16 });
    const client = await connectMesh(url, { logger: silentLogger, timeout: 30_000 });
    const brokerPid = broker.private
      ? Number((await broker.ctl("eval", "os:getpid().")).replace(/[^0-9]/g, ""))
      : undefined;
    // The first three are the headline lines; the rest, one feature each, the decomposition.
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["amqp bare client RPC", () => bare.call(params)],
      [
        "amqp bare client RPC, the mesh's wire (nuropb headers, mandatory to a direct exchange, publisher confirms, durable dead-lettering queue)",
        () => sameWire.call(params),
      ],
      ["amqp nuropb mesh request", () => client.request("bench", "add", params)],
      ...WIRE_FEATURES.map(({ feature }, i): [string, () => Promise<unknown>] => [
        `amqp bare client RPC + ${feature} only`,
        () => singles[i]!.call(params),
      ]),
    ];
    for (const inFlight of [1, 100]) {
      // Interleaved rounds, the order turned each round: the noise of a busy
      // machine lands on every case alike; ratios are taken within a round.
      const runs: BenchResult[][] = cases.map(() => []);
      for (let round = 0; round < rounds; round++) {
        const order = cases.map((_, i) => i);
        if (round % 2 === 1) order.reverse();
        for (const i of order) {
          const [name, call] = cases[i]!;
          runs[i]!.push(await metered(`${name}, ${inFlight} in flight`, call, inFlight, brokerPid));
        }
      }
      /** Per round, `list`'s rate over case `base`'s. */
      const ratios = (list: BenchResult[], base: number) =>
        spread(list.map((r, k) => round2(r.calls_per_s / runs[base]![k]!.calls_per_s)));
      /** The median CPU µs per call `list` adds to case `base`'s, of `what`. */
      const addedCpu = (list: BenchResult[], base: number, what: "deno_us" | "broker_us") =>
        spread(
          list.map((r, k) => Math.round((r[what] as number) - (runs[base]![k]![what] as number))),
        ).median;
      /** Per round, the µs per call `list` adds to case `base`. */
      const addedUs = (list: BenchResult[], base: number) =>
        spread(
          list.map((r, k) =>
            Math.round(usPerCall(r.calls_per_s) - usPerCall(runs[base]![k]!.calls_per_s))
          ),
        );
      runs.slice(0, 3).forEach((list, i) => {
        const rate = spread(list.map((r) => r.calls_per_s));
        const median = list.find((r) => r.calls_per_s === rate.median)!;
        const line: Record<string, unknown> = {
          bench: median.bench,
          calls_per_s: rate.median,
          calls_per_s_range: rate.range,
          p50_us: median.p50_us,
          p99_us: median.p99_us,
          deno_cpu_us_per_call: Math.round(spread(list.map((r) => r.deno_us as number)).median),
          broker_cpu_us_per_call: Math.round(spread(list.map((r) => r.broker_us as number)).median),
          rounds,
        };
        if (i > 0) {
          const ratio = ratios(list, 0);
          line.ratio_to_bare = ratio.median;
          line.ratio_to_bare_range = ratio.range;
        }
        if (i > 1) {
          const ratio = ratios(list, 1);
          line.ratio_to_bare_same_wire = ratio.median;
          line.ratio_to_bare_same_wire_range = ratio.range;
          // The ceiling the wire sets: the same-wire bare RPC's ratio to the bare RPC.
          const ceiling = ratios(runs[1]!, 0);
          line.wire_ceiling_ratio_to_bare = ceiling.median;
          line.wire_ceiling_ratio_to_bare_range = ceiling.range;
        }
        results.push(line);
      });
      // The decomposition: each feature alone on the bare RPC, and all of them (the mesh's wire).
      const split = [...WIRE_FEATURES.map((f, i) => ({ ...f, list: runs[3 + i]! })), {
        feature: "all (the mesh's wire)",
        what: "every feature above at once",
        visible_to_python_peer: true,
        list: runs[1]!,
      }, {
        feature: "the mesh itself (our code, same wire)",
        what: "nuropb mesh request against the bare RPC on the mesh's wire",
        visible_to_python_peer: false,
        list: runs[2]!,
      }];
      for (const { feature, what, visible_to_python_peer, list } of split) {
        const base = list === runs[2] ? 1 : 0;
        const ratio = ratios(list, base);
        const added = addedUs(list, base);
        results.push({
          bench: `amqp wire cost split, ${inFlight} in flight: ${feature}`,
          what,
          visible_to_python_peer,
          calls_per_s: spread(list.map((r) => r.calls_per_s)).median,
          [base === 0 ? "ratio_to_bare" : "ratio_to_bare_same_wire"]: ratio.median,
          ratio_range: ratio.range,
          added_us_per_call: added.median,
          added_us_per_call_range: added.range,
          added_deno_cpu_us_per_call: addedCpu(list, base, "deno_us"),
          added_broker_cpu_us_per_call: addedCpu(list, base, "broker_us"),
          rounds,
        });
      }
      // One line to quote: the ceiling the wire sets (the bare RPC on the
      // mesh's wire, against the bare RPC) next to the mesh against both.
      const ceiling = ratios(runs[1]!, 0);
      const meshToBare = ratios(runs[2]!, 0);
      const meshToWire = ratios(runs[2]!, 1);
      results.push({
        bench: `amqp summary, ${inFlight} in flight`,
        wire_ceiling_ratio_to_bare: ceiling.median,
        wire_ceiling_ratio_to_bare_range: ceiling.range,
        mesh_ratio_to_bare: meshToBare.median,
        mesh_ratio_to_bare_range: meshToBare.range,
        mesh_ratio_to_bare_same_wire: meshToWire.median,
        mesh_ratio_to_bare_same_wire_range: meshToWire.range,
        claim: `the mesh's wire alone reaches ${ceiling.median} of the bare client's RPC ` +
          `(the bare client itself on the mesh's wire); the mesh reaches ${meshToBare.median} of the bare ` +
          `client's RPC, ${meshToWire.median} of the bare client on the same wire ` +
          `(medians over ${rounds} interleaved rounds, ${inFlight} in flight)`,
        rounds,
      });
    }
    results.push({
      bench: "amqp wire cost split: persistent delivery mode",
      measured: false,
      why:
        "nuropb requests and responses carry no delivery_mode (only our commands and events are persistent): not on the request path",
    });
    await client.close();
    await server.close();
    await sameWire.close();
    for (const rpc of singles) await rpc.close();
    await bare.close();
    results.push(...await competingConsumers(url));
    // The broker's CPU time (every Erlang thread), ms; rabbitmqctl, so a private node only.
    const brokerCpuMs = broker.private
      ? async () => Number(await broker.ctl("eval", "element(1, erlang:statistics(runtime))."))
      : undefined;
    results.push(...await fanOut(url, brokerCpuMs));
  } finally {
    await broker.stop();
  }
  return results;
}
