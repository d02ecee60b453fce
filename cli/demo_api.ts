/**
 * The API `rpc serve` offers when no `--handlers` file is given, as a
 * typed contract: `echo`, `add`, `sleep`, `fail`, the notification `log`,
 * and `ticks`, which sends `tick` notifications back to its caller (for
 * `rpc watch`).
 *
 * @example The demo API's methods and handlers match
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DemoApi, demoHandlers } from "@seed/rpc/cli";
 * assertEquals(Object.keys(demoHandlers()), Object.keys(DemoApi.incoming));
 * ```
 *
 * @module
 */

import { type Handler, RpcError } from "../mod.ts";
import { type Contract, defineContract } from "../contract.ts";
import { oneLine } from "./report.ts";

/**
 * The demo API's method specs, as a `const` (so the contract's type can be
 * written out, which JSR wants for exported values).
 */
export const DemoSpecs = {
  echo: { description: "Returns its params.", params: true, result: true },
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
  sleep: {
    description: "Resolves after `ms` milliseconds; stops early when the call is cancelled.",
    params: {
      type: "object",
      properties: { ms: { type: "integer", minimum: 0, maximum: 3_600_000 } },
      required: ["ms"],
      additionalProperties: false,
    },
    result: {
      type: "object",
      properties: { slept: { type: "integer" } },
      required: ["slept"],
    },
  },
  fail: {
    description: "Fails with `message` (and `code`, default -32000).",
    params: {
      type: "object",
      properties: { message: { type: "string" }, code: { type: "integer" } },
      required: ["message"],
      additionalProperties: false,
    },
  },
  log: {
    description: "Prints `line` on the server's stderr.",
    notification: true,
    params: {
      type: "object",
      properties: { line: { type: "string" } },
      required: ["line"],
      additionalProperties: false,
    },
  },
  ticks: {
    description:
      "Notifies `tick` ({n}) to the caller `count` times, `ms` apart (default 100), then answers.",
    params: {
      type: "object",
      properties: {
        count: { type: "integer", minimum: 1, maximum: 1000 },
        ms: { type: "integer", minimum: 0, maximum: 60_000 },
      },
      required: ["count"],
      additionalProperties: false,
    },
    result: {
      type: "object",
      properties: { ticks: { type: "integer" } },
      required: ["ticks"],
    },
  },
} as const;

/**
 * The demo API's contract.
 */
export const DemoApi: Contract<typeof DemoSpecs, Record<never, never>> = defineContract({
  name: "demo",
  incoming: DemoSpecs,
});

/**
 * The demo API's handlers, validated by {@linkcode DemoApi}.
 *
 * @param log Where `log` notifications go (the process's stderr by default),
 * each on one line with control characters escaped (`\u001b`, `\n`).
 *
 * @example Serving the demo API, with log lines captured
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { demoHandlers } from "@seed/rpc/cli";
 * const lines: string[] = [];
 * const handlers = demoHandlers((line) => lines.push(line));
 * assertEquals(await handlers.add({ a: 1, b: 2 }, undefined as never), 3);
 * await handlers.log({ line: "hello" }, undefined as never);
 * assertEquals(lines, ["hello"]);
 * ```
 */
export function demoHandlers(
  log: (line: string) => void = (line) => console.error(line),
): Record<string, Handler> {
  return DemoApi.handlers({
    echo: (params) => params,
    add: ({ a, b }) => a + b,
    sleep: async ({ ms }, ctx) => {
      await delay(ms, ctx.signal);
      return { slept: ms };
    },
    fail: ({ message, code }) => {
      throw new RpcError(code ?? -32000, message);
    },
    // The line came from the other side: control characters escaped, one line.
    log: ({ line }) => log(oneLine(line)),
    ticks: async ({ count, ms = 100 }, ctx) => {
      for (let n = 1; n <= count; n++) {
        if (n > 1) await delay(ms, ctx.signal);
        await ctx.peer.notify("tick", { n });
      }
      return { ticks: count };
    },
  });
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    signal.addEventListener("abort", stop, { once: true });
  });
}
