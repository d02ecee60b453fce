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

/** Serves {@linkcode minimalHandler} on 127.0.0.1, a free port. */
export function serveMinHttp(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, minimalHandler);
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
