/**
 * quickrpc's config strings, parsed as the original's `fromstring` factories
 * parse them (loehnertj/quickrpc: transports.py, network_transports.py,
 * bus_transport.py, codecs.py, security.py): `"shorthand:params"`, the
 * shorthand looked up among the known ones. Pure: the sockets are in
 * `@seed/rpc/quickrpc/transports`.
 *
 * @module
 */

/** A quickrpc transport, as a string names it (or as an object says it). */
export type QuickRpcTransportSpec =
  | { readonly kind: "stdio" }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "tcpserv"; readonly iface: string; readonly port: number }
  | { readonly kind: "udp"; readonly port: number }
  | { readonly kind: "mux"; readonly parts: readonly QuickRpcTransportSpec[] }
  | { readonly kind: "restart"; readonly seconds: number; readonly sub: QuickRpcTransportSpec }
  | { readonly kind: "internal"; readonly bus: string; readonly name: string };

/**
 * A quickrpc codec and what ends each of its telegrams: `jrpc` (the text
 * after `jrpc:`, else NUL) or `terse` (always a newline).
 */
export type QuickRpcCodecSpec =
  | { readonly kind: "jrpc"; readonly delimiter: string }
  | { readonly kind: "terse"; readonly delimiter: "\n" };

/** A quickrpc security string: `null` or `blindly_believe_everything`. */
export type QuickRpcSecurityName = "null" | "blindly_believe_everything";

/** Why each Qt transport of the original (QtTransports.py) is refused. */
const QT = new Set(["qprocess", "qtcp", "qudp"]);

function refuse(expression: string, why: string): never {
  throw new TypeError(`quickrpc transport '${expression}': ${why}`);
}

/** A port as Python's `int()` reads it, within 0..65535. */
function port(expression: string, text: string): number {
  const trimmed = text.trim();
  if (!/^\+?\d+$/.test(trimmed) || Number(trimmed) > 65535) {
    refuse(expression, `'${text}' is not a port`);
  }
  return Number(trimmed);
}

/**
 * Splits off the first parenthesised group, as quickrpc's `paren_partition`:
 * the text must start with one of `( [ { <`; returns what is inside and
 * what follows the matching close.
 *
 * @example The first group of a mux string
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parenPartition } from "@seed/rpc/quickrpc";
 * assertEquals(parenPartition("(a (b) c)(d)"), ["a (b) c", "(d)"]);
 * ```
 */
export function parenPartition(text: string): [inside: string, rest: string] {
  const open = text[0] ?? "";
  const at = "([{<".indexOf(open);
  if (open === "" || at === -1) throw new TypeError(`'${text}' must start with a paren`);
  const close = ")]}>"[at];
  let balance = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === open) balance++;
    else if (text[i] === close) balance--;
    if (balance === 0) return [text.slice(1, i), text.slice(i + 1)];
  }
  throw new TypeError(`'${text}': the opening paren is not closed`);
}

/**
 * Parses a quickrpc transport string: `stdio:`, `tcp:<host>:<port>`,
 * `tcpserv:<iface>:<port>`, `udp:<port>`, `mux:(<t1>)(<t2>)…`,
 * `restart:<secs>:<sub>` and `internal:<bus>:<name>`. The Qt transports
 * (`qprocess:`, `qtcp:`, `qudp:`) are refused: they run in a PyQt4 event
 * loop, which has no counterpart here (use `tcp:`, `udp:` or a child
 * process over stdio instead).
 *
 * @example A restarting client and a mux
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseTransportString } from "@seed/rpc/quickrpc";
 * assertEquals(parseTransportString("restart:5:tcp:localhost:8888"), {
 *   kind: "restart",
 *   seconds: 5,
 *   sub: { kind: "tcp", host: "localhost", port: 8888 },
 * });
 * assertEquals(parseTransportString("mux:(udp:8888)(tcpserv::8889)"), {
 *   kind: "mux",
 *   parts: [{ kind: "udp", port: 8888 }, { kind: "tcpserv", iface: "", port: 8889 }],
 * });
 * ```
 */
