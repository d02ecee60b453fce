// A hand-written minimal JSON-RPC over HTTP, no library: a Deno.serve
// handler that parses the body and answers `add`, and a plain fetch client
// (an id per call). The baseline of the http bench group.

/** The hand-written handler: parse, add, answer. */
export async function minimalHandler(request: Request): Promise<Response> {
  const call = await request.json() as { params: { a: number; b: number }; id: number };
  return new Response(
    `{"jsonrpc":"2.0","result":${call.params.a + call.params.b},"id":${call.id}}`,
    { headers: { "content-type": "application/json" } },
  );
}

/** Serves `handler` ({@linkcode minimalHandler} unless given) on 127.0.0.1, a free port. */
export function serveMinHttp(
  handler: (request: Request) => Promise<Response> = minimalHandler,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
}

/** A plain fetch client of `url`: `add(a, b)` is one POST. */
export class MinHttpClient {
  #url: string;
  #id = 0;

  constructor(url: string) {
    this.#url = url;
  }

  async add(a: number, b: number): Promise<number> {
    const response = await fetch(this.#url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "add", params: { a, b }, id: ++this.#id }),
    });
    return (await response.json()).result;
  }
}

/** The largest body either guarded side takes (16 MiB, our default). */
const GUARD_LIMIT = 16 * 1024 * 1024;

/** A refusal with no body of its own. */
function refuse(status: number): Response {
  return new Response(null, { status });
}

/**
 * The hand-written handler with the guards the issue asks of every HTTP
 * endpoint, written out plainly: the path, POST only, `Host` a loopback
 * name (DNS rebinding), no cross-origin caller, a JSON content type, a
 * `Content-Length` within the limit (413), a body that is a JSON-RPC call
 * (400). What it leaves out is ours alone: the dispatch path (limits,
 * interceptors, contracts), batches, the body deadline.
 */
export async function guardedHandler(request: Request): Promise<Response> {
  const url = request.url;
  if (url.slice(url.indexOf("/", url.indexOf("//") + 2)) !== "/") return refuse(404);
  if (request.method !== "POST") return refuse(405);
  const headers = request.headers;
  const host = headers.get("host") ?? "";
  if (!host.startsWith("127.0.0.1:") && !host.startsWith("localhost:")) return refuse(403);
  if (headers.get("origin") !== null) return refuse(403);
  if (!/^application\/json\s*(;|$)/i.test(headers.get("content-type") ?? "")) return refuse(415);
  if (Number(headers.get("content-length") ?? "0") > GUARD_LIMIT) return refuse(413);
  let call: {
    jsonrpc?: unknown;
    method?: unknown;
    params?: { a: number; b: number };
    id?: unknown;
  };
  try {
    call = await request.json();
  } catch {
    return refuse(400);
  }
  if (call?.jsonrpc !== "2.0" || typeof call.method !== "string" || call.params === undefined) {
    return refuse(400);
  }
  return new Response(
    `{"jsonrpc":"2.0","result":${call.params.a + call.params.b},"id":${JSON.stringify(call.id)}}`,
    { headers: { "content-type": "application/json" } },
  );
}

/**
 * The plain fetch client with the guards a caller needs, written out: an
 * AbortController per call (what cancels it, or ends it at its deadline),
 * a reply refused unless its `Content-Length` is within the limit and not
 * compressed (a hostile server cannot grow the client's memory), a non-2xx
 * answer and a reply to another id refused.
 */
export class GuardedHttpClient {
  #url: string;
  #id = 0;
  #headers = { "content-type": "application/json" };

  constructor(url: string) {
    this.#url = url;
  }

  async add(a: number, b: number): Promise<number> {
    const id = ++this.#id;
    const controller = new AbortController();
    const response = await fetch(this.#url, {
      method: "POST",
      headers: this.#headers,
      body: JSON.stringify({ jsonrpc: "2.0", method: "add", params: { a, b }, id }),
      signal: controller.signal,
    });
    const length = response.headers.get("content-length");
    if (
      !response.ok || length === null || Number(length) > GUARD_LIMIT ||
      response.headers.has("content-encoding")
    ) {
      controller.abort();
      throw new Error(`refused answer: HTTP ${response.status}`);
    }
    const reply = await response.json();
    if (reply?.id !== id) throw new Error("a reply to another call");
    return reply.result;
  }
}
