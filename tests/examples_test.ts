// Every example runs here, so none can rot.

import { main as calculator } from "../examples/calculator_contract.ts";
import { main as demo } from "../examples/demo.ts";
import { assertEquals, assertMatch } from "./_assert.ts";
import { test } from "./_helpers.ts";

test("examples/calculator_contract.ts prints the calls and the refusals", async () => {
  const lines: string[] = [];
  await calculator((line) => lines.push(line));
  assertEquals(lines, [
    "add(1, 2) = 3",
    "progress: 50%",
    "divide(1, 4) = 0.25",
    "progress: 50%",
    "divide(1, 0) failed: -32000 Division by zero",
    'divide(1, "two") refused: -32602 Invalid params: /divisor must be number',
  ]);
});

test("examples/demo.ts (deno task demo) tells the whole story and shuts down cleanly", async () => {
  const lines: string[] = [];
  await demo((line) => lines.push(line));
  assertMatch(lines[1]!, /^server: listening on tcp:\/\/127\.0\.0\.1:\d+$/);
  lines[1] = "server: listening on ADDR";
  assertEquals(lines, [
    "@seed/rpc demo: JSON-RPC 2.0 over TCP on loopback",
    "server: listening on ADDR",
    "client: price(apple x 3) ...",
    "  = 1.5",
    "client: price(kiwi x 1) ...",
    "  refused: -32000 No such item: kiwi",
    "client: price(apple x 0), sent raw past the client-side check ...",
    "  refused: -32602 Invalid params: /quantity must be >= 1",
    "client: checkout(4 items) ...",
    "client: the server asks to confirm a total of 2: yes",
    "  = paid",
    "client: restock(pear), cancelled after 50 ms ...",
    "  client gave up: TimeoutError",
    "server: restock(pear) stopped: Call 5 was cancelled by the caller",
    "client: heard news: apples are half price today",
    "done: client closed, server shut down gracefully",
  ]);
});
