// The worker page's script (`/worker.html`), built for the browser from the
// library's modules like app.ts: it starts a Web Worker (worker.ts) and
// calls it through a Peer over the Worker. It shows, in the page and in
// `window.results`: bytes kept as a Uint8Array, a buffer transferred (the
// page's copy is then empty), and a call from the worker that the page answers.

import { Peer } from "../../mod.ts";
import { connect } from "../../transports/worker.ts";
import { pageLog } from "./_page.ts";

/** What the worker page records. */
export interface WorkerResults {
  reversed?: number[];
  bytesKept?: boolean;
  size?: number;
  detached?: boolean;
  greeting?: string;
  ready?: boolean;
  error?: string;
}

const results: WorkerResults = {};
const show = pageLog(results);

try {
  const worker = new Worker("/worker.js", { type: "module" });
  const peer = new Peer(connect(worker, { transfer: true }), {
    handlers: { whoAreYou: () => "the page" },
  });
  const reversed = await peer.call("reverse", [new Uint8Array([1, 2, 3])]);
  results.bytesKept = reversed instanceof Uint8Array;
  results.reversed = [...reversed as Uint8Array];
  show(`reverse([1, 2, 3]) = [${results.reversed}] (a Uint8Array: ${results.bytesKept})`);
  const buffer = new ArrayBuffer(1024);
  results.size = await peer.call("size", [buffer]) as number;
  results.detached = buffer.byteLength === 0;
  show(`the worker got ${results.size} bytes; the page's buffer is now empty: ${results.detached}`);
  results.greeting = await peer.call("greet") as string;
  show(results.greeting);
  await peer.close(); // terminates the worker
  results.ready = true;
  show("done");
} catch (error) {
  results.error = String(error);
  show(`failed: ${error}`);
}
