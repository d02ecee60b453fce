/**
 * quickrpc's security layer, between codec and transport: a provider adds a
 * `rpc.secinfo` header frame before each outgoing frame (and may transform
 * the payload), and checks each incoming frame against the header before it.
 *
 * {@linkcode secureTransport} wraps any transport of text frames, and
 * {@linkcode secureListener} every connection a listener accepts. Providers:
 *
 * - {@linkcode nullSecurity}: quickrpc's `null`; no header, checks nothing.
 * - {@linkcode noSecurity}: quickrpc's `blindly_believe_everything`; a
 *   `{"user": …}` header on every frame, checks nothing.
 * - {@linkcode hmacSecurity}: signs each frame with HMAC-SHA256 and a shared
 *   key (WebCrypto), bound to a challenge the other side chose for this
 *   connection, and refuses any frame whose signature, sequence number or
 *   session does not verify. It gives integrity and authenticity to whoever
 *   holds the key, and stops replayed (on this or any other connection),
 *   reordered and reflected frames. It does not hide anything: use `tls://`
 *   for that.
 *
 * What the provider vouches for reaches handlers as `ctx.meta.secinfo`: with
 * HMAC, only the signed `user`; a field added to a signed header never does.
 *
 * @example HMAC-signed quickrpc over TCP
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { type CallContext, Peer, Server } from "@seed/rpc";
 * import { hmacSecurity, quickRpc, secureListener, secureTransport } from "@seed/rpc/quickrpc";
 * import { connect, listen } from "@seed/rpc/tcp";
 *
 * const security = hmacSecurity({ key: "a shared secret key", user: "alice" });
 * const server = new Server({
 *   handlers: { whoami: (_params: unknown, ctx: CallContext) => (ctx.meta.secinfo as { user: string }).user },
 * }).serve(secureListener(listen("tcp://127.0.0.1:0", { dialect: quickRpc }), security));
 * const connection = await connect(server.addr, { dialect: quickRpc });
 * const client = new Peer(secureTransport(connection, security));
 * assertEquals(await client.call("whoami", {}), "alice");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { CloseCode, type CloseReason, closeReason } from "../wire/close.ts";
import { ConnectionClosed } from "../wire/errors.ts";
import { consoleLogger, type Logger } from "../shared/logger.ts";
import { InvalidFrame, type Listener, type Transport } from "../wire/transport.ts";
import { pythonJson } from "../dialects/_python_json.ts";
import { decodeBase64, encodeBase64 } from "../dialects/_base64.ts";
import { parseFirstJsonValue, SECINFO_METHOD } from "./quickrpc_codec.ts";

/**
 * Security information carried in a header frame (quickrpc keeps it a map
 * of strings).
 */
export type SecInfo = Record<string, unknown>;

/**
 * A frame refused by a security provider.
 */
export class SecurityError extends Error {
  /**
   * Makes the error a refused frame is reported with.
   *
   * @param message What was wrong with the frame.
   */
  constructor(message: string) {
    super(message);
    this.name = "SecurityError";
  }
}

/**
 * One connection's security state (sequence numbers, keys, challenges).
 *
 * @example A session signing what goes out
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { noSecurity } from "@seed/rpc/quickrpc";
 * const session = noSecurity("bob").open();
 * assertEquals(await session.secureOut("payload"), { secinfo: { user: "bob" }, payload: "payload" });
 * ```
 */
export interface SecuritySession {
  /**
   * A header to send on its own when the connection opens, before any
   * frame (a challenge), or `undefined`. The other side's comes to
   * {@linkcode SecuritySession.greeted}.
   */
  hello?(): SecInfo | undefined;
  /** Takes the other side's hello header. */
  greeted?(hello: SecInfo): void;
  /** Secures an outgoing frame: the header to send before it (or none), and the payload. */
  secureOut(payload: string): Promise<{ secinfo?: SecInfo; payload: string }>;
  /**
   * Checks an incoming frame with the header that came before it; resolves
   * with the payload to decode and the security information to hand to
   * handlers (what the provider vouches for), or rejects with
   * {@linkcode SecurityError}.
   */
  secureIn(payload: string, secinfo: SecInfo | undefined): Promise<SecuredFrame>;
}

/**
 * An incoming frame that passed its checks.
 */
