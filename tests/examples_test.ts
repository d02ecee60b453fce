// Every example runs here, so none can rot.

import { main as calculator } from "../examples/calculator_contract.ts";
import { assertEquals } from "./_assert.ts";

Deno.test("examples/calculator_contract.ts prints the calls and the refusals", async () => {
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
