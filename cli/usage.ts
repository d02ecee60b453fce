/**
 * The `rpc` command's help texts, and its version.
 *
 * @module
 */

import meta from "../deno.json" with { type: "json" };

/** The package's version, for `rpc --version`. */
export const VERSION: string = meta.version;

const COMMON = `  --dialect D       jsonrpc (default), simplerpc, quickrpc, or mushroom for
                    http:// URLs (which speak JSON-RPC over HTTP POST by default)
  --ca FILE         a PEM certificate to trust, for tls://, wss:// and https://
  --framing F       for stdio: newline (default, MCP) or content-length (LSP)
  --json            failures as one JSON line on stderr:
                    {"kind": "remote"|"timeout"|"connection"|"usage", "message", "code"?, "data"?}`;

const STDIN = `  --max-stdin bytes params on stdin ('-') larger than this are refused, exit
                    status 2 (default 16777216, 16 MiB)`;

const URLS = `<url> is host:port (TCP), tcp://host:port, tls://host:port,
ws://host:port/path or wss://host:port/path; quickrpc's tcp:host:port too,
and with --dialect quickrpc its udp:port, mux:(t1)(t2), restart:secs:t and
internal:bus:name strings (a call then goes to every peer; udp: binds all
interfaces);
http://host:port/path or https://... for JSON-RPC over HTTP POST, or with
--dialect mushroom for mushroom (its handshake URL);
unix:///path/to.sock for a unix socket (Deno needs --allow-write for it);
stdio:'cmd args' runs cmd and talks over its stdin and stdout (words split
as a shell does, quotes kept, no shell; Deno needs --allow-run), and
'rpc serve stdio:' serves over its own stdin and stdout until stdin ends.`;

