// A child that misbehaves around its end: closes stdout but keeps running,
// leaves captured stderr unread, dies before our writes; no fd, process or
// rejection is left behind.
import { assertEquals } from "@std/assert";
import { silentLogger } from "../mod.ts";
import { spawn } from "../transports/stdio.ts";
import { within } from "./_helpers.ts";
import { fdsBackTo, openFds } from "./_ws_raw.ts";

const deno = Deno.execPath();

Deno.test("spawn: a child that closes stdout but keeps running is reaped once the peer ends", async () => {
  const child = spawn("sh", ["-c", "exec >&-; sleep 30"], {
    killAfter: 200,
    closeTimeout: 200,
    logger: silentLogger,
  });
  await within(child.closed, 5000, "the peer's end");
  const status = await within(child.status, 5000, "the child's exit without close()");
  assertEquals(status.success, false);
  await child.close();
});

Deno.test("spawn: stderr piped and never read is released on close", async () => {
  const child = spawn(deno, [
    "eval",
    "console.error('x'.repeat(1000)); await new Promise(() => setTimeout(() => {}, 100000))",
  ], {
    stderr: "piped",
    killAfter: 200,
    logger: silentLogger,
  });
  await child.close();
});

Deno.test("spawn: twenty spawn and close rounds leave no file descriptor open", async () => {
  const round = async (stderr: "piped" | "null") => {
    const child = spawn("cat", [], { stderr, logger: silentLogger });
    await child.peer.notify("hi");
    await child.close();
  };
  await round("piped");
  const before = await openFds();
  for (let i = 0; i < 20; i++) await round(i % 2 === 0 ? "piped" : "null");
  // A leak is 2-3 fds a round; the runtime may open a socket pair of its own under load.
  await fdsBackTo(before);
});

Deno.test("spawn: sends after the child died reject as closed, never unhandled", async () => {
  const child = spawn("sh", ["-c", "exit 4"], { logger: silentLogger });
  await within(child.status, 5000, "the child's exit");
  const sends = [];
  for (let i = 0; i < 50; i++) {
    sends.push(child.peer.notify("late", ["x".repeat(10_000)]).catch((e) => e));
  }
  await Promise.all(sends);
  await within(child.closed, 5000, "the peer's end");
  assertEquals(child.peer.closeReason?.message, "the child exited with code 4");
  await child.close();
});
