// A typed contract used from both ends over the in-memory pair.
//
//   deno run examples/calculator_contract.ts
//
// The same Calculator contract gives the server its implementation type and
// the client its proxy type; bad params are refused with the path and reason.

import { memoryPair, Peer, RemoteError, RpcError } from "../mod.ts";
import { defineContract } from "../contract.ts";

export const Calculator = defineContract({
  name: "calculator",
  incoming: {
    add: {
      description: "a + b",
      params: {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"],
        additionalProperties: false,
      },
      result: { type: "number" },
    },
    divide: {
      params: {
        type: "object",
        properties: {
          dividend: { type: "number" },
          divisor: { type: "number" },
        },
        required: ["dividend", "divisor"],
      },
      result: { type: "number" },
    },
  },
  outgoing: {
    progress: {
      notification: true,
      params: { type: "object", properties: { done: { type: "number" } }, required: ["done"] },
    },
  },
});

/** Runs the example; returns the lines it printed (the test checks them). */
export async function main(print: (line: string) => void = console.log): Promise<void> {
  const [serverEnd, clientEnd] = memoryPair();

  const server = new Peer(serverEnd);
  Calculator.implement(server, {
    add: ({ a, b }) => a + b,
    divide: async ({ dividend, divisor }, ctx) => {
      await Calculator.remote(ctx.peer).progress({ done: 0.5 });
      if (divisor === 0) throw new RpcError(-32000, "Division by zero", { dividend });
      return dividend / divisor;
    },
  });

  const client = new Peer(clientEnd);
  const CalculatorClient = Calculator.invert();
  CalculatorClient.implement(client, { progress: ({ done }) => print(`progress: ${done * 100}%`) });
  const calculator = CalculatorClient.remote(client);

  print(`add(1, 2) = ${await calculator.add({ a: 1, b: 2 })}`);
  print(`divide(1, 4) = ${await calculator.divide({ dividend: 1, divisor: 4 })}`);
  try {
    await calculator.divide({ dividend: 1, divisor: 0 });
  } catch (error) {
    if (error instanceof RemoteError) print(`divide(1, 0) failed: ${error.code} ${error.message}`);
  }
  try {
    // Sent raw, past the client-side check, to show the server's answer.
    await client.call("divide", { dividend: 1, divisor: "two" });
  } catch (error) {
    if (error instanceof RemoteError) {
      print(`divide(1, "two") refused: ${error.code} ${error.message}`);
    }
  }

  await client.close();
  await server.closed;
}

if (import.meta.main) await main();
