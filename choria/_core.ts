/**
 * Everything choria/ takes from the core library, in one place: the
 * message model and its seams (codec, channel), the Peer that dispatches,
 * and the error model. Choria is one more wire; this is its whole
 * dependency on the rest of the package.
 *
 * @module
 */

export type { Channel, Delivery } from "../protocol/wire/channel.ts";
export { type CloseReason, toCloseReason } from "../protocol/wire/close.ts";
export type { Codec } from "../protocol/wire/codec.ts";
export type { CallContext } from "../protocol/peer/context.ts";
export { ConnectionClosed, ErrorCode, RpcError } from "../protocol/wire/errors.ts";
export { InboxChannel } from "../protocol/wire/inbox.ts";
export type { Interceptor } from "../protocol/peer/intercept.ts";
export {
  type AjvError,
  formatIssues,
  issuesFromAjv,
  type Validate,
  type ValidationIssue,
} from "../protocol/contract/issues.ts";
export type { LatencySummary } from "../protocol/peer/latency.ts";
export type { Logger } from "../protocol/shared/logger.ts";
export type { ErrorObject, Message } from "../protocol/wire/message.ts";
export { type Handler, Peer, type PeerStats } from "../protocol/peer/peer.ts";
export { ACCEPTED } from "../protocol/wire/transport.ts";
