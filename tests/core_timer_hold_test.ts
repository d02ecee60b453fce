// The outgoing deadline timer stops holding the process when no call waits
// and holds it again for the next call: a process that made its calls ends at
// once, and one whose only pending work is a call waiting for its reply lives
// until that call times out, however the timer came to be unheld. Between
// the two it is held a few microtasks after the last call settled (a caller
// calling again from its await finds it held): whatever happens in that
// window, the process still ends at once, and every deadline is kept.

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

Deno.test("timer hold: an idle caller's deadline timer does not keep the process alive", async () => {
  // Its peers left open, the process ends at once, not when the call's 60 s
  // deadline would have passed (child() gives it 20 s).
  assertEquals(await child(`console.log(await client.call("add", [1, 2]));`), "3\n");
});

Deno.test("timer hold: a caller that calls again from each await lets the process end after its last call", async () => {
  // Back to back, the timer stays listened to from one call to the next; it
  // is let go a few microtasks after the last (child() gives it 20 s, the
  // calls' deadline is 60 s).
  assertEquals(
    await child(`
      let sum = 0;
      for (let i = 0; i < 200; i++) sum += await client.call("add", [i, 1]);
      console.log(sum);
    `),
    "20100\n",
  );
});

Deno.test("timer hold: a call made many microtasks after the last one settled is still held to its deadline", async () => {
  // Past the few microtasks the timer waits for a next call, it was let go:
  // the next call holds it again.
  assertEquals(
    await child(`
      console.log(await client.call("add", [1, 2]));
      for (let i = 0; i < 50; i++) await null;
      await hang(300);
    `),
    "3\nCallTimeout\n",
  );
});

Deno.test("timer hold: a first call that is never answered keeps the process until it times out", async () => {
  assertEquals(await child(`await hang(200);`), "CallTimeout\n");
});

Deno.test("timer hold: a call later than the idle (unref'd) timer's deadline is still held to its own", async () => {
  // The answered call leaves the timer armed at +300 ms and unref'd; the
  // hanging call's deadline (+700 ms) is later, so the timer is only re-held.
  assertEquals(
    await child(
      `console.log(await client.call("add", [1, 2], { timeout: 300 })); await hang(700);`,
    ),
    "3\nCallTimeout\n",
  );
});

Deno.test("timer hold: a call after the idle timer fired unheld is held again", async () => {
  assertEquals(
    await child(`
      console.log(await client.call("add", [1, 2], { timeout: 50 }));
      // A timer started after the call, with its delay, fires after the
      // call's own deadline timer: that one has fired (with nobody listening).
      await new Promise((resolve) => { AbortSignal.timeout(50).onabort = resolve; });
      await hang(200);
    `),
    "3\nCallTimeout\n",
  );
});

Deno.test("timer hold: a call waiting when another is answered keeps the timer held", async () => {
  assertEquals(
    await child(`
      const waiting = hang(300);
      console.log(await client.call("add", [1, 2], { timeout: 5_000 }));
      await waiting;
    `),
    "3\nCallTimeout\n",
  );
});

Deno.test("timer hold: a call without a deadline made as the last one settles does not keep the process alive", async () => {
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

Deno.test("timer hold: a call made as the last one settles is held to its own, earlier deadline", async () => {
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

Deno.test("timer hold: calls waiting for room under the limit let the process end after the last one", async () => {
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

Deno.test("timer hold: a last call cancelled by its signal, or the peer closed in the window, lets the process end", async () => {
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
