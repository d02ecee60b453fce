// The worker page of the browser example: `/worker.html`, its script
// (`/worker_app.js`) and its Web Worker (`/worker.js`), both built from the
// library's modules for the browser by server.ts, which serves them beside
// its pages.

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@seed/rpc with a Web Worker</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  pre { background: #f4f4f4; padding: 0.8rem; }
</style>
</head>
<body>
<h1>@seed/rpc with a Web Worker</h1>
<p>This page calls a Web Worker through a Peer over the Worker: messages cross as structured
clones, so bytes stay bytes; a buffer is transferred, not copied; the worker calls the page back.</p>
<ol id="log"></ol>
<pre id="results"></pre>
<script type="module" src="/worker_app.js"></script>
</body>
</html>
`;

/** The worker page's two scripts. */
export interface WorkerBundles {
  /** The page's script. */
  app: string;
  /** The Web Worker's script. */
  worker: string;
}

/** Answers the worker page's paths; `undefined` for any other. */
export function workerPage(bundles: WorkerBundles, path: string): Response | undefined {
  if (path === "/worker.html") {
    return new Response(PAGE, { headers: { "content-type": "text/html" } });
  }
  if (path === "/worker_app.js" || path === "/worker.js") {
    const script = path === "/worker.js" ? bundles.worker : bundles.app;
    return new Response(script, { headers: { "content-type": "text/javascript" } });
  }
  return undefined;
}
