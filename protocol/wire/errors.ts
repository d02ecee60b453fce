/**
 * The error model: the JSON-RPC codes, {@linkcode RpcError} (throw one from a
 * handler to choose what the caller receives) and the typed errors a caller
 * matches with `instanceof` ({@linkcode RemoteError},
 * {@linkcode ConnectionClosed}, {@linkcode CallTimeout}, ...).
 *
 * @example Throw from a handler, match on the caller
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { RemoteError, RpcError } from "@seed/rpc";
 *
 * const thrown = new RpcError(-32000, "Out of stock", { sku: "A-1" });
 * // ...crosses the wire, and the caller receives:
 * const received = new RemoteError(thrown.toJSON());
 * assertEquals(received instanceof RpcError, true);
 * assertEquals([received.code, received.message, received.data], [-32000, "Out of stock", { sku: "A-1" }]);
 * ```
 *
 * @module
 */

import { type CloseCode, type CloseReason, closeReason, toCloseReason } from "./close.ts";
import type { ErrorObject } from "./message.ts";

/**
 * The error codes JSON-RPC 2.0 defines, and the ones this library adds in the
 * implementation-defined server-error range (-32000 to -32099).
 *
 * @example Error codes
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ErrorCode } from "@seed/rpc";
 * assertEquals(ErrorCode.MethodNotFound, -32601);
 * ```
 */
export const ErrorCode = {
  /** Invalid JSON was received. */
  ParseError: -32700,
  /** The JSON sent is not a valid request object. */
  InvalidRequest: -32600,
  /** The method does not exist or is not available. */
  MethodNotFound: -32601,
  /** Invalid method parameters. */
  InvalidParams: -32602,
  /** Internal error (a handler failed, or its result broke its schema). */
  InternalError: -32603,
  /** A frame was larger than the receiver's limit. */
  FrameTooLarge: -32001,
  /** The receiver is shutting down and takes no new calls. */
  ShuttingDown: -32002,
  /** A handler asked to be called again, and the call could not be redelivered. */
  CallAgainRefused: -32003,
} as const;

/**
 * The standard message for each standard code, as the JSON-RPC 2.0
 * specification words it.
 *
 * @example The standard message of a code
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ErrorCode, standardMessage } from "@seed/rpc";
 * assertEquals(standardMessage(ErrorCode.ParseError), "Parse error");
 * ```
 */
export function standardMessage(code: number): string {
  switch (code) {
    case ErrorCode.ParseError:
      return "Parse error";
    case ErrorCode.InvalidRequest:
      return "Invalid Request";
    case ErrorCode.MethodNotFound:
      return "Method not found";
    case ErrorCode.InvalidParams:
      return "Invalid params";
    case ErrorCode.InternalError:
      return "Internal error";
    case ErrorCode.FrameTooLarge:
      return "Frame too large";
    case ErrorCode.ShuttingDown:
      return "Shutting down";
    case ErrorCode.CallAgainRefused:
      return "Call again refused";
    default:
      return "Server error";
  }
}

/** The brand every copy of the library puts on its RpcError (and CallAgain) prototype. */
const RPC_ERROR: unique symbol = Symbol.for("@seed/rpc.RpcError") as never;
const CALL_AGAIN: unique symbol = Symbol.for("@seed/rpc.CallAgain") as never;

/** Whether `value` carries `brand` (on its prototype chain). */
function branded(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[brand] === true;
}

/** `instanceof` for a branded class: the brand for the class itself, the prototype chain for subclasses. */
function hasInstance(cls: unknown, base: unknown, brand: symbol, value: unknown): boolean {
  return cls === base
    ? branded(value, brand)
    : Function.prototype[Symbol.hasInstance].call(cls as () => void, value);
}

/**
 * An error with a JSON-RPC `code` and optional `data`. Throw it from a handler
 * and the caller receives exactly this code, message and data.
 *
 * It is recognised by a brand (`Symbol.for("@seed/rpc.RpcError")`), not by
 * its class alone: one made by another copy of this library (a handlers
 * file, a second version in a monorepo) passes {@linkcode RpcError.is} and
 * `instanceof RpcError`, and crosses the wire with its code and data.
 *
 * @example An error with a code and data
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { RpcError } from "@seed/rpc";
 * const error = new RpcError(-32000, "Out of stock", { sku: "A-1" });
 * assertEquals(error.toJSON(), { code: -32000, message: "Out of stock", data: { sku: "A-1" } });
 * ```
 */
export class RpcError extends Error {
  /** The JSON-RPC error code. */
  readonly code: number;
  /** Extra detail, sent as the error's `data` member when present. */
  readonly data?: unknown;

