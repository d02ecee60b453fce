// The worker side of bench/worker.ts: `?ours` serves `add` through a Peer
// over `self`; otherwise a hand-written postMessage responder answers it.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/worker.ts";

interface Request {
  id: number;
  params: { a: number; b: number };
}

if (new URL(import.meta.url).searchParams.has("ours")) {
  new Peer(connect(self), {
    logger: silentLogger,
    handlers: { add: (p: { a: number; b: number }) => p.a + p.b },
  });
} else {
  // `self` as the worker's scope (this module is type-checked with the main lib).
  const scope = self as unknown as MessagePort;
  scope.onmessage = (event: MessageEvent<Request>) => {
    const { id, params } = event.data;
    scope.postMessage({ jsonrpc: "2.0", result: params.a + params.b, id });
  };
}
