// The outgoing deadline timer stops holding the process when no call waits
// and holds it again for the next call: a process that made its calls ends at
// once, and one whose only pending work is a call waiting for its reply lives
// until that call times out, however the timer came to be unheld.

import { assertEquals } from "@std/assert";
import { within } from "./_helpers.ts";

const MOD = JSON.stringify(new URL("../mod.ts", import.meta.url).href);

/** Runs `body` in a child process with a client Peer whose `hang` is never answered; its stdout. */
async function child(body: string): Promise<string> {
  const script = `
    import { memoryPair, Peer } from ${MOD};
    const [a, b] = memoryPair();
    new Peer(a, { handlers: { add: ([x, y]) => x + y, hang: () => new Promise(() => {}) } });
    const client = new Peer(b, { timeout: 60_000 });
    const hang = (timeout) => client.call("hang", [], { timeout }).then(
      () => console.log("answered"),
      (error) => console.log(error.name),
    );
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
