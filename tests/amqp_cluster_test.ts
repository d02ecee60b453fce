// The mesh on a private 3-node RabbitMQ cluster: connectMesh takes the
// nodes' URLs and fails over; a service's queue is a quorum queue. Under
// paced load from several callers to two instances of a service, the node
// both instances (and one of the callers) are connected to is killed
// (SIGKILL): every request is answered exactly once, every command is
// delivered; the node is started again, rejoins, and the load goes on. The
// counts are printed as a table.

import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertRejects,
} from "./_assert.ts";
import { recordingLogger, waitFor } from "./_helpers.ts";
import { startCluster } from "./_rabbitmq_cluster.ts";
import { connectMesh, type Mesh, redactUrl } from "../transports/amqp.ts";

const started = await startCluster();
const cluster = typeof started === "string" ? undefined : started;
const noCluster = typeof started === "string" ? started : undefined;
if (cluster !== undefined) {
  console.log(
    `cluster: 3 nodes started and joined in ${cluster.startMs} ms (${cluster.startPhases})`,
  );
}

function clusterTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: noCluster === undefined ? name : `${name} (skipped: ${noCluster})`,
    ignore: noCluster !== undefined,
    fn,
  });
}

let vhosts = 0;
async function freshVhost(): Promise<string> {
  const name = `c${++vhosts}`;
  await cluster!.addVhost(name);
  return name;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function count(map: Map<number, number[]>, key: number): void {
  const at = map.get(key);
  if (at === undefined) map.set(key, [Date.now()]);
  else at.push(Date.now());
}

// Paced load: CALLERS meshes on the nodes that stay and one on the node
// killed, WORKERS calls in flight each, PAUSE_MS between
// a worker's calls, a command every COMMAND_EVERY calls; STEP answers before
// the kill, after the failover, and after the node is back.
const CALLERS = 3;
const WORKERS = 4;
const PAUSE_MS = 10;
const COMMAND_EVERY = 4;
const STEP = 150;
const PREFETCH = 8;
/** No worker starts a call after this long (ms); each phase has its own bound too. */
const LOAD_LIMIT = 90_000;

clusterTest(
  "amqp cluster: the node two instances of a service are connected to is killed mid-load: every request answered once, every command delivered, load goes on after it rejoins",
  async () => {
    const vhost = await freshVhost();
    const [x, y, z] = cluster!.nodes;
    const logger = recordingLogger();
    const runs = new Map<number, number[]>();
    const commandRuns = new Map<number, number[]>();
    const handlers = {
      echo: async ({ n }: { n: number }) => {
        count(runs, n);
        await pause(1);
        return n;
      },
      note: ({ k }: { k: number }) => void count(commandRuns, k),
    };
    const meshes: Mesh[] = [];
    const began = Date.now();
    try {
      // Both instances on x first (then y, z); the callers on y and z, and one on x.
      const serviceUrls = [x!.url(vhost), y!.url(vhost), z!.url(vhost)];
      const instances: Mesh[] = [];
      for (let i = 0; i < 2; i++) {
        const mesh = await connectMesh(serviceUrls, { logger, maxDelay: 1_000 });
        meshes.push(mesh);
        instances.push(mesh);
        await mesh.serve("load", handlers, { queueType: "quorum", prefetch: PREFETCH });
      }
      const callers: Mesh[] = [];
      for (let i = 0; i < CALLERS; i++) {
        const first = i % 2 === 0 ? y! : z!;
        const second = first === y ? z! : y!;
        const urls = [first.url(vhost), second.url(vhost), x!.url(vhost)];
        const mesh = await connectMesh(urls, { logger, maxDelay: 1_000, timeout: 30_000 });
        meshes.push(mesh);
        callers.push(mesh);
      }
      const onX = await connectMesh(serviceUrls, { logger, maxDelay: 1_000, timeout: 30_000 });
      meshes.push(onX);
      callers.push(onX);

      let sent = 0;
      let answered = 0;
      let wrong = 0;
      let commandsSent = 0;
      const commandsConfirmed = new Set<number>();
      const failures: string[] = [];
      const answers = new Map<number, number>();
      let stop = false;
      // For a failure's message: who sent request n, and when.
      const sentBy = new Map<number, [caller: number, at: number]>();
      const worker = async (caller: Mesh) => {
        let calls = 0;
        while (!stop && Date.now() - began < LOAD_LIMIT) {
          const n = sent++;
          sentBy.set(n, [callers.indexOf(caller), Date.now()]);
          try {
            const result = await caller.request<number>("load", "echo", { n });
            answers.set(n, (answers.get(n) ?? 0) + 1);
            if (result === n) answered++;
            else wrong++;
          } catch (error) {
            failures.push(`request ${n}: ${error}`);
          }
          if (++calls % COMMAND_EVERY === 0) {
            const k = commandsSent++;
            try {
              await caller.command("load", "note", { k });
              commandsConfirmed.add(k);
            } catch (error) {
              failures.push(`command ${k}: ${error}`);
            }
          }
          await pause(PAUSE_MS);
        }
      };

      // The kill happens between these two instants.
      let killStart = 0;
      let killEnd = 0;
      let failoverMs = 0;
      let rejoinMs = 0;
      const conductor = async () => {
        const step = async (what: string) => {
          const mark = answered;
          await waitFor(() => answered >= mark + STEP || stop, {
            timeout: 30_000,
            interval: 20,
            message: `${STEP} more answers ${what}`,
          });
        };
        await step("before the kill");
        killStart = Date.now();
        await x!.kill();
        killEnd = Date.now();
        await waitFor(() => [...instances, onX].every((mesh) => mesh.stats().reconnects > 0), {
          timeout: 30_000,
          interval: 20,
          message: "both instances and the caller on x connected to another node",
        });
        failoverMs = Date.now() - killStart;
        await step("after the failover");
        const restarting = Date.now();
        await x!.start();
        rejoinMs = Date.now() - restarting;
        await step("after the node rejoined");
      };
      const load = callers.flatMap((caller) =>
        Array.from({ length: WORKERS }, () => worker(caller))
      );
      try {
        await conductor();
      } finally {
        stop = true;
        await Promise.all(load);
      }
      // Every confirmed command reaches a handler (bounded).
      await waitFor(() => [...commandsConfirmed].every((k) => commandRuns.has(k)), {
        timeout: 20_000,
        interval: 20,
        message: "every confirmed command handled",
      });

      const lost = sent - answered - wrong - failures.filter((f) => f.startsWith("request")).length;
      const ranTwice = [...runs.entries()].filter(([, at]) => at.length > 1);
      // A delivery the killed node's consumers held unacknowledged is
      // delivered again, and the caller on x publishes again what it had in
      // flight; when such a copy reaches the other instance, that one cannot
      // know it ran: the only way a handler runs twice. Those were sent
      // before the kill and ran again after it (the first run before or
      // after: a delivery held in an instance's prefetch had not started):
      // at most the prefetch of both instances and the calls in flight of
      // the caller on x.
      const inFlightAtKill = ranTwice.filter(([n, at]) =>
        at.length === 2 && sentBy.get(n)![1] <= killEnd && at[1]! >= killStart
      );
      const commandsTwice = [...commandRuns.values()].filter((at) => at.length > 1).length;
      const answeredTwice = [...answers.values()].filter((n) => n > 1).length;
      const callerStats = callers.map((caller) => caller.stats());
      const services = instances.map((mesh) => mesh.stats());
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      const rows: Array<[string, string | number]> = [
        ["requests sent", sent],
        ["answered (right value)", answered],
        ["lost", lost],
        ["answered twice (to the caller)", answeredTwice],
        ["handler ran twice", ranTwice.length],
        [
          "  of them: in flight at the kill (sent before it, ran again after)",
          inFlightAtKill.length,
        ],
        ["commands sent / confirmed", `${commandsSent} / ${commandsConfirmed.size}`],
        ["commands delivered", commandRuns.size],
        ["commands handled twice", commandsTwice],
        ["republished by callers", sum(callerStats.map((s) => s.republished))],
        [
          "answered from memory",
          sum(services.map((s) => s.services.load?.answeredFromMemory ?? 0)),
        ],
        ["duplicate replies dropped", sum(callerStats.map((s) => s.duplicateReplies))],
        ["reconnects: instances", services.map((s) => s.reconnects).join(" + ")],
        ["reconnects: callers", callerStats.map((s) => s.reconnects).join(" + ")],
        [
          "  of them: a publish refused during the election (resent)",
          logger.messages("warn").filter((line) => line.includes("refused a message")).length,
        ],
        ["kill to both instances and the caller on it failed over, ms", failoverMs],
        ["node start and rejoin, ms", rejoinMs],
        ["load, ms", Date.now() - began],
      ];
      console.log(
        ["", "| cluster: node killed under load | count |", "|---|---|"]
          .concat(rows.map(([what, n]) => `| ${what} | ${n} |`))
          .join("\n"),
      );
      // Where a failed request was: its caller (3 is the one on x), when it
      // was sent and when its handler ran, in ms from the kill.
      const where = (failure: string) => {
        const n = Number(/^request (\d+):/.exec(failure)?.[1] ?? NaN);
        const by = sentBy.get(n);
        if (by === undefined) return failure;
        const ran = (runs.get(n) ?? []).map((at) => at - killStart).join(", ") || "never";
        return `${failure} (caller ${by[0]}, sent at ${
          by[1] - killStart
        } ms, handler ran at: ${ran})`;
      };
      assertEquals(failures.map(where), []);
      assertEquals(wrong, 0);
      assertEquals(answered, sent, "every request answered");
      assertEquals(answeredTwice, 0, "no request answered twice");
      assertGreater(answered, 3 * STEP);
      assertEquals(commandsConfirmed.size, commandsSent, "every command confirmed");
      assertEquals(commandRuns.size, commandsSent, "every command delivered");
      assertEquals(
        ranTwice.length,
        inFlightAtKill.length,
        "a handler runs twice only for a call in flight at the kill",
      );
      assertLessOrEqual(ranTwice.length + commandsTwice, 2 * PREFETCH + WORKERS);
      assert(
        logger.messages("warn").some((line) => line.includes("connected to the broker again")),
        "the failover is logged",
      );
      // The instances and a caller were on x: each is on another node now.
      for (const mesh of [...instances, onX]) {
        assert(mesh.connected);
        assert(mesh.broker !== redactUrl(x!.url(vhost)), `${mesh.broker} is not the node killed`);
      }
    } finally {
      await Promise.all(meshes.map((mesh) => mesh.close()));
    }
  },
);

clusterTest(
  "amqp cluster: connectMesh skips a node that does not answer; a quorum service queue refuses a classic declaration of it (406)",
  async () => {
    const vhost = await freshVhost();
    const [, y, z] = cluster!.nodes;
    const logger = recordingLogger();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const dead = `amqp://guest:guest@127.0.0.1:${closedPort}/${encodeURIComponent(vhost)}`;
    const server = await connectMesh([dead, y!.url(vhost)], { logger });
    const other = await connectMesh(z!.url(vhost), { logger });
    try {
      assertEquals(server.broker, redactUrl(y!.url(vhost)), "the node after the one that is down");
      await server.serve("q", { twice: ({ n }: { n: number }) => 2 * n }, {
        queueType: "quorum",
      });
      assertEquals(await other.request("q", "twice", { n: 21 }), 42);
      const refused = await assertRejects(() => other.serve("q", { twice: () => 0 }), Error);
      assert(/PRECONDITION_FAILED|406/.test(String(refused)), String(refused));
      // The quorum queue is still served.
      await waitFor(() => other.connected, { message: "the refused side connected again" });
      assertEquals(await other.request("q", "twice", { n: 2 }), 4);
    } finally {
      await other.close();
      await server.close();
    }
    await assertRejects(
      () => connectMesh([y!.url("a"), z!.url("b")]),
      TypeError,
      "different vhosts",
    );
  },
);

Deno.test({
  name: "amqp cluster: the private cluster stops, no node or epmd left",
  ignore: cluster === undefined,
  fn: async () => {
    await cluster!.stop();
    for (const node of cluster!.nodes) assert(!(await node.listening()), `${node.name} stopped`);
    assertEquals(cluster!.processes(), [], "no beam.smp, epmd or helper of the cluster left");
  },
});
