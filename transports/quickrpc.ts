/**
 * quickrpc's transports (loehnertj/quickrpc), built from its config strings
 * or from objects: `stdio:`, `tcp:<host>:<port>`, `tcpserv:<iface>:<port>`,
 * `udp:<port>`, `mux:(<t1>)(<t2>)…`, `restart:<secs>:<sub>` and
 * `internal:<bus>:<name>`, with the `jrpc` (`jrpc:<delimiter>`) and `terse`
 * codecs and the `null` / `blindly_believe_everything` security. Stream
 * transports bound their unwritten bytes as TcpTransport does
 * ({@linkcode QuickRpcWriteOptions}).
 *
 * {@linkcode quickRpcApi} opens one API over them, as the original's
 * `RemoteAPI(codec, transport, security)`: one {@linkcode Peer} whose
 * handlers see the sender's name in `ctx.from`, whose replies go back to
 * that sender, and whose calls and notifications go to one peer (`{ to }`)
 * or to every peer (a broadcast on UDP).
 *
 * @example Two APIs on an in-process bus
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quickRpcApi } from "@seed/rpc/quickrpc/transports";
 *
 * await using calc = await quickRpcApi({
 *   transport: "internal:demo:calc",
 *   handlers: { add: ({ a, b }: { a: number; b: number }) => a + b },
 * });
 * await using user = await quickRpcApi({ transport: "internal:demo:user" });
 * assertEquals(await user.peer.call("add", { a: 1, b: 2 }, { to: "calc" }), 3);
 * ```
 *
 * @module
 */

export { NotRunning, type QuickRpcSink, type QuickRpcTransport } from "./quickrpc/_transport.ts";
export {
  type QuickRpcApi,
  quickRpcApi,
  type QuickRpcApiOptions,
  quickRpcTransport,
  type QuickRpcTransportOptions,
} from "./quickrpc/api.ts";
export {
  QuickRpcChannel,
  type QuickRpcChannelOptions,
  type QuickRpcChannelStats,
} from "./quickrpc/channel.ts";
export { QuickRpcInternal } from "./quickrpc/internal.ts";
export { QuickRpcMux } from "./quickrpc/mux.ts";
export { QuickRpcRestart, type QuickRpcRestartOptions } from "./quickrpc/restart.ts";
export { QuickRpcChild, QuickRpcStdio, QuickRpcStreams } from "./quickrpc/stdio.ts";
export { QuickRpcTcpClient, QuickRpcTcpServer } from "./quickrpc/tcp.ts";
export { QuickRpcUdp, type QuickRpcUdpOptions, type QuickRpcUdpStats } from "./quickrpc/udp.ts";
export type { QuickRpcWriteOptions } from "./quickrpc/_writer.ts";
