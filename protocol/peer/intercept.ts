/**
 * Interceptors: functions around every call a peer serves and every call it
 * makes, one mechanism for every wire (auth, per-call logging, metrics,
 * params rewriting). Give them to a peer with the `interceptors` option, or
 * to every connection of a server with its `peer.interceptors`.
 *
 * An interceptor gets the {@linkcode Invocation} and `next`; it returns what
 * `next()` resolves with (the handler's result, or the remote result), or
 * something else, or throws (an {@linkcode RpcError} thrown on an incoming
 * call is the answer the caller gets). The first interceptor of the list is
 * the outermost. A peer with no interceptors pays nothing for the feature.
 *
 * Built-in methods (`rpc.ping`, `rpc.discover`) and the dialect's own
 * messages (cancels, errors for unreadable input) do not pass through them.
 *
 * @example Refuse some calls, time them all
 * ```ts
 * import { assertEquals, assertRejects } from "@std/assert";
 * import { type Interceptor, memoryPair, Peer, RemoteError, RpcError } from "@seed/rpc";
 *
 * const adminOnly: Interceptor = (call, next) => {
 *   if (call.direction === "incoming" && call.method.startsWith("admin")) {
 *     throw new RpcError(-32001, "Unauthorized");
 *   }
 *   return next();
 * };
 * const timings: string[] = [];
 * const timeIt: Interceptor = async (call, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     timings.push(`${call.direction} ${call.method} ${performance.now() - started >= 0}`);
 *   }
 * };
 *
 * const [a, b] = memoryPair();
 * const server = new Peer(a, {
 *   handlers: { add: ([x, y]) => x + y, adminReset: () => "reset" },
 *   interceptors: [timeIt, adminOnly],
 * });
 * const client = new Peer(b);
 * assertEquals(await client.call("add", [1, 2]), 3);
 * const error = await assertRejects(() => client.call("adminReset"), RemoteError);
 * assertEquals(error.code, -32001);
 * assertEquals(timings, ["incoming add true", "incoming adminReset true"]);
 * await client.close();
 * await server.closed;
 * ```
 *
 * @module
 */

import type { CallContext, PeerHandle } from "./context.ts";
import type { Meta } from "../wire/message.ts";
import type { CallOptions, NotifyOptions } from "./outgoing.ts";

/**
 * One call or notification passing through the interceptors.
 *
 * @example What an interceptor sees
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type Invocation, memoryPair, Peer } from "@seed/rpc";
 * const seen: Invocation[] = [];
 * const [a, b] = memoryPair();
 * const server = new Peer(a, { handlers: { ping: () => "pong" } });
 * const client = new Peer(b, { interceptors: [(call, next) => (seen.push(call), next())] });
 * await client.call("ping", undefined, { timeout: 500 });
 * assertEquals(seen.map((c) => [c.direction, c.method, c.notification, c.options?.timeout]), [
 *   ["outgoing", "ping", false, 500],
 * ]);
 * await client.close();
 * await server.closed;
 * ```
 */
export interface Invocation {
  /** `"incoming"`: the other side calls us (a handler runs); `"outgoing"`: we call. */
  readonly direction: "incoming" | "outgoing";
  /** The method's name. */
  readonly method: string;
  /** The params; assign before calling `next()` to change what goes on. */
  params: unknown;
  /** Whether it is a notification (no reply). */
  readonly notification: boolean;
  /** The peer it passes through. */
  readonly peer: PeerHandle;
  /** Incoming only: the handler's context (meta, signal, who sent it). */
  readonly context: CallContext | undefined;
  /** Outgoing only: the options of the call or notification (a notification has no timeout or signal). */
  readonly options: CallOptions | undefined;
  /**
   * The call's metadata, to read or change. Outgoing: what will be sent (a
   * shallow copy of `options.meta`, made on first use, so the caller's
   * object keeps its members; replace a nested object rather than change
   * it, which the caller shares); incoming: the handler's `ctx.meta`.
   */
  readonly meta: Meta;
}

/**
 * A function around calls: do something before, call `next()` (at most
 * once) to go on, do something after. What it returns is the result.
 */
export type Interceptor = (call: Invocation, next: () => Promise<unknown>) => unknown;

/** What an intercepted call ends in: the handler, or the sending of the call. */
/** @internal */
export type Terminal = (call: Invocation) => unknown;

/** Runs `call` through `interceptors`, then `terminal`. */
export function intercept(
  interceptors: readonly Interceptor[],
  call: Invocation,
  terminal: Terminal,
): Promise<unknown> {
  return step(interceptors, call, terminal, 0);
}

function step(
  interceptors: readonly Interceptor[],
  call: Invocation,
  terminal: Terminal,
  index: number,
): Promise<unknown> {
  const interceptor = interceptors[index];
  // No async function here: a chain of synchronous steps costs one promise, not one per await.
  try {
    if (interceptor === undefined) return Promise.resolve(terminal(call));
    let called = false;
    return Promise.resolve(interceptor(call, () => {
      if (called) {
        return Promise.reject(
          new TypeError(`An interceptor called next() twice for '${call.method}'`),
        );
      }
      called = true;
      return step(interceptors, call, terminal, index + 1);
    }));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** An incoming call's {@linkcode Invocation}: its meta is the handler's `ctx.meta`. */
class IncomingInvocation implements Invocation {
  readonly direction = "incoming" as const;
  readonly method: string;
  params: unknown;
  readonly notification: boolean;
  readonly peer: PeerHandle;
  readonly context: CallContext;
  readonly options = undefined;

  constructor(params: unknown, context: CallContext, peer: PeerHandle) {
    this.method = context.method;
    this.params = params;
    this.notification = context.id === undefined;
    this.peer = peer;
    this.context = context;
  }

  get meta(): Meta {
    return this.context.meta;
  }
}

/** An outgoing call's {@linkcode Invocation}: its meta is made on first use. */
class OutgoingInvocation implements Invocation {
  readonly direction = "outgoing" as const;
  readonly method: string;
  params: unknown;
  readonly notification: boolean;
  readonly peer: PeerHandle;
  readonly context = undefined;
  readonly options: CallOptions | undefined;
  /** The meta an interceptor read or wrote; undefined while none did. */
  touched: Meta | undefined;

  constructor(
    method: string,
    params: unknown,
    notification: boolean,
    peer: PeerHandle,
    options: CallOptions | undefined,
  ) {
    this.method = method;
    this.params = params;
    this.notification = notification;
    this.peer = peer;
    this.options = options;
  }

  get meta(): Meta {
    return this.touched ??= { ...this.options?.meta };
  }
}

/** An incoming call's {@linkcode Invocation}. */
export function incomingInvocation(
  params: unknown,
  context: CallContext,
  peer: PeerHandle,
): Invocation {
  return new IncomingInvocation(params, context, peer);
}

/** An outgoing call's or notification's {@linkcode Invocation}. */
export function outgoingInvocation(
  method: string,
  params: unknown,
  options: CallOptions | NotifyOptions | undefined,
  notification: boolean,
  peer: PeerHandle,
): Invocation {
  return new OutgoingInvocation(method, params, notification, peer, options);
}

/** The options to send an outgoing invocation with: its own, with the meta interceptors touched. */
export function sendOptions(call: Invocation): CallOptions | undefined {
  const touched = (call as OutgoingInvocation).touched;
  return touched === undefined ? call.options : { ...call.options, meta: touched };
}
