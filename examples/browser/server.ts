// `deno task browser-demo`: serves the example page and its RPC endpoint on
// 127.0.0.1 and prints the URL. The page's script is built from the
// library's own modules for the browser when the server starts
// (`deno bundle --platform browser examples/browser/app.ts`).
//
//   deno task browser-demo          # http://127.0.0.1:8000/
//   deno task browser-demo 9000     # another port

import { Server } from "../../mod.ts";
import { websocketHandler } from "../../transports/websocket_server.ts";
import { listen, mushroomHandler } from "../../transports/mushroom_server.ts";
import { httpHandler } from "../../transports/http.ts";
import { BrowserDemo } from "./contract.ts";
import { type WorkerBundles, workerPage } from "./worker_page.ts";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@seed/rpc in the browser</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  li { margin: 0.2rem 0; }
  pre { background: #f4f4f4; padding: 0.8rem; }
</style>
</head>
<body>
<h1>@seed/rpc in the browser</h1>
<p>This page talks to its server over a WebSocket, with one typed contract for both ends:
typed calls, a push from the server, a call from the server that the page answers, a cancelled
call, a call the server's contract refuses, and a reconnect when the server restarts.</p>
<ol id="log"></ol>
<pre id="results"></pre>
<p><a href="/mushroom.html">The same over a mushroom session</a>
(<a href="/mushroom.html?nows">without WebSocket: long polling</a>);
<a href="/worker.html">a Web Worker</a>;
<a href="/http.html">JSON-RPC over HTTP POST</a>.</p>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

const MUSHROOM_PAGE = PAGE
  .replace("<h1>@seed/rpc in the browser</h1>", "<h1>@seed/rpc over mushroom</h1>")
  .replace(
    /<p>This page talks[^]*?<\/p>/,
    `<p>This page talks to the same server through a mushroom session:
a WebSocket when the browser has one, long polling when it has not. The session survives
reconnects; a typed call, a call from the server that the page answers, and a push.</p>`,
  )
  .replace(/<p><a href[^]*?<\/p>\n/, "")
  .replace("/app.js", "/mushroom_app.js");

const HTTP_PAGE = MUSHROOM_PAGE
  .replace("<h1>@seed/rpc over mushroom</h1>", "<h1>@seed/rpc over HTTP POST</h1>")
  .replace(
    /<p>This page talks[^]*?<\/p>/,
    `<p>This page calls the same server with JSON-RPC over HTTP POST (fetch): a typed call,
two calls in one tick as one batch, and a call the server's contract refuses.</p>`,
  )
  .replace("/mushroom_app.js", "/http_app.js");

/** The pages' scripts, built from the library's modules for the browser. */
export interface BrowserBundles {
  /** The WebSocket page's script. */
  app: string;
  /** The mushroom page's script. */
  mushroom: string;
  /** The worker page's script and its Web Worker's. */
  worker: WorkerBundles;
  /** The JSON-RPC over HTTP page's script (`/http.html`). */
  http: string;
}

/** Builds every page's scripts. */
export async function buildBrowserBundles(): Promise<BrowserBundles> {
  const [app, mushroom, workerApp, worker, http] = await Promise.all([
    buildBrowserBundle("./app.ts"),
    buildBrowserBundle("./mushroom_app.ts"),
    buildBrowserBundle("./worker_app.ts"),
    buildBrowserBundle("./worker.ts"),
    buildBrowserBundle("./http_app.ts"),
  ]);
  return { app, mushroom, worker: { app: workerApp, worker }, http };
}

/** Builds one page's script from the library's modules, for the browser. */
export async function buildBrowserBundle(script = "./app.ts"): Promise<string> {
  const entry = new URL(script, import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--minify", entry],
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

/** A running demo: its URL, and a way to stop it. */
export interface BrowserDemoServer {
  url: string;
  port: number;
  /** mushroom's own `listen()` for this page's origin, when asked for (`?at=` in the page). */
  mushroomListen?: string;
  stop(): Promise<void>;
}

/**
 * Serves the page, its script and the RPC endpoint on 127.0.0.1:`port`;
 * with `mushroomListen`, mushroom also on a `listen()` of its own.
 */
export function startBrowserDemo(
  bundles: BrowserBundles,
  port = 0,
  { mushroomListen = false } = {},
): BrowserDemoServer {
  let cancelled = false;
  const rpc = new Server({
    handlers: (connection) =>
      BrowserDemo.handlers({
        add: ({ a, b }) => a + b,
        hello: async ({ name }) => {
          const { agent } = await BrowserDemo.remote(connection.peer).whoAreYou();
          return `hello ${name}, you run ${agent}`;
        },
        subscribe: () => {
          BrowserDemo.remote(connection.peer).news({ text: "the server says hi to everyone" });
          return null;
        },
        slow: ({ ms }, ctx) =>
          new Promise((resolve, reject) => {
            cancelled = false;
            const timer = setTimeout(() => resolve(ms), ms);
            ctx.signal.addEventListener("abort", () => {
              cancelled = true;
              clearTimeout(timer);
              reject(ctx.signal.reason);
            }, { once: true });
          }),
        lastCancelled: () => cancelled,
      }),
  });
  // mushroom sessions join the same server as the WebSocket connections.
  const mushroom = mushroomHandler(rpc, { path: "/mushroom/" });
  // The endpoint is made once the port, and so the page's origin, is known.
  const routes: {
    rpc?: ReturnType<typeof websocketHandler>;
    http?: ReturnType<typeof httpHandler>;
  } = {};
  const http = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html" } });
    if (path === "/http.html" || path === "/http_app.js") {
      const http = path === "/http.html";
      return new Response(http ? HTTP_PAGE : bundles.http, {
        headers: { "content-type": http ? "text/html" : "text/javascript" },
      });
    }
    if (path === "/http-rpc") return routes.http!(request);
    if (path === "/mushroom.html") {
      return new Response(MUSHROOM_PAGE, { headers: { "content-type": "text/html" } });
    }
    if (path === "/app.js" || path === "/mushroom_app.js") {
      const script = path === "/app.js" ? bundles.app : bundles.mushroom;
      return new Response(script, { headers: { "content-type": "text/javascript" } });
    }
    return workerPage(bundles.worker, path) ?? (await routes.rpc?.(request)) ??
      (await mushroom(request)) ??
      new Response("Not found", { status: 404 });
  });
  const origin = `http://127.0.0.1:${http.addr.port}`;
  // Only this page's own origin may connect.
  routes.rpc = websocketHandler(rpc, { path: "/rpc", origins: [origin] });
  routes.http = httpHandler(rpc, { path: "/http-rpc", origins: [origin] });
  const listener = mushroomListen
    ? listen("http://127.0.0.1:0/mushroom/", { origins: [origin] })
    : undefined;
  if (listener !== undefined) rpc.serve(listener);
  return {
    url: `${origin}/`,
    port: http.addr.port,
    mushroomListen: listener?.addr,
    async stop() {
      await rpc.shutdown({ deadline: 0 });
      await http.shutdown();
    },
  };
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  const demo = startBrowserDemo(await buildBrowserBundles(), port);
  console.log(`browser demo: open ${demo.url}`);
  Deno.addSignalListener("SIGINT", async () => {
    await demo.stop();
    Deno.exit(0);
  });
}