export interface SecuredFrame {
  /** The payload to decode. */
  payload: string;
  /** What handlers see as `ctx.meta.secinfo`; left out for none. */
  secinfo?: SecInfo;
}

/**
 * Makes a {@linkcode SecuritySession} for each connection.
 *
 * @example A provider of your own
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { SecurityProvider } from "@seed/rpc/quickrpc";
 * const allowAll: SecurityProvider = {
 *   name: "allow-all",
 *   open: () => ({
 *     secureOut: (payload) => Promise.resolve({ payload }),
 *     secureIn: (payload) => Promise.resolve({ payload }),
 *   }),
 * };
 * const session = allowAll.open();
 * assertEquals(await session.secureOut("{}"), { payload: "{}" });
 * ```
 */
export interface SecurityProvider {
  /** A short name for logs (`null`, `blindly_believe_everything`, `hmac-sha256`). */
  readonly name: string;
  /** A session for one connection. */
  open(): SecuritySession;
}

/**
 * quickrpc's `null` security: no header, nothing checked.
 */
export const nullSecurity: SecurityProvider = {
  name: "null",
  open: () => ({
    secureOut: (payload) => Promise.resolve({ payload }),
    secureIn: (payload, secinfo) => Promise.resolve(secinfo ? { payload, secinfo } : { payload }),
  }),
};

/**
 * quickrpc's `blindly_believe_everything`: a `{"user": user}` header on every
 * frame, nothing checked. Only for peers you trust completely.
 *
 * @example The other side believes the user it is told
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { noSecurity } from "@seed/rpc/quickrpc";
 * const provider = noSecurity("bob");
 * const { secinfo, payload } = await provider.open().secureOut("{}");
 * assertEquals(await provider.open().secureIn(payload, secinfo), { payload: "{}", secinfo: { user: "bob" } });
 * ```
 */
export function noSecurity(user = ""): SecurityProvider {
  return {
    name: "blindly_believe_everything",
    open: () => ({
      secureOut: (payload) => Promise.resolve({ secinfo: { user }, payload }),
      // Believed as it comes: that is what this provider is.
      secureIn: (payload, secinfo) => Promise.resolve(secinfo ? { payload, secinfo } : { payload }),
    }),
  };
}

/**
 * Options for {@linkcode hmacSecurity}.
 */
export interface HmacSecurityOptions {
  /** The shared key: text (UTF-8) or bytes. At least 16 bytes. */
  key: string | Uint8Array;
  /**
   * The user name sent in every header (signed too).
   *
   * @default {""}
   */
  user?: string;
}

const encoder = new TextEncoder();

/**
 * HMAC-SHA256 signing of every frame with a shared key, bound to the
 * connection.
 *
 * When a connection opens, each side sends a hello header with a random
 * challenge, `{"hello": <challenge>}`. Each frame's header is then
 * `{"user", "nonce", "seq", "hmac-sha256"}` (all strings): the signature
 * covers `user`, the sender's own per-connection `nonce`, the *other side's*
 * challenge, a `seq` that rises by one per frame, and the payload. So a frame
 * captured on one connection fails on any other (another challenge), and on
 * its own one once it has been seen (`seq`). A frame is refused when its
 * signature fails, its header is missing, its `seq` is not the next one, its
 * nonce changes within a connection, or it carries our own nonce (a frame
 * reflected back at us). Handlers see only the signed `user`.
 *
 * @example Signing and checking with a shared key
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { hmacSecurity } from "@seed/rpc/quickrpc";
 * const provider = hmacSecurity({ key: "a shared secret key", user: "alice" });
 * const alice = provider.open();
 * const bob = provider.open();
 * alice.greeted!(bob.hello!()!);
 * bob.greeted!(alice.hello!()!);
 * const { secinfo, payload } = await alice.secureOut('{"jsonrpc": "2.0", "method": "ping"}');
 * assertEquals(await bob.secureIn(payload, secinfo), { payload, secinfo: { user: "alice" } });
 * ```
 */
