// A worker serving a peer over `self`, for tests/worker_*_test.ts and bench/worker.ts.
// Its handlers: echo, reverse (bytes), kinds (what each param arrived as),
// ask (calls back the page/main that called it), raw (posts a value outside
// the peer), fail, and transfer-on-reply with `?transfer` in its URL.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/worker.ts";

const transfer = new URL(import.meta.url).searchParams.has("transfer");
// Quiet: the tests read what it answers, not what it logs.
const peer = new Peer(connect(self, { transfer }), {
  logger: silentLogger,
  handlers: {
    echo: (params) => params,
    reverse: ([bytes]: [Uint8Array]) => bytes.toReversed(),
    kinds: (params: unknown[]) =>
      params.map((value) => Object.prototype.toString.call(value).slice(8, -1)),
    ask: async ([method, params]: [string, unknown], ctx) => await ctx.peer.call(method, params),
    buffer: ([size]: [number]) => new Uint8Array(size).fill(7),
    raw: ([value]: [unknown]) => {
      (self as unknown as MessagePort).postMessage(value);
      return "posted";
    },
    quit: () => {
      queueMicrotask(() => peer.close());
    },
    fail: () => {
      throw new Error("failed on purpose");
    },
    crash: () => {
      // An uncaught exception outside the handler: it ends the worker.
      setTimeout(() => {
        throw new Error("crashed on purpose");
      });
      return "crashing";
    },
  },
});
await peer.closed;
