/**
 * `@seed/rpc`: call and serve remote procedures over any wire with one API.
 *
 * This entrypoint is the core, with no dependencies: the message model, the
 * seams every wire implements ({@linkcode Transport}, {@linkcode Listener},
 * {@linkcode Channel}, {@linkcode Codec}, {@linkcode Dialect}), the
 * JSON-RPC 2.0 dialect, the bidirectional {@linkcode Peer}, the
 * {@linkcode Server} registry, the error model, and the in-memory wires
 * ({@linkcode memoryPair}, and {@linkcode MemoryBus} for many parties).
 * Each network wire has its own entrypoint (`@seed/rpc/tcp`, ...), and typed
 * contracts theirs (`@seed/rpc/contract`), so importing this one never loads
 * a socket, a broker client or a schema validator.
 *
 * Where a byte goes: a {@linkcode Transport} yields a frame →
 * {@linkcode framed} decodes it with the dialect's {@linkcode Codec} into a
 * {@linkcode Delivery} → the {@linkcode Peer} settles its own pending call,
 * or dispatches the request to its handler → the reply goes back the same
 * way.
 *
 * @example A server and a client over the in-memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair, Peer, Server } from "@seed/rpc";
 *
 * const server = new Server({ handlers: { add: ({ a, b }) => a + b } });
 * const [serverEnd, clientEnd] = memoryPair();
 * server.add(serverEnd);
 * const client = new Peer(clientEnd);
 * assertEquals(await client.call("add", { a: 1, b: 2 }), 3);
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

export type {
  CancelMessage,
  CreditMessage,
  ErrorMessage,
  ErrorObject,
  Id,
  InvalidMessage,
  ItemMessage,
  LostMessage,
  Message,
  Meta,
  NotificationMessage,
  ProgressMessage,
  RequestMessage,
  ResultMessage,
} from "./protocol/wire/message.ts";
export type { Codec, CodecFeatures } from "./protocol/wire/codec.ts";
export type { Dialect } from "./protocol/wire/dialect.ts";
export type { Channel, Delivery, Outcome } from "./protocol/wire/channel.ts";
export { InboxChannel } from "./protocol/wire/inbox.ts";
export {
  ACCEPTED,
  InvalidFrame,
  type Listener,
  type Transport,
} from "./protocol/wire/transport.ts";
export { framed, FramedChannel, type FramedOptions } from "./protocol/wire/framed.ts";
export {
  CANCEL_METHOD,
  jsonRpc,
  JsonRpcCodec,
  type JsonRpcCodecOptions,
  jsonRpcTagged,
} from "./protocol/dialects/jsonrpc.ts";
export { CloseCode, type CloseReason, closeReason, toCloseReason } from "./protocol/wire/close.ts";
export {
  CallAgain,
  CallTimeout,
  ConnectionClosed,
  ErrorCode,
  FrameTooLarge,
  NotDelivered,
  RemoteError,
  RpcError,
  standardMessage,
  TooManyCalls,
  Unsupported,
} from "./protocol/wire/errors.ts";
export {
  consoleLogger,
  type Logger,
  rateLimitedLogger,
  type RateLimitOptions,
  silentLogger,
} from "./protocol/shared/logger.ts";
export type { CallContext, PeerHandle } from "./protocol/peer/context.ts";
export {
  type CallOptions,
  type Handler,
  type IdSource,
  type NotifyOptions,
  Peer,
  type PeerOptions,
  type PeerStats,
  type StreamOptions,
  type StreamReader,
} from "./protocol/peer/peer.ts";
export {
  ReconnectingChannel,
  type ReconnectingDetail,
  type ReconnectOptions,
} from "./protocol/wire/reconnect.ts";
export { PING_METHOD } from "./protocol/peer/keepalive.ts";
export { type Interceptor, type Invocation } from "./protocol/peer/intercept.ts";
export { LatencyHistogram, type LatencySummary } from "./protocol/peer/latency.ts";
export {
  type ContentDescriptor,
  type DescribedMethod,
  DISCOVER_METHOD,
  OPENRPC_VERSION,
  type OpenRpcDocument,
  type OpenRpcInfo,
  type OpenRpcMethod,
  openRpcMethod,
} from "./protocol/contract/openrpc.ts";
export type { JsonSchema } from "./protocol/contract/schema.ts";
export { ConcurrencyLimit } from "./protocol/peer/limit.ts";
export {
  type AddOptions,
  type Connection,
  type Recipients,
  Server,
  type ServerOptions,
  type ShutdownOptions,
} from "./protocol/peer/server.ts";
export { memoryPair, type MemoryPairOptions, MemoryTransport } from "./transports/memory.ts";
export {
  BusChannel,
  type BusSettlement,
  MemoryBus,
  type MemoryBusOptions,
} from "./transports/memory_bus.ts";