export function hmacSecurity(options: HmacSecurityOptions): SecurityProvider {
  const raw = typeof options.key === "string" ? encoder.encode(options.key) : options.key;
  if (raw.length < 16) throw new RangeError("An HMAC key must be at least 16 bytes");
  const user = options.user ?? "";
  let key: Promise<CryptoKey> | undefined;
  const getKey = () =>
    key ??= crypto.subtle.importKey(
      "raw",
      new Uint8Array(raw),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  const signed = (who: string, nonce: string, challenge: string, seq: string, payload: string) =>
    encoder.encode(`${who}\n${nonce}\n${challenge}\n${seq}\n${payload}`);

  return {
    name: "hmac-sha256",
    open(): SecuritySession {
      /** Ours: in every header we send, and the challenge the other side signs. */
      const nonce = encodeBase64(crypto.getRandomValues(new Uint8Array(12)));
      /** The other side's challenge: what we sign. */
      const theirChallenge = Promise.withResolvers<string>();
      let sent = 0;
      let received = 0;
      let peerNonce: string | undefined;
      return {
        hello: () => ({ hello: nonce }),
        greeted(hello) {
          if (typeof hello.hello === "string") theirChallenge.resolve(hello.hello);
        },
        async secureOut(payload) {
          const challenge = await theirChallenge.promise;
          const seq = String(++sent);
          const mac = await crypto.subtle.sign(
            "HMAC",
            await getKey(),
            signed(user, nonce, challenge, seq, payload),
          );
          return {
            secinfo: { user, nonce, seq, "hmac-sha256": encodeBase64(new Uint8Array(mac)) },
            payload,
          };
        },
        async secureIn(payload, secinfo) {
          if (secinfo === undefined) throw new SecurityError("frame without a secinfo header");
          const { user: who, nonce: theirs, seq, "hmac-sha256": mac } = secinfo;
          if (
            typeof who !== "string" || typeof theirs !== "string" || typeof seq !== "string" ||
            typeof mac !== "string"
          ) {
            throw new SecurityError("secinfo header without user, nonce, seq and hmac-sha256");
          }
          let signature: Uint8Array;
          try {
            signature = decodeBase64(mac);
          } catch {
            throw new SecurityError("hmac-sha256 is not base64");
          }
          // Signed with our challenge: a frame from another connection fails here.
          const ok = await crypto.subtle.verify(
            "HMAC",
            await getKey(),
            new Uint8Array(signature),
            signed(who, theirs, nonce, seq, payload),
          );
          if (!ok) throw new SecurityError("bad signature");
          if (theirs === nonce) throw new SecurityError("a frame of ours was sent back to us");
          if (peerNonce !== undefined && theirs !== peerNonce) {
            throw new SecurityError("the session nonce changed within the connection");
          }
          if (seq !== String(received + 1)) {
            throw new SecurityError(`out of sequence: expected ${received + 1}, got ${seq}`);
          }
          peerNonce = theirs;
          received++;
          // Only what the signature covers reaches handlers.
          return { payload, secinfo: { user: who } };
        },
      };
    },
  };
}

/**
 * Options for {@linkcode secureTransport}.
 */
export interface SecureTransportOptions {
  /**
   * On a refused frame: close the connection, or drop the frame.
   *
   * @default {"close"}
   */
  onRefused?: "close" | "drop";
  /**
   * Where refused frames are logged.
   *
   * @default {consoleLogger}
   */
  logger?: Logger;
}

/**
 * Wraps `transport` so every frame goes through `provider`: each outgoing
 * frame is preceded by its header frame (both handed to the transport
 * together, so a stream writes them in one go), and each incoming frame is
 * checked against the header before it. The header frames are passed on
 * too, so the quickrpc codec can put them in `meta.secinfo`.
 *
 * @example A secured pair of transports
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { memoryPair } from "@seed/rpc";
 * import { noSecurity, secureTransport } from "@seed/rpc/quickrpc";
 * const [a, b] = memoryPair();
 * await secureTransport(a, noSecurity("eve")).send('{"jsonrpc": "2.0", "result": 1, "id": 1}');
 * assertEquals([b.take(), b.take()], [
 *   '{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": {"user": "eve"}}',
 *   '{"jsonrpc": "2.0", "result": 1, "id": 1}',
 * ]);
 * await a.close();
 * ```
 */
export function secureTransport(
  transport: Transport<string>,
  provider: SecurityProvider,
  options: SecureTransportOptions = {},
): Transport<string> {
  const session = provider.open();
  const logger = options.logger ?? consoleLogger;
  const onRefused = options.onRefused ?? "close";

  async function* frames(): AsyncGenerator<string | InvalidFrame> {
    let secinfo: SecInfo | undefined;
    for await (const frame of transport.frames) {
      if (frame instanceof InvalidFrame) {
        // Unreadable bytes cannot be checked; the codec refuses them.
        yield frame;
        continue;
      }
      const parsed = readHeader(frame);
      if (parsed !== undefined) {
        if (session.greeted !== undefined && Object.hasOwn(parsed, "hello")) {
          session.greeted(parsed);
          continue;
        }
        secinfo = parsed;
        continue;
      }
      if (frame.length === 0) continue;
      let secured: SecuredFrame;
      try {
        secured = await session.secureIn(frame, secinfo);
      } catch (error) {
        const why = (error as Error).message;
        logger.warn(`${transport.remote ?? "quickrpc"}: ${provider.name} refused a frame: ${why}`);
        if (onRefused === "close") {
          await transport.close(closeReason(CloseCode.Refused, `security: ${why}`));
          return;
        }
        secinfo = undefined;
        continue;
      }
      // The header handed on is what the provider vouches for, nothing more.
      if (secured.secinfo !== undefined) yield headerFrame(secured.secinfo);
      yield secured.payload;
      secinfo = undefined;
    }
  }

  const hello = session.hello?.();
  let outgoing: Promise<void> = hello === undefined
    ? Promise.resolve()
    : transport.send(headerFrame(hello)).catch(() => {});

  return {
    remote: transport.remote,
    dialect: transport.dialect,
    frames: { [Symbol.asyncIterator]: frames },
    get closed(): Promise<void> {
      return transport.closed;
    },
    get closeReason(): CloseReason | undefined {
      return transport.closeReason;
    },
    close: (reason?: string | CloseReason) => transport.close(reason),
    send(frame: string): Promise<void> {
      const sending = outgoing.then(async () => {
        const { secinfo, payload } = await session.secureOut(frame);
        if (secinfo === undefined) return transport.send(payload);
        transport.send(headerFrame(secinfo)).catch(() => {});
        return transport.send(payload);
      });
      // Frames are signed and sent one after another; one failure does not
      // stop the ones after it.
      outgoing = sending.catch(() => {});
      return sending.catch((error) => {
        throw error instanceof ConnectionClosed ? error : new ConnectionClosed(String(error));
      });
    },
  };
}

/**
 * Wraps every connection `listener` accepts with {@linkcode secureTransport},
 * for a {@linkcode Server}: `server.serve(secureListener(listener, provider))`.
 *
 * @example A secured listener
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { noSecurity, quickRpc, secureListener } from "@seed/rpc/quickrpc";
 * import { listen } from "@seed/rpc/tcp";
 * const listener = secureListener(listen("tcp://127.0.0.1:0", { dialect: quickRpc }), noSecurity());
 * assertEquals(listener.addr.startsWith("tcp://127.0.0.1:"), true);
 * await listener.close();
 * ```
 */
export function secureListener(
  listener: Listener<string>,
  provider: SecurityProvider,
  options: SecureTransportOptions = {},
): Listener<string> {
  return {
    addr: listener.addr,
    close: () => listener.close(),
    async *[Symbol.asyncIterator]() {
      for await (const connection of listener) {
        if ("frames" in connection) {
          yield secureTransport(connection, provider, options);
        } else {
          // A channel (a session) has no frames to sign: it cannot speak quickrpc.
          await connection.close("quickrpc security needs a transport, not a channel");
        }
      }
    },
  };
}

/** A `rpc.secinfo` header frame, as quickrpc writes it. */
function headerFrame(secinfo: SecInfo): string {
  return `{"jsonrpc": "2.0", "method": "rpc.secinfo", "params": ${pythonJson(secinfo)}}`;
}

/** The params of a `rpc.secinfo` header frame, or `undefined` for any other frame. */
function readHeader(frame: string): SecInfo | undefined {
  if (!frame.includes(SECINFO_METHOD)) return undefined;
  try {
    const value = parseFirstJsonValue(frame) as { method?: unknown; params?: unknown };
    if (value?.method !== SECINFO_METHOD) return undefined;
    return value.params !== null && typeof value.params === "object" ? value.params as SecInfo : {};
  } catch {
    return undefined;
  }
}
