// The contract between the example page and its server: what each side
// answers. Both ends use it; the browser's view is `BrowserDemo.invert()`.

import { type Contract, defineContract } from "../../contract.ts";

export const BrowserDemoSpecs = {
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
  hello: {
    description: "Greets the caller, after asking the browser who it is (a call back).",
    params: {
      type: "object",
      properties: { name: { type: "string" } },
      required: ["name"],
    },
    result: { type: "string" },
  },
  subscribe: {
    description: "Asks for news: the server pushes a `news` notification.",
    result: { type: "null" },
  },
  slow: {
    description: "Answers after `ms`, or stops when the caller cancels.",
    params: {
      type: "object",
      properties: { ms: { type: "integer", minimum: 0 } },
      required: ["ms"],
    },
    result: { type: "integer" },
  },
  lastCancelled: {
    description: "Whether the last `slow` call was cancelled by its caller.",
    result: { type: "boolean" },
  },
} as const;

export const BrowserSpecs = {
  whoAreYou: {
    description: "The server asks the browser who it is.",
    result: {
      type: "object",
      properties: { agent: { type: "string" } },
      required: ["agent"],
    },
  },
  news: {
    notification: true,
    params: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
    },
  },
} as const;

/** The server's view: it answers BrowserDemoSpecs and calls BrowserSpecs. */
export const BrowserDemo: Contract<typeof BrowserDemoSpecs, typeof BrowserSpecs> = defineContract({
  name: "browser-demo",
  incoming: BrowserDemoSpecs,
  outgoing: BrowserSpecs,
});
