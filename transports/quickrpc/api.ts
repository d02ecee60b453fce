/**
 * Builds quickrpc transports and a ready {@linkcode Peer} from quickrpc's
 * config strings or from objects, as a Python user configures
 * `RemoteAPI(codec=…, transport=…, security=…)`.
 *
 * @module
 */

import { Peer } from "../../protocol/peer/peer.ts";
import type { PeerOptions } from "../../protocol/peer/peer_options.ts";
import {
  parseCodecString,
  parseSecurityString,
  parseTransportString,
  type QuickRpcCodecSpec,
  type QuickRpcTransportSpec,
} from "../../protocol/quickrpc/config.ts";
import {
  noSecurity,
  type SecurityProvider,
  type SecuritySession,
} from "../../protocol/quickrpc/quickrpc_security.ts";
import type { QuickRpcTransport } from "./_transport.ts";
import { QuickRpcChannel } from "./channel.ts";
import { QuickRpcInternal } from "./internal.ts";
import { QuickRpcMux } from "./mux.ts";
import { QuickRpcRestart, type QuickRpcRestartOptions } from "./restart.ts";
import { QuickRpcStdio } from "./stdio.ts";
import { QuickRpcTcpClient, QuickRpcTcpServer } from "./tcp.ts";
import { QuickRpcUdp, type QuickRpcUdpOptions } from "./udp.ts";
import type { QuickRpcWriteOptions } from "./_writer.ts";

/** Options for the transports a config string makes. */
export interface QuickRpcTransportOptions {
  /** For every `udp:` transport. */
  udp?: QuickRpcUdpOptions;
  /** For every `restart:` transport. */
  restart?: QuickRpcRestartOptions;
  /** The write bounds of every `tcp:`, `tcpserv:` and `stdio:` transport. */
  write?: QuickRpcWriteOptions;
}

/**
 * Makes the transport a quickrpc transport string (or its parsed object)
 * names; a transport object is returned as it is.
 *
 * @example A mux of a TCP server and UDP, from a string
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quickRpcTransport } from "@seed/rpc/quickrpc/transports";
 * const transport = quickRpcTransport("mux:(tcpserv:127.0.0.1:0)(udp:0)");
 * assertEquals(transport.name, "mux:(127.0.0.1:0)(udp:0)");
 * ```
 */
export function quickRpcTransport(
  config: string | QuickRpcTransportSpec | QuickRpcTransport,
  options: QuickRpcTransportOptions = {},
): QuickRpcTransport {
  if (typeof config === "string") return quickRpcTransport(parseTransportString(config), options);
  if ("open" in config) return config;
  switch (config.kind) {
    case "stdio":
      return new QuickRpcStdio(options.write);
    case "tcp":
      return new QuickRpcTcpClient(config.host, config.port, options.write);
    case "tcpserv":
      return new QuickRpcTcpServer(config.iface, config.port, options.write);
    case "udp":
      return new QuickRpcUdp(config.port, options.udp);
    case "mux":
      return new QuickRpcMux(config.parts.map((part) => quickRpcTransport(part, options)));
    case "restart":
      return new QuickRpcRestart(
        quickRpcTransport(config.sub, options),
        config.seconds,
        options.restart,
      );
    case "internal":
      return new QuickRpcInternal(config.bus, config.name);
  }
}

/** The security session maker for a security string or provider. */
function securityOption(
  security: string | SecurityProvider | undefined,
): (() => SecuritySession) | undefined {
  if (security === undefined) return undefined;
  const name = typeof security === "string" ? parseSecurityString(security) : security.name;
  if (name === "null") return undefined;
  if (typeof security === "string") {
    const provider = noSecurity("");
    return () => provider.open();
  }
  if (name !== "blindly_believe_everything") {
    throw new TypeError(
      `quickrpc security '${name}' checks incoming frames: use secureTransport over tcp for it`,
    );
  }
  return () => security.open();
}

/** What {@linkcode quickRpcApi} takes: quickrpc's three settings, and the peer's options. */
export interface QuickRpcApiOptions extends PeerOptions {
  /**
   * The codec: `"jrpc"`, `"jrpc:<delimiter>"`, `"terse"`, or its object.
   *
   * @default {"jrpc"}
   */
  codec?: string | QuickRpcCodecSpec;
  /** The transport: a quickrpc transport string, its object, or a transport. */
  transport: string | QuickRpcTransportSpec | QuickRpcTransport;
  /**
   * `"null"`, `"blindly_believe_everything"`, or {@linkcode nullSecurity} /
   * {@linkcode noSecurity}(user).
   *
   * @default {"null"}
   */
  security?: string | SecurityProvider;
  /** Options for the transports a string makes. */
  transports?: QuickRpcTransportOptions;
  /**
   * The largest telegram accepted, in characters.
   *
   * @default {16 MiB}
   */
  maxFrameBytes?: number;
}

/** A running quickrpc API: the peer, and the channel under it. */
export interface QuickRpcApi extends AsyncDisposable {
  /** Calls, notifications (`{ to }` for one peer, else every peer) and handlers. */
  readonly peer: Peer;
  /** The channel (its transport, and what it dropped). */
  readonly channel: QuickRpcChannel;
  /** Closes the peer, the channel and the transport. */
  close(): Promise<void>;
}

/**
 * Opens a quickrpc API as `RemoteAPI(codec, transport, security)` does:
 * the transport is opened, and a {@linkcode Peer} serves `handlers` on it.
 * Handlers see the sender's name as `ctx.from`; replies go back to it.
 *
 * @example A server and a client over TCP, from config strings
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quickRpcApi, type QuickRpcTcpServer } from "@seed/rpc/quickrpc/transports";
 *
 * await using server = await quickRpcApi({
 *   codec: "jrpc",
 *   transport: "tcpserv:127.0.0.1:0",
 *   security: "null",
 *   handlers: { add: ({ a, b }: { a: number; b: number }) => a + b },
 * });
 * const port = (server.channel.transport as QuickRpcTcpServer).port;
 * await using client = await quickRpcApi({ transport: `tcp:127.0.0.1:${port}` });
 * assertEquals(await client.peer.call("add", { a: 2, b: 3 }), 5);
 * ```
 */
export async function quickRpcApi(options: QuickRpcApiOptions): Promise<QuickRpcApi> {
  const codec = typeof options.codec === "string"
    ? parseCodecString(options.codec)
    : options.codec ?? { kind: "jrpc" as const, delimiter: "\0" };
  const security = securityOption(options.security);
  const channel = new QuickRpcChannel(quickRpcTransport(options.transport, options.transports), {
    codec,
    ...(security ? { security } : {}),
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await channel.open();
  const peer = new Peer(channel, options);
  const close = () => peer.close();
  return { peer, channel, close, [Symbol.asyncDispose]: close };
}
