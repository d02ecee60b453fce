/**
 * Which browser pages may use an endpoint of the WebSocket or mushroom
 * wire, written once for both: the `Origin` check (same origin by default,
 * or a list), and the `Host` check that keeps DNS rebinding out of a
 * listener on loopback. A page on `evil.example` whose name was re-pointed
 * to 127.0.0.1 is same-origin with itself (`Origin: http://evil.example:8080`,
 * `Host: evil.example:8080`), so the `Origin` check alone lets it in; only
 * the name the request was sent to tells it apart.
 *
 * @module
 */

/** Options of an endpoint that browsers may reach. */
export interface BrowserAccessOptions {
  /**
   * Origins whose pages may connect (`https://app.example.net`), or `"*"`
   * for any. A request with another `Origin` is refused with 403; one
   * without (not from a browser) is let through. Left out, only pages
   * served from this very server may: the `Origin`'s host and port are the
   * request's (its `Host`), or those of mushroom's `publicUrl`.
   *
   * @default {the same origin only}
   */
  origins?: readonly string[] | "*";
  /**
   * The host names (without a port) requests may be sent to, by their
   * `Host` header, besides `localhost` and IP addresses (which a web page
   * cannot re-point); a request to another name is refused with 403, so a
   * page whose DNS name was re-pointed to this machine (DNS rebinding)
   * cannot call the server as if from its own origin. `"*"` takes any.
   * Left out, `listen()` on a loopback address (`127.0.0.1`, `[::1]`,
   * `localhost`) takes only those and mushroom's `publicUrl`'s name; on any
   * other address, and for `websocketHandler` or `mushroomHandler` in your
   * own `Deno.serve` (which cannot know by which names they are reached),
   * any name is taken: give `hosts` there if browsers on that machine may
   * reach it. A handler given `Deno.serve`'s handler info applies the
   * loopback rule to requests from a loopback client.
   *
   * @default {localhost and IP addresses only, for listen() on loopback; any name otherwise}
   */
  hosts?: readonly string[] | "*";
}

/** Whether `hostname` (of a URL to listen on) is a loopback address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** What an endpoint reads of `Deno.serve`'s handler info (a `Deno.ServeHandlerInfo` fits). */
export interface ClientInfo {
  /** The client's address. */
  readonly remoteAddr?: { readonly hostname?: string };
}

/**
 * Whether the client is on loopback: then the request arrived on a loopback
 * address, and a handler in someone's `Deno.serve` checks `Host` as
 * `listen()` on loopback does (DNS rebinding).
 */
export function fromLoopback(info: ClientInfo | undefined): boolean {
  const name = info?.remoteAddr?.hostname;
  return name !== undefined && (isLoopback(name) || /^::ffff:127\./i.test(name));
}

/** The checks of one endpoint; see {@linkcode BrowserAccessOptions}. */
export class BrowserAccess {
  #origins: ReadonlySet<string> | "*" | undefined;
  /** Names taken in `Host` besides localhost and addresses; `undefined`: any. */
  #hosts: ReadonlySet<string> | undefined;
  #publicOrigin: string | undefined;

  /**
   * @param loopback Whether the endpoint listens on a loopback address
   *   (`false` when unknown: a handler in someone's `Deno.serve`).
   * @param publicUrl Where clients reach it (mushroom's `publicUrl`).
   */
  constructor(options: BrowserAccessOptions, loopback: boolean, publicUrl?: URL) {
    const { origins, hosts } = options;
    this.#origins = origins === undefined || origins === "*" ? origins : new Set(origins);
    this.#publicOrigin = publicUrl?.origin;
    if (hosts === "*" || (hosts === undefined && !loopback)) return;
    const names = new Set((hosts ?? []).map((name) => name.toLowerCase()));
    if (publicUrl !== undefined) names.add(publicUrl.hostname);
    this.#hosts = names;
  }

  /** Whether `url` (the request's, built from its `Host`) names a host requests may be sent to. */
  hostAllowed(url: URL): boolean {
    if (this.#hosts === undefined) return true;
    const name = url.hostname;
    return name === "localhost" || name.startsWith("[") || /^[\d.]+$/.test(name) ||
      this.#hosts.has(name);
  }

  /**
   * What to answer in `Access-Control-Allow-Origin` to `request` (whose
   * URL is `url`): `null` when it has no `Origin` (not a browser),
   * `undefined` when its origin may not call.
   */
  allowedOrigin(request: Request, url: URL): string | null | undefined {
    const origin = request.headers.get("origin");
    if (origin === null) return null;
    const origins = this.#origins;
    if (origins === "*") return "*";
    if (origins !== undefined) return origins.has(origin) ? origin : undefined;
    if (origin === this.#publicOrigin) return origin;
    // Same host and port, any scheme (a TLS proxy in front): from this server.
    return URL.canParse(origin) && new URL(origin).host === url.host ? origin : undefined;
  }
}
