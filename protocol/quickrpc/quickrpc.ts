/**
 * The quickrpc dialect (loehnertj/quickrpc), byte-compatible both ways: its
 * `jrpc` codec, JSON-RPC 2.0 objects written as Python writes JSON, one per
 * frame, frames ending with NUL (`\0`), plus the `rpc.secinfo` header frame
 * of its "authenticated JSON-RPC" and `{"__bytes": base64}` for binary.
 *
 * {@linkcode quickRpc} is the dialect (NUL-ended on byte streams, one
 * telegram per message on message wires); its codec is made per connection,
 * since it remembers the secinfo header and the method of each call it
 * answers.
 *
 * | ours | quickrpc |
 * |---|---|
 * | `call(m, {…})` | `{"jsonrpc": "2.0", "method": m, "params": {…}, "id": n}` (ids from 1) |
 * | `notify(m, {…})` | the same without `id` (id 0 means notification) |
 * | a request with `"id": 0` | answered without an `id` member, as the original does |
 * | result | `{"jsonrpc": "2.0", "result": …, "id": n}` |
 * | any error | `{"jsonrpc": "2.0", "error": {"code": 0, "message": …, "data": "<Python-style exception line>"}, "id": n}`; never for id 0 |
 * | unknown method | message `Incoming call of m not defined on the api` |
 * | by-position params | refused: `Please call with named parameters only!` |
 * | params that break a contract | `incoming call with wrong signature` (our detail kept in `data`) |
 * | `Uint8Array` | `{"__bytes": "<base64>"}`, both ways |
 * | `rpc.secinfo` header before a frame | the message's `meta.secinfo` |
 *
 * Undecodable telegrams (not JSON, not an object, `jsonrpc` not `"2.0"`) are
 * logged and dropped: they carry no id to answer (the original's server dies
 * on them). Empty telegrams (`\0\0`) are skipped; text after the first JSON
 * value of a telegram is ignored (Python's `raw_decode`).
 *
 * {@linkcode quickRpcTerse} is the original's `terse` codec: `method[/id]
 * name:value …` lines, numbers as Python's `%g` (six significant digits:
 * 1234567 is sent as `1.23457e+06`), booleans as `1`/`0`, `"escaped"`
 * strings, `'base64'` bytes, `[v v]` lists, `{k:v}` maps, `None` for null
 * (ours), replies `[id]:value` and errors `[id]! message:"…" details:"…"`.
 * The original's decoder never reads an id or a reply, so with it terse
 * carries notifications only; between our peers calls work both ways. A
 * reply the original wrote without its newline ends where its value closes.
 *
 * The announcer ({@linkcode announcerContract}, {@linkcode announce},
 * {@linkcode seek}) is quickrpc's `seek(filter)` / `advertise(description)`
 * discovery, over any of these dialects.
 *
 * @example A Deno client and server speaking quickrpc on loopback
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Peer, Server } from "@seed/rpc";
 * import { quickRpc } from "@seed/rpc/quickrpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } })
 *   .serve(listen("tcp://127.0.0.1:0", { dialect: quickRpc }));
 * const client = new Peer(await connect(server.addr, { dialect: quickRpc }));
 * assertEquals(await client.call("add", { a: 2, b: 3 }), 5);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

export {
  parseFirstJsonValue,
  parseQuickRpcTransport,
  quickRpc,
  QuickRpcCodec,
  type QuickRpcEndpoint,
  SECINFO_METHOD,
} from "./quickrpc_codec.ts";
export {
  parenPartition,
  parseCodecString,
  parseSecurityString,
  parseTransportString,
  type QuickRpcCodecSpec,
  type QuickRpcSecurityName,
  type QuickRpcTransportSpec,
} from "./config.ts";
export {
  hmacSecurity,
  type HmacSecurityOptions,
  noSecurity,
  nullSecurity,
  type SecInfo,
  type SecuredFrame,
  secureListener,
  secureTransport,
  type SecureTransportOptions,
  SecurityError,
  type SecurityProvider,
  type SecuritySession,
} from "./quickrpc_security.ts";
export { pythonG, quickRpcTerse, QuickRpcTerseCodec } from "./terse_codec.ts";
export {
  type Advertisement,
  announce,
  announcerContract,
  announcerHandlers,
  type AnnouncerOptions,
  seek,
  type SeekOptions,
} from "./announcer.ts";