/** Each verb's help, and the command's (`rpc`). */
export const USAGE: Readonly<Record<string, string>> = {
  rpc: `Usage: rpc <verb> [options]

Calls and serves remote procedures over TCP, TLS and WebSocket, in the
JSON-RPC 2.0, simplerpc or quickrpc dialects, JSON-RPC over HTTP POST,
mushroom sessions over HTTP (WebSocket or long polling), and nuropb service meshes on RabbitMQ
(amqp://user:password@host:port/vhost with --service NAME).

Verbs:
  serve <url>                    serve the demo API (or --handlers FILE) until SIGINT/SIGTERM
  call <url> <method> [params]   call a method, print the result as JSON
  notify <url> <method> [params] send a notification
  watch <url> [method [params]]  print every notification the server sends, one JSON line each
  stream <url> <method> [params] call a stream method, print each item as one JSON line
  describe <url>                 print the server's OpenRPC description (rpc.discover)
  publish <amqp-url> <topic> [event]
                                 publish an event on a nuropb mesh
  choria ddl <agent.ts>          print the DDL of a Choria external agent

Exit status: 0 done, 1 the remote side answered with an error, 2 bad
arguments or a connection that failed, 3 a timeout.

Control characters from the other side (in errors, results, log lines) are
printed as escapes (\\u001b...); passwords in URLs are printed as ***.

Run 'rpc <verb> --help' for a verb's options; 'rpc --version' for the version.`,
  serve:
    `Usage: rpc serve <url> [--dialect D] [--handlers FILE] [--cert FILE --key FILE] [--idle-timeout ms] [--max-connections n] [--origin O]... [--host NAME]... [--mode BITS]

Serves on <url> (port 0 picks a free one) and prints 'listening on <url>'
once ready. Stops gracefully on SIGINT or SIGTERM, letting calls in flight
finish (up to 5 s).

${URLS}

The demo API: echo(params), add({a, b}), sleep({ms}), fail({message, code?}),
log({line}) (a notification, printed on stderr) and ticks({count, ms?}),
which notifies 'tick' to the caller count times. It answers rpc.discover.

Options:
  --dialect D       jsonrpc (default), simplerpc, quickrpc, or mushroom for
                    http:// URLs (which serve JSON-RPC over HTTP POST by default)
  --handlers FILE   serve the functions FILE exports instead of the demo API
                    (an exported 'discover' object is served as rpc.discover)
  --cert, --key     PEM files, for tls://, wss:// and https://
  --framing F       for stdio:: newline (default, MCP) or content-length (LSP)
  --mode BITS       for unix:///path: the socket file's permission bits, octal
                    (default 600: only its owner can connect). A stale socket
                    file there is replaced; a live one or another file refused
  --idle-timeout ms close a connection idle this long (default 300000; 0: never)
  --max-connections n
                    connections at once; more are refused (default 10000)
  --origin O        for ws://, wss://, http:// and https://: a web page from
                    origin O (https://app.example:8443) may call; repeat it
                    for more, or '*' for any. Without it, only pages from the
                    server's own origin, and clients that are not browsers
                    (no Origin header); others get 403
  --host NAME       for the same servers: requests may name NAME (without a
                    port) in their Host header, as behind a proxy; repeat it
                    for more, or '*' for any. Without it, a server on
                    127.0.0.1, [::1] or localhost takes only those names and
                    addresses (a page whose DNS name was re-pointed here is
                    refused with 403)
  --service NAME    with amqp://user:password@host:port/vhost: serve the demo
                    API as the nuropb service NAME (queue nuropb-NAME-sq)`,
  call: `Usage: rpc call <url> <method> [params] [--timeout ms] [--pretty] [--json] [--dialect D]

Calls <method> with [params], a JSON object or array ('-' reads it from
stdin), and prints the result as JSON on stdout.

${URLS}

Options:
  --timeout ms      give up after this long, exit status 3 (default 30000; 0: never)
  --pretty          print the result indented
  --service NAME    with an amqp:// URL: the nuropb service to call (a remote
                    error prints its nuropb name and description)
${STDIN}
${COMMON}`,
  notify: `Usage: rpc notify <url> <method> [params] [--json] [--dialect D]

Sends a notification (no reply); [params] as for 'rpc call'. With an
amqp:// URL and --service NAME, sends a nuropb command (confirmed by the
broker; exit status 1 when no service queue takes it).

${URLS}

Options:
${STDIN}
${COMMON}`,
  watch:
    `Usage: rpc watch <url> [method [params]] [--count n] [--keep-alive ms] [--timeout ms] [--json] [--dialect D]

Connects, calls [method] if given (to subscribe, say), then prints every
notification the server sends as one JSON line, {"method": ..., "params": ...},
until SIGINT/SIGTERM, --count notifications, or the server closes (status 2).
Calls from the server are answered "Method not found".

${URLS}

Options:
  --count n         stop after n notifications
  --keep-alive ms   ping the server after this long with nothing received, so
                    its idle timeout does not close a quiet watch; use less
                    than half the server's --idle-timeout (default 30000; 0: never)
  --timeout ms      for the subscribing call (default 30000)
${STDIN}
${COMMON}`,
  stream:
    `Usage: rpc stream <url> <method> [params] [--count n] [--credit n] [--timeout ms] [--json] [--dialect D]

Calls a stream method (a handler that returns items; see the README,
"Streams and progress") and prints each item as one JSON line as it comes,
until the stream ends, --count items, or SIGINT/SIGTERM (which cancel it).
[params] as for 'rpc call'. Only JSON-RPC over a connection carries
streams: simplerpc, quickrpc and http:// URLs are refused (status 2).

${URLS}

Options:
  --count n         stop after n items (the stream is cancelled)
  --credit n        items the server may send ahead of printing (default 64)
  --timeout ms      for the first item (default 30000); an open stream may idle
${STDIN}
${COMMON}`,
  describe: `Usage: rpc describe <url> [--timeout ms] [--json] [--dialect D]

Prints the OpenRPC document the server answers to rpc.discover, indented.
A server serves one only when it is given one (rpc serve's demo API does).
With an amqp:// URL and --service NAME, prints the service's nuropb
description (nuropb_describe).

${URLS}

Options:
  --timeout ms      give up after this long, exit status 3 (default 30000)
${COMMON}`,
  publish: `Usage: rpc publish <amqp-url> <topic> [event] [--json]

Publishes [event] (JSON; '-' reads it from stdin; null when left out) under
<topic> on the events exchange of the nuropb mesh at <amqp-url>
(amqp://user:password@host:port/vhost). Services bound to a matching topic
pattern receive it.

Options:
${STDIN}
  --json            failures as one JSON line on stderr`,
  choria: `Usage: rpc choria ddl <agent.ts> [--export NAME]

Prints the JSON DDL of the Choria external agent that <agent.ts> exports
(made with defineAgent from @seed/rpc/choria), checked against Choria's DDL
schema. Save it as <name>.json beside the agent's executable.

Options:
  --export NAME     which export, when the module exports several agents`,
};
