// The example page's script, built for the browser from the library's own
// modules (`deno bundle --platform browser`; examples/browser/server.ts does
// it when it starts). It shows, in the page and in `window.results`:
// typed calls, a server push, a call from the server answered by the
// browser, a cancelled call, a refused call, and a reconnect.
//
// Browser baseline: ES2024 (Promise.withResolvers): Chrome 119, Firefox 121,
// Safari 17.4.

import { Peer, RemoteError } from "../../mod.ts";
import { reconnecting } from "../../transports/websocket.ts";
import { BrowserDemo } from "./contract.ts";
import { type AppResults, pageLog } from "./_page.ts";

const results: AppResults = {};
const show = pageLog(results);

const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/rpc`;
const channel = reconnecting(url, { minDelay: 100, maxDelay: 2000 });
const peer = new Peer(channel, { keepAlive: 10_000 });
const Browser = BrowserDemo.invert();
const server = Browser.remote(peer);

const news = Promise.withResolvers<string>();
Browser.implement(peer, {
  whoAreYou: () => ({ agent: navigator.userAgent }),
  news: ({ text }) => news.resolve(text),
});

let opens = 0;
channel.addEventListener("open", () => {
  if (++opens === 1) return;
  results.reconnected = true;
  show("reconnected to the server");
  server.add({ a: 1, b: 1 }).then((sum) => {
    results.afterReconnect = sum;
    show(`after the reconnect, add(1, 1) = ${sum}`);
  });
});
channel.addEventListener("reconnecting", (event) => {
  const { attempt, delay } = (event as CustomEvent<{ attempt: number; delay: number }>).detail;
  show(`connection lost: reconnecting (attempt ${attempt}, in ${delay} ms)`);
});

try {
  results.add = await server.add({ a: 2, b: 40 });
  show(`add(2, 40) = ${results.add}`);

  results.hello = await server.hello({ name: "browser" });
  show(`hello: ${results.hello}`);

  await server.subscribe();
  results.push = await news.promise;
  show(`pushed by the server: ${results.push}`);

  try {
    await server.slow({ ms: 60_000 }, { signal: AbortSignal.timeout(100) });
  } catch (error) {
    results.cancel = (error as Error).name;
  }
  results.serverSawCancel = await server.lastCancelled();
  show(`slow call cancelled (${results.cancel}); the server saw it: ${results.serverSawCancel}`);

  try {
    await peer.call("add", { a: "two", b: 2 });
  } catch (error) {
    if (error instanceof RemoteError) results.refused = error.code;
  }
  show(`add("two", 2) refused by the server's contract: ${results.refused}`);
  results.ready = true;
  show("done");
} catch (error) {
  results.error = String(error);
  show(`failed: ${error}`);
}