  /**
   * Makes an error with a code, message and data.
   *
   * @param code An integer error code.
   * @param message A short description (the standard one when omitted).
   * @param data Extra detail for the caller.
   */
  constructor(code: number, message?: string, data?: unknown) {
    super(message ?? standardMessage(code));
    this.name = "RpcError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** The error object that goes on the wire. */
  toJSON(): ErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  /**
   * Whether `value` is an RpcError, from this copy of the library or
   * another one (it has the brand and a numeric `code`).
   *
   * @example An RpcError, whichever copy made it
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { RpcError } from "@seed/rpc";
   * assertEquals(RpcError.is(new RpcError(-32000, "Out of stock")), true);
   * assertEquals(RpcError.is({ code: -32000, message: "a look-alike" }), false);
   * ```
   */
  static is(value: unknown): value is RpcError {
    return branded(value, RPC_ERROR) && typeof (value as RpcError).code === "number";
  }

  /** `instanceof RpcError` holds for another copy's RpcError too; subclasses match as usual. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasInstance(this, RpcError, RPC_ERROR, value);
  }
}
Object.defineProperty(RpcError.prototype, RPC_ERROR, { value: true });

/**
 * The remote side answered a call with an error. `code`, `message` and
 * `data` are exactly what it sent.
 *
 * @example Calling a method the other side does not have
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { memoryPair, Peer, RemoteError } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a);
 * const client = new Peer(b);
 * const error = await assertRejects(() => client.call("nosuch"), RemoteError);
 * assertEquals([error.code, error.method], [-32601, "nosuch"]);
 * await client.close();
 * await server.closed;
 * ```
 */
export class RemoteError extends RpcError {
  /** The method that was called, when known. */
  readonly method?: string;

  /**
   * Wraps the error object a remote side sent.
   *
   * @param error The error object the remote sent.
   * @param method The method that was called.
   */
  constructor(error: ErrorObject, method?: string) {
    super(error.code, error.message, error.data);
    this.name = "RemoteError";
    if (method !== undefined) this.method = method;
  }
}

/**
 * The connection (or channel) closed, by either side, before the call was
 * answered; every pending call is rejected with it, and so is every send
 * after the close.
 *
 * @example A call rejected by a closed connection
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { ConnectionClosed } from "@seed/rpc";
 * const error = new ConnectionClosed({ code: "remote", message: "server went away" });
 * assertEquals([error.code, error.reason, error.message], [
 *   "remote",
 *   "server went away",
 *   "Connection closed: server went away",
 * ]);
 * ```
 */
export class ConnectionClosed extends Error {
  /** What kind of close it was. */
  readonly code: CloseCode;
  /** Why the connection closed, in words. */
  readonly reason: string;

  /**
   * Makes the error pending calls are rejected with.
   *
   * @param reason Why the connection closed; a string is a local close.
   * @param options `cause`: what the other side said last, when it sent an
   * error before closing (a {@linkcode RemoteError}, such as its -32001 for
   * a frame over its limit).
   */
  constructor(reason?: string | CloseReason, options?: ErrorOptions) {
    const why = toCloseReason(reason);
    super(`Connection closed: ${why.message}`, options);
    this.name = "ConnectionClosed";
    this.code = why.code;
    this.reason = why.message;
  }

  /** The reason as a value. */
  get closeReason(): CloseReason {
    return closeReason(this.code, this.reason);
  }
}

/**
 * A message could not be delivered: the channel knows no receiver for its
 * address (an AMQP service nobody serves, an unknown name on a
 * {@linkcode MemoryBus}).
 *
 * @example A message nobody received
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { NotDelivered } from "@seed/rpc";
 * const error = new NotDelivered("ghost", "no receiver");
 * assertEquals([error.to, error.message], ["ghost", "Not delivered to 'ghost': no receiver"]);
 * ```
 */
export class NotDelivered extends Error {
  /** The address that had no receiver. */
  readonly to: string;

  /**
   * Makes the error a send is rejected with.
   *
   * @param to The address that had no receiver.
   * @param why What the channel knows about why.
   */
  constructor(to: string, why: string) {
    super(`Not delivered to '${to}': ${why}`);
    this.name = "NotDelivered";
    this.to = to;
  }
}

/**
 * Thrown by a handler to ask for the call to be delivered again later
 * (nuropb's call-again). Where the channel can redeliver (a broker queue), no
 * reply is sent and the delivery is settled `"retry"`; where it cannot, or on
 * the second try, the caller receives {@linkcode ErrorCode.CallAgainRefused}.
 *
 * @example Giving a call back to be delivered again
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { CallAgain, ErrorCode, memoryPair, Peer, RemoteError } from "@seed/rpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: {
 *     busy: () => {
 *       throw new CallAgain("the cache is warming up");
 *     },
 *   },
 * });
 * const client = new Peer(b);
 * // A memory pair cannot redeliver, so the caller is told at once.
 * const error = await assertRejects(() => client.call("busy"), RemoteError);
 * assertEquals([error.code, error.message], [ErrorCode.CallAgainRefused, "the cache is warming up"]);
 * await client.close();
 * await server.closed;
 * ```
 */
export class CallAgain extends Error {
  /**
   * Makes the error a handler throws.
   *
   * @param message Why; the caller sees it if the call cannot be redelivered.
   */
  constructor(message = "Call again later") {
    super(message);
    this.name = "CallAgain";
  }

  /** `instanceof CallAgain` holds for another copy's CallAgain too (a brand, like RpcError's). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasInstance(this, CallAgain, CALL_AGAIN, value);
  }
}
Object.defineProperty(CallAgain.prototype, CALL_AGAIN, { value: true });

/**
 * No reply arrived within the call's timeout. The remote side is told to
 * cancel, and a reply that still arrives is dropped and counted.
 *
 * @example A timed-out call
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { CallTimeout } from "@seed/rpc";
 * const error = new CallTimeout("sleep", 500);
 * assertEquals(error.message, "Call 'sleep' timed out after 500 ms");
 * ```
 */
export class CallTimeout extends Error {
  /** The method that was called. */
  readonly method: string;
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Makes the error a timed-out call is rejected with.
   *
   * @param method The method that was called.
   * @param timeout The timeout in milliseconds.
   */
  constructor(method: string, timeout: number) {
    super(`Call '${method}' timed out after ${timeout} ms`);
    this.name = "CallTimeout";
    this.method = method;
    this.timeout = timeout;
  }
}

/**
 * The bound on calls in flight was reached and the peer was configured to
 * reject (`whenFull: "reject"`) rather than wait.
 */
export class TooManyCalls extends Error {
  /** The bound that was reached. */
  readonly limit: number;

  /**
   * Makes the error a call is rejected with at the bound.
   *
   * @param limit The bound on calls in flight.
   */
  constructor(limit: number) {
    super(`Too many calls in flight (limit ${limit})`);
    this.name = "TooManyCalls";
    this.limit = limit;
  }
}

/**
 * A transport received a frame larger than its limit. The peer answers it
 * (with {@linkcode ErrorCode.FrameTooLarge}, where the dialect can carry an
 * error) and closes that connection only.
 *
 * @example A frame over the limit
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { FrameTooLarge } from "@seed/rpc";
 * const error = new FrameTooLarge(16 * 1024 * 1024);
 * assertEquals(error.message, "Frame larger than 16777216 bytes");
 * ```
 */
export class FrameTooLarge extends Error {
  /** The limit, in bytes. */
  readonly limit: number;

  /**
   * Makes the error a transport's frames end with.
   *
   * @param limit The frame size limit in bytes.
   */
  constructor(limit: number) {
    super(`Frame larger than ${limit} bytes`);
    this.name = "FrameTooLarge";
    this.limit = limit;
  }
}

/**
 * The wire cannot carry what was asked (a stream call over a dialect
 * without streams, say): the call fails at once, before anything is sent.
 *
 * @example A stream call over a wire without streams
 * ```ts
 * import { assertEquals, assertThrows } from "@std/assert";
 * import { memoryPair, Peer, Unsupported } from "@seed/rpc";
 * import { simpleRpc } from "@seed/rpc/simplerpc";
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { dialect: simpleRpc, role: "server" });
 * const client = new Peer(b, { dialect: simpleRpc });
 * const error = assertThrows(() => client.stream("ticks"), Unsupported);
 * assertEquals([error.feature, error.wire], ["streams", "simplerpc"]);
 * await client.close();
 * await server.closed;
 * ```
 */
export class Unsupported extends Error {
  /** What was asked: `"streams"`, ... */
  readonly feature: string;
  /** The wire that cannot carry it (its dialect's name), or `"the remote side"`. */
  readonly wire: string;

  /**
   * Makes the error.
   *
   * @param feature What was asked.
   * @param wire The wire that cannot carry it.
   * @param detail Why, when more can be said.
   */
  constructor(feature: string, wire: string, detail?: string) {
    super(`${wire} cannot carry ${feature}${detail === undefined ? "" : `: ${detail}`}`);
    this.name = "Unsupported";
    this.feature = feature;
    this.wire = wire;
  }
}
