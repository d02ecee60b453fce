// The Web Worker of the worker page (`/worker.html`), built for the browser
// from the library's modules like the pages' scripts. It serves a Peer over
// its `self`: bytes in, bytes out, and a call back to the page.

import { Peer } from "../../mod.ts";
import { connect } from "../../transports/worker.ts";

new Peer(connect(self), {
  handlers: {
    /** Bytes stay bytes: a Uint8Array arrives and leaves as one. */
    reverse: ([bytes]: [Uint8Array]) => bytes.toReversed(),
    /** A buffer the page transferred: the worker now holds it. */
    size: ([buffer]: [ArrayBuffer]) => buffer.byteLength,
    /** The worker calls the page back while answering. */
    greet: async (_params, ctx) => `hello ${await ctx.peer.call("whoAreYou")}, from a worker`,
  },
});
