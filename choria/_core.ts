/**
 * Everything choria/ takes from the core library, in one place: the
 * message model and its seams (codec, channel), the Peer that dispatches,
 * and the error model. Choria is one more wire; this is its whole
 * dependency on the rest of the package.
 *
 * @module
 */

export type { Channel, Delivery } from "../protocol/channel.ts";
export { type CloseReason, toCloseReason } from "../protocol/close.ts";
export type { Codec } from "../protocol/codec.ts";
export type { CallContext } from "../protocol/context.ts";
export { ConnectionClosed, ErrorCode, RpcError } from "../protocol/errors.ts";
export { InboxChannel } from "../protocol/inbox.ts";
export type { Interceptor } from "../protocol/intercept.ts";
export {
  type AjvError,
  formatIssues,
  issuesFromAjv,
  type Validate,
  type ValidationIssue,
} from "../protocol/issues.ts";
export type { LatencySummary } from "../protocol/latency.ts";
export type { Logger } from "../protocol/logger.ts";
export type { ErrorObject, Message } from "../protocol/message.ts";
export { type Handler, Peer, type PeerStats } from "../protocol/peer.ts";
export { ACCEPTED } from "../protocol/transport.ts";
