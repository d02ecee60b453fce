// The mushroom page's script (`/mushroom.html`), built for the browser from
// the library's modules like app.ts. The same contract and server as the
// WebSocket page, over a mushroom session: a WebSocket when the browser has
// one, long polling when it does not (open `/mushroom.html?nows` to take
// WebSocket away from the page). It shows, in the page and in
// `window.results`: which transport the session uses, a typed call, a call
// from the server that the page answers, and a push.

import { Peer } from "../../mod.ts";
import { connect } from "../../transports/mushroom.ts";
import { BrowserDemo } from "./contract.ts";
import { type MushroomResults, pageLog } from "./_page.ts";

const results: MushroomResults = {};
const show = pageLog(results);

if (new URLSearchParams(location.search).has("nows")) {
  // As in a browser (or behind a proxy) without WebSocket.
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  show("WebSocket is switched off in this page");
}

try {
  // `?at=<url>`: a mushroom endpoint elsewhere (the tests' own listen()).
  const at = new URLSearchParams(location.search).get("at") ?? `${location.origin}/mushroom/`;
  const session = await connect(at, { minDelay: 100 });
  results.transport = session.transport;
  show(`mushroom session ${session.id} over ${session.transport}`);
  const peer = new Peer(session);
  const Browser = BrowserDemo.invert();
  const news = Promise.withResolvers<string>();
  Browser.implement(peer, {
    whoAreYou: () => ({ agent: navigator.userAgent }),
    news: ({ text }) => news.resolve(text),
  });
  const server = Browser.remote(peer);

  results.add = await server.add({ a: 2, b: 40 });
  show(`add(2, 40) = ${results.add}`);
  results.hello = await server.hello({ name: "mushroom" });
  show(`hello: ${results.hello}`);
  await server.subscribe();
  results.push = await news.promise;
  show(`pushed by the server: ${results.push}`);
  results.ready = true;
  show("done");
} catch (error) {
  results.error = String(error);
  show(`failed: ${error}`);
}
