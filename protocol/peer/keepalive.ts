/**
 * The peer's `keepAlive` option: when nothing has arrived for `keepAlive`
 * milliseconds, the peer calls {@linkcode PING_METHOD} on the other side;
 * any answer (a result, or an error such as "Method not found") proves the
 * other side alive, and no answer within another `keepAlive` milliseconds
 * closes the channel ({@linkcode CloseCode.Unresponsive}). It works over
 * every dialect that has calls, and from a browser, which cannot send
 * WebSocket pings. Peers answer `rpc.ping` themselves, with `null`.
 *
 * Internal to the {@linkcode Peer}.
 *
 * @module
 */

import { CloseCode, type CloseReason, closeReason } from "../wire/close.ts";
import { CallTimeout, ConnectionClosed, RemoteError } from "../wire/errors.ts";
import type { Logger } from "../shared/logger.ts";

/** The method a keep-alive calls; every peer answers it with `null`. */
export const PING_METHOD = "rpc.ping";

/** What a keep-alive needs from its peer. */
export interface KeepAliveHost {
  /** Messages received so far. */
  received(): number;
  call(method: string, params: undefined, options: { timeout: number }): Promise<unknown>;
  close(reason: CloseReason): Promise<void>;
  readonly name: string;
  readonly logger: Logger;
}

/** Pings the other side when it has been silent. */
export class KeepAlive {
  #host: KeepAliveHost;
  #interval: number;
  #timer: ReturnType<typeof setInterval>;
  #seen = -1;
  #probing = false;

  constructor(host: KeepAliveHost, interval: number) {
    this.#host = host;
    this.#interval = interval;
    this.#timer = setInterval(this.#check, interval);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check = (): void => {
    const received = this.#host.received();
    if (received !== this.#seen) {
      this.#seen = received;
      return;
    }
    if (this.#probing) return;
    this.#probing = true;
    this.#host.call(PING_METHOD, undefined, { timeout: this.#interval }).then(
      this.#alive,
      this.#failed,
    );
  };

  #alive = (): void => {
    this.#probing = false;
  };

  #failed = (error: unknown): void => {
    this.#probing = false;
    if (error instanceof RemoteError) return; // An answer, even an error, is a sign of life.
    if (error instanceof CallTimeout) {
      const message = `no answer to a ping in ${this.#interval} ms`;
      this.#host.logger.warn(`${this.#host.name}: ${message}; closing`);
      this.#host.close(closeReason(CloseCode.Unresponsive, message));
      return;
    }
    if (error instanceof ConnectionClosed) return;
    // The dialect cannot carry a call from this side (a simplerpc server).
    this.#host.logger.warn(`${this.#host.name}: keep-alive stopped`, error);
    this.stop();
  };
}
