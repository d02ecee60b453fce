// What the example pages share: what each one records in `window.results`
// (the browser test reads it), and how a line is shown in the page.

/** What the WebSocket page (app.ts) records. */
export interface AppResults {
  add?: number;
  hello?: string;
  push?: string;
  cancel?: string;
  serverSawCancel?: boolean;
  refused?: number;
  ready?: boolean;
  reconnected?: boolean;
  afterReconnect?: number;
  error?: string;
}

/** What the mushroom page (mushroom_app.ts) records. */
export interface MushroomResults {
  transport?: string;
  add?: number;
  hello?: string;
  push?: string;
  ready?: boolean;
  error?: string;
}

/** What the JSON-RPC over HTTP page (http_app.ts) records. */
export interface HttpResults {
  add?: number;
  batch?: number[];
  batchPosts?: number;
  refused?: number;
  ready?: boolean;
  error?: string;
}

/** The little of the DOM the pages use (typed here: the project checks with Deno's types). */
interface Page {
  createElement(tag: string): { textContent: string | null };
  getElementById(id: string): { append(node: unknown): void; textContent: string | null } | null;
}

/**
 * Makes `results` the page's `window.results`, and returns `show`, which adds
 * a line to the page's log and shows the results so far.
 */
export function pageLog<R extends object>(results: R): (line: string) => void {
  (globalThis as { results?: R }).results = results;
  const page = (globalThis as unknown as { document: Page }).document;
  return (line) => {
    const item = page.createElement("li");
    item.textContent = line;
    page.getElementById("log")!.append(item);
    page.getElementById("results")!.textContent = JSON.stringify(results, null, 2);
  };
}
