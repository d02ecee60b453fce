// Hostile review of the deadline timer's idle window (the sweep keeps
// listening a few microtasks after the last call settled): whatever happens
// in or around that window, a process ends as soon as nothing it waits for
// needs the timer, and every call with a deadline is still held to it.

import { assertEquals } from "@std/assert";
import { within } from "./_helpers.ts";

const MOD = JSON.stringify(new URL("../mod.ts", import.meta.url).href);

/**
 * Runs `body` in a child process with a client Peer (`clientOptions`, a 60 s
 * default timeout) whose `hang` is never answered; its stdout. The child has
 * 20 s to end: a timer held for a 60 s deadline fails the test.
 */
async function child(body: string, clientOptions = "{}"): Promise<string> {
  const script = `
    import { memoryPair, Peer } from ${MOD};
    const [a, b] = memoryPair();
    new Peer(a, { handlers: { add: ([x, y]) => x + y, hang: () => new Promise(() => {}) } });
    const client = new Peer(b, { timeout: 60_000, ...${clientOptions} });
    const report = (promise) => promise.then(
      (value) => console.log(value),
      (error) => console.log(error.name),
    );
    const hang = (timeout) => report(client.call("hang", [], { timeout }));
    // Not awaited at the top: Deno keeps a process whose top-level await is
    // pending alive while any timer, even an unref'd one, is pending.
    (async () => {
      ${body}
    })();
  `;
  const process = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = process.output();
  try {
    await within(process.status, 20_000, "the child's exit");
  } catch (error) {
    process.kill();
    await output;
    throw error;
  }
  const { code, stdout, stderr } = await output;
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("timer idle: a call without a deadline made as the last one settles does not keep the process alive", async () => {
  // The answered call's 60 s deadline timer was still listened to when the
  // unanswered call (timeout 0) came: it must be let go, as it was before
  // the idle window, not held until that stale deadline.
  assertEquals(
    await child(`
      console.log(await client.call("add", [1, 2]));
      report(client.call("hang", [], { timeout: 0 }));
    `),
    "3\n",
  );
});

Deno.test("timer idle: a call made as the last one settles is held to its own, earlier deadline", async () => {
  // The timer still listened to fires at +60 s; the new call's 200 ms
  // deadline must re-arm it, not wait for it.
  assertEquals(
    await child(`
      console.log(await client.call("add", [1, 2]));
      await hang(200);
      console.log(client.stats().pendingCalls);
    `),
    "3\nCallTimeout\n0\n",
  );
});

Deno.test("timer idle: calls waiting for room under the limit let the process end after the last one", async () => {
  // Each settle wakes a waiter from inside the idle window; the last settle
  // leaves none, and the timer is let go.
  assertEquals(
    await child(
      `console.log((await Promise.all([1, 2, 3, 4].map((i) => client.call("add", [i, 1])))).join());`,
      `{ maxPendingCalls: 1 }`,
    ),
    "2,3,4,5\n",
  );
});

Deno.test("timer idle: a last call cancelled by its signal, or the peer closed in the window, lets the process end", async () => {
  assertEquals(
    await child(`
      const controller = new AbortController();
      const cancelled = report(client.call("hang", [], { signal: controller.signal }));
      controller.abort(new Error("stop"));
      await cancelled;
      console.log(await client.call("add", [1, 2]));
      // The idle check is still pending: close() lets the timer go itself.
      await client.close();
      await report(client.call("add", [1, 2]));
    `),
    "Error\n3\nConnectionClosed\n",
  );
});
