// The JSON-RPC over HTTP page's script (`/http.html`), built for the browser
// from the library's modules like app.ts: the same server and contract, over
// POSTs with `fetch` (no WebSocket, no session). It shows, in the page and
// in `window.results`: a typed call, two calls made in the same tick going
// out as one batch, and that the server's contract refuses bad params.

import { Peer, RemoteError } from "../../mod.ts";
import { connect } from "../../transports/http/_client.ts";
import { BrowserDemo } from "./contract.ts";
import { type HttpResults, pageLog } from "./_page.ts";

const results: HttpResults = {};
const show = pageLog(results);

try {
  let posts = 0;
  const channel = await connect(`${location.origin}/http-rpc`, {
    batch: { maxDelay: 0 },
    fetch: (input, init) => {
      posts++;
      return fetch(input, init);
    },
  });
  const peer = new Peer(channel);
  const server = BrowserDemo.invert().remote(peer);

  results.add = await server.add({ a: 2, b: 40 });
  show(`add(2, 40) = ${results.add}, over one POST`);
  const before = posts;
  results.batch = await Promise.all([server.add({ a: 1, b: 1 }), server.add({ a: 2, b: 2 })]);
  results.batchPosts = posts - before;
  show(`two calls in one tick: ${results.batch.join(", ")}, in ${results.batchPosts} POST`);
  try {
    await peer.call("add", { a: "two" });
  } catch (error) {
    if (!(error instanceof RemoteError)) throw error;
    results.refused = error.code;
    show(`add({a: "two"}) refused by the server's contract: ${error.code}`);
  }
  await peer.close();
  results.ready = true;
  show("done");
} catch (error) {
  results.error = String(error);
  show(`failed: ${error}`);
}