export function parseTransportString(expression: string): QuickRpcTransportSpec {
  const colon = expression.indexOf(":");
  const shorthand = colon === -1 ? expression : expression.slice(0, colon);
  const params = colon === -1 ? "" : expression.slice(colon + 1);
  switch (shorthand) {
    case "stdio":
      return { kind: "stdio" };
    case "tcp":
    case "tcpserv": {
      // The original: `_, host, port = expression.split(':')`.
      const parts = expression.split(":");
      if (parts.length !== 3) refuse(expression, `expected ${shorthand}:<host>:<port>`);
      const [, host, text] = parts as [string, string, string];
      if (shorthand === "tcp") {
        if (host === "") refuse(expression, "a host is required");
        return { kind: "tcp", host, port: port(expression, text) };
      }
      return { kind: "tcpserv", iface: host, port: port(expression, text) };
    }
    case "udp":
      return { kind: "udp", port: port(expression, params) };
    case "mux": {
      const parts: QuickRpcTransportSpec[] = [];
      let rest = params;
      while (rest !== "") {
        let inside: string;
        try {
          [inside, rest] = parenPartition(rest);
        } catch (error) {
          refuse(expression, (error as Error).message);
        }
        parts.push(parseTransportString(inside));
      }
      return { kind: "mux", parts };
    }
    case "restart": {
      const at = params.indexOf(":");
      if (at === -1) refuse(expression, "expected restart:<secs>:<transport>");
      const interval = params.slice(0, at).trim();
      if (interval !== "" && !/^[+-]?\d+$/.test(interval)) {
        refuse(expression, `'${interval}' is not a whole number of seconds`);
      }
      // Empty means 10 s; the original polls once a second, so less is 1 s.
      const seconds = interval === "" ? 10 : Math.max(1, Number(interval));
      return { kind: "restart", seconds, sub: parseTransportString(params.slice(at + 1)) };
    }
    case "internal": {
      // `internal`, `internal:<bus>` or `internal:<bus>:<name>`; extra parts are ignored.
      const [, bus = "", name = ""] = expression.split(":");
      return { kind: "internal", bus: bus === "" ? "internal" : bus, name };
    }
    default:
      if (QT.has(shorthand)) {
        refuse(
          expression,
          "Qt transports run inside a PyQt4 event loop and are not offered; use tcp:, udp: or a child process over stdio",
        );
      }
      return refuse(expression, `no transport has the shorthand '${shorthand}'`);
  }
}

/**
 * Parses a quickrpc codec string: `jrpc` or `jrpc:<delimiter>`, the
 * delimiter being the text after the colon taken as it is (ASCII, as the
 * original's `delim.encode('ascii')`; no escapes are read: `"jrpc:\n"` in
 * Python or TypeScript source is a newline; empty means NUL), or `terse`
 * (anything after its colon ignored, as the original does).
 *
 * @example A newline-delimited jrpc, and terse
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseCodecString } from "@seed/rpc/quickrpc";
 * assertEquals(parseCodecString("jrpc"), { kind: "jrpc", delimiter: "\0" });
 * assertEquals(parseCodecString("jrpc:\n"), { kind: "jrpc", delimiter: "\n" });
 * assertEquals(parseCodecString("terse"), { kind: "terse", delimiter: "\n" });
 * ```
 */
export function parseCodecString(expression: string): QuickRpcCodecSpec {
  const colon = expression.indexOf(":");
  const shorthand = colon === -1 ? expression : expression.slice(0, colon);
  const params = colon === -1 ? "" : expression.slice(colon + 1);
  // One case per codec shorthand.
  switch (shorthand) {
    case "terse":
      return { kind: "terse", delimiter: "\n" };
    case "jrpc":
      if ([...params].some((c) => c.charCodeAt(0) > 0x7f)) {
        throw new TypeError(`quickrpc codec '${expression}': the delimiter must be ASCII`);
      }
      return { kind: "jrpc", delimiter: params === "" ? "\0" : params };
    default:
      throw new TypeError(
        `quickrpc codec '${expression}': no codec has the shorthand '${shorthand}'`,
      );
  }
}

/**
 * Parses a quickrpc security string: `null` (no header, nothing checked)
 * or `blindly_believe_everything` (a `{"user": ""}` header, nothing
 * checked); anything after a colon is ignored, as the original does.
 *
 * @example Both security strings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseSecurityString } from "@seed/rpc/quickrpc";
 * assertEquals(parseSecurityString("blindly_believe_everything"), "blindly_believe_everything");
 * ```
 */
export function parseSecurityString(expression: string): QuickRpcSecurityName {
  const shorthand = expression.split(":")[0];
  if (shorthand === "null" || shorthand === "blindly_believe_everything") return shorthand;
  throw new TypeError(
    `quickrpc security '${expression}': only null and blindly_believe_everything exist`,
  );
}
