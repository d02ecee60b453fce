/**
 * The API `rpc serve` offers when no `--handlers` file is given:
 * `echo`, `add`, `sleep` and `fail`, as a typed contract.
 *
 * @example
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

/**
 * The demo API's method specs, as a `const` (so the contract's type can be
 * written out, which JSR wants for exported values).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DemoSpecs } from "@seed/rpc/cli";
 * assertEquals(Object.keys(DemoSpecs), ["echo", "add", "sleep", "fail"]);
 * ```
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
} as const;

/**
 * The demo API's contract.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DemoApi } from "@seed/rpc/cli";
 * assertEquals(Object.keys(DemoApi.incoming), ["echo", "add", "sleep", "fail"]);
 * ```
 */
export const DemoApi: Contract<typeof DemoSpecs, Record<never, never>> = defineContract({
  name: "demo",
  incoming: DemoSpecs,
});

/**
 * The demo API's handlers, validated by {@linkcode DemoApi}.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { demoHandlers } from "@seed/rpc/cli";
 * assertEquals(await demoHandlers().add({ a: 1, b: 2 }, undefined as never), 3);
 * ```
 */
export function demoHandlers(): Record<string, Handler> {
  return DemoApi.handlers({
    echo: (params) => params,
    add: ({ a, b }) => a + b,
    sleep: ({ ms }, ctx) =>
      new Promise((resolve, reject) => {
        const signal = ctx.signal;
        if (signal.aborted) return reject(signal.reason);
        const stop = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", stop);
          resolve({ slept: ms });
        }, ms);
        signal.addEventListener("abort", stop, { once: true });
      }),
    fail: ({ message, code }) => {
      throw new RpcError(code ?? -32000, message);
    },
  });
}
