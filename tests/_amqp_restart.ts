// The body of the broker-restart tests (amqp_restart_test.ts: stopped and
// started again; amqp_restart_killed_test.ts: killed with SIGKILL): each file
// has a node of its own, so the two restarts run side by side.

import { assert, assertEquals, assertGreater } from "./_assert.ts";
import { broker, freshMesh } from "./_amqp.ts";
import { deferred, recordingLogger, within } from "./_helpers.ts";
import { connectMesh } from "../transports/amqp.ts";

// Workers keep calling, paced, until the restart is over and some more
// calls went through; bounded in count and time.
const MAX_CALLS = 20_000;
const IN_FLIGHT = 20;
const PAUSE_MS = 10;
const RESTART_AFTER = 200;
const AFTER_RESTART = 400;

/**
 * The broker restarts (`hard`: is killed with SIGKILL and started again) in
 * the middle of a load: every request is answered exactly once, its handler
 * run once, and the mesh's topology and consumers come back.
 */
export async function restartUnderLoad(hard: boolean): Promise<void> {
  const url = await freshMesh();
  const logger = recordingLogger();
  const runs = new Map<number, number>();
  const server = await connectMesh(url, { logger, maxDelay: 1_000 });
  await server.serve("load", {
    echo: async ({ n }: { n: number }) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 1));
      return n;
    },
  }, { prefetch: 20 });
  const client = await connectMesh(url, { logger, reconnectMax: 1_000, timeout: 90_000 });
  const heard = deferred<unknown>();
  await client.subscribe("load.after", (event) => void heard.resolve(event));

  let sent = 0;
  let answered = 0;
  let wrong = 0;
  const failures: string[] = [];
  const answers = new Map<number, number>();
  let restarted: Promise<void> | undefined;
  let answeredAtRestartEnd = Infinity;
  const started = Date.now();
  const worker = async () => {
    while (
      sent < MAX_CALLS && Date.now() - started < 120_000 &&
      answered < answeredAtRestartEnd + AFTER_RESTART
    ) {
      const n = sent++;
      try {
        const result = await client.request<number>("load", "echo", { n });
        answers.set(n, (answers.get(n) ?? 0) + 1);
        if (result === n) answered++;
        else wrong++;
      } catch (error) {
        failures.push(`${n}: ${error}`);
      }
      if (answered === RESTART_AFTER && restarted === undefined) {
        restarted = broker!.restart(hard).then(() => void (answeredAtRestartEnd = answered));
      }
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await restarted;

  const lost = sent - answered - wrong;
  const duplicatedRuns = [...runs.values()].filter((count) => count > 1).length;
  const duplicatedAnswers = [...answers.values()].filter((count) => count > 1).length;
  const stats = client.stats();
  const serviceStats = server.stats().services.load!;
  console.log(
    `broker ${
      hard ? "killed" : "restarted"
    }: sent ${sent}, answered ${answered}, lost ${lost}, handler ran twice ${duplicatedRuns}, ` +
      `answered twice ${duplicatedAnswers}, republished ${stats.republished}, answered from memory ` +
      `${serviceStats.answeredFromMemory}, duplicate replies dropped ${stats.duplicateReplies}, ` +
      `reconnects client ${stats.reconnects} server ${server.stats().reconnects}, ${
        Date.now() - started
      } ms`,
  );
  assertEquals(failures, []);
  assertEquals(answered, sent);
  // Calls went through after the restart was over (the broker may answer
  // before any client is back, so none need have been answered during it).
  assert(answered >= answeredAtRestartEnd + AFTER_RESTART, "calls answered after the restart");
  assertEquals(duplicatedRuns, 0, "no handler ran twice");
  assertEquals(duplicatedAnswers, 0, "no call was answered twice");
  assertGreater(stats.reconnects, 0);
  assertGreater(server.stats().reconnects, 0);

  // Topology and consumers are back: events reach the subscriber's new queue.
  await client.publish("load.after", { ok: true });
  assertEquals(await within(heard.promise, 30_000, "the event after the restart"), { ok: true });
  assert(
    logger.messages("warn").some((line) => line.includes("connected to the broker again")),
    "the reconnect is logged",
  );
  await client.close();
  await server.close();
}
