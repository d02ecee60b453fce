/**
 * nuropb's end-to-end encryption, on WebCrypto (runs in browsers and Deno):
 *
 * - [Fernet](https://github.com/fernet/spec) tokens: AES-128-CBC with
 *   PKCS#7 padding, then HMAC-SHA256 over version, time, IV and ciphertext;
 *   url-safe base64 key and token.
 * - The requester makes a new Fernet key per call and wraps it (the 44
 *   characters of its base64 form) for the service with RSA-OAEP
 *   (SHA-256, MGF1-SHA256, no label).
 * - The body on the wire is `base64(wrapped key) + "." + base64(token)` in
 *   standard base64: the token is base64-encoded a second time, as nuropb does.
 * - The service answers with the same Fernet key; the RSA part of a response
 *   is wrapped with the service's own key and ignored by the requester.
 *
 * @example Encrypt for a service, decrypt there, answer with the same key
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { NuropbKeyPair, openNuropbBody, sealNuropbBody } from "@seed/rpc/amqp";
 *
 * const service = await NuropbKeyPair.generate();
 * const sealed = await sealNuropbBody('{"tag": "request"}', service.publicKey);
 * const opened = await openNuropbBody(sealed.body, { privateKey: service.privateKey });
 * assertEquals(opened.body, '{"tag": "request"}');
 * assertEquals(opened.key, sealed.key);
 * ```
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../dialects/_base64.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const RSA_OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;

function toUrlSafe(base64: string): string {
  return base64.replaceAll("+", "-").replaceAll("/", "_");
}

function fromUrlSafe(text: string): Uint8Array {
  return decodeBase64(text.replaceAll("-", "+").replaceAll("_", "/"));
}

/**
 * A new Fernet key: 32 random bytes in url-safe base64 (44 characters).
 *
 * @example A key
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { newFernetKey } from "@seed/rpc/amqp";
 * assertEquals(newFernetKey().length, 44);
 * ```
 */
export function newFernetKey(): string {
  return toUrlSafe(encodeBase64(crypto.getRandomValues(new Uint8Array(32))));
}

async function fernetKeys(key: string): Promise<[CryptoKey, CryptoKey]> {
  const raw = fromUrlSafe(key);
  if (raw.length !== 32) throw new TypeError("A Fernet key is 32 bytes in url-safe base64");
  return await Promise.all([
    crypto.subtle.importKey(
      "raw",
      raw.subarray(0, 16) as BufferSource,
      { name: "HMAC", hash: "SHA-256" },
      false,
      [
        "sign",
        "verify",
      ],
    ),
    crypto.subtle.importKey("raw", raw.subarray(16) as BufferSource, "AES-CBC", false, [
      "encrypt",
      "decrypt",
    ]),
  ]);
}

/**
 * Encrypts `plaintext` into a Fernet token.
 *
 * @param key A Fernet key (url-safe base64 of 32 bytes).
 * @param plaintext What to encrypt.
 * @param now Seconds since the epoch for the token's time stamp.
 * @returns The token, url-safe base64 with padding (it starts `gAAAAA`).
 *
 * @example Round trip
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { fernetDecrypt, fernetEncrypt, newFernetKey } from "@seed/rpc/amqp";
 * const key = newFernetKey();
 * const token = await fernetEncrypt(key, new TextEncoder().encode("hi"));
 * assertEquals(token.slice(0, 6), "gAAAAA");
 * assertEquals(new TextDecoder().decode(await fernetDecrypt(key, token)), "hi");
 * ```
 */
export async function fernetEncrypt(
  key: string,
  plaintext: Uint8Array,
  now: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  const [signing, encryption] = await fernetKeys(key);
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-CBC", iv }, encryption, plaintext as BufferSource),
  );
  const token = new Uint8Array(1 + 8 + 16 + ciphertext.length + 32);
  const view = new DataView(token.buffer);
  token[0] = 0x80;
  view.setUint32(1, Math.floor(now / 2 ** 32));
  view.setUint32(5, now >>> 0);
  token.set(iv, 9);
  token.set(ciphertext, 25);
  const signed = token.subarray(0, token.length - 32);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", signing, signed));
  token.set(mac, token.length - 32);
  return toUrlSafe(encodeBase64(token));
}

/**
 * Decrypts a Fernet token; throws when it was not made with `key` or was
 * altered. Token age is not checked (nuropb sets no ttl).
 *
 * @example A token made with another key is refused
 * ```ts
 * import { assertRejects } from "@std/assert";
 * import { fernetDecrypt, fernetEncrypt, newFernetKey } from "@seed/rpc/amqp";
 * const token = await fernetEncrypt(newFernetKey(), new Uint8Array([1]));
 * await assertRejects(() => fernetDecrypt(newFernetKey(), token), Error, "Invalid Fernet token");
 * ```
 */
export async function fernetDecrypt(key: string, token: string): Promise<Uint8Array> {
  const [signing, encryption] = await fernetKeys(key);
  let bytes: Uint8Array;
  try {
    bytes = fromUrlSafe(token);
  } catch {
    throw new Error("Invalid Fernet token: not base64");
  }
  if (bytes.length < 1 + 8 + 16 + 16 + 32 || bytes[0] !== 0x80) {
    throw new Error("Invalid Fernet token: wrong version or length");
  }
  const signed = bytes.subarray(0, bytes.length - 32);
  const mac = bytes.subarray(bytes.length - 32);
  if (!(await crypto.subtle.verify("HMAC", signing, mac as BufferSource, signed as BufferSource))) {
    throw new Error("Invalid Fernet token: the signature does not match");
  }
  const iv = bytes.subarray(9, 25);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-CBC", iv: iv as BufferSource },
        encryption,
        bytes.subarray(25, bytes.length - 32) as BufferSource,
      ),
    );
  } catch {
    throw new Error("Invalid Fernet token: bad padding");
  }
}

function pem(label: string, der: ArrayBuffer): string {
  const base64 = encodeBase64(new Uint8Array(der));
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function derOf(text: string, label: string): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(
    text,
  );
  if (match === null) throw new TypeError(`Not a PEM ${label}`);
  return decodeBase64(match[1]!.replace(/\s+/g, ""));
}

/**
 * Reads an RSA public key from PEM (SubjectPublicKeyInfo, as
 * `nuropb_describe` announces it) for RSA-OAEP SHA-256.
 *
 * @example Import what a key pair exports
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { importNuropbPublicKey, NuropbKeyPair } from "@seed/rpc/amqp";
 * const pair = await NuropbKeyPair.generate();
 * const key = await importNuropbPublicKey(await pair.publicKeyPem());
 * assertEquals(key.type, "public");
 * ```
 */
export async function importNuropbPublicKey(text: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "spki",
    derOf(text, "PUBLIC KEY") as BufferSource,
    RSA_OAEP,
    true,
    ["encrypt"],
  );
}

/**
 * A service's RSA key pair for nuropb encryption.
 *
 * @example Keep a service's key across restarts
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { NuropbKeyPair } from "@seed/rpc/amqp";
 * const pair = await NuropbKeyPair.generate();
 * const again = await NuropbKeyPair.fromPem(await pair.privateKeyPem());
 * assertEquals(await again.publicKeyPem(), await pair.publicKeyPem());
 * ```
 */
export class NuropbKeyPair {
  /** Decrypts requests (unwraps their Fernet keys). */
  readonly privateKey: CryptoKey;
  /** Announced through `nuropb_describe`; wraps the keys of responses. */
  readonly publicKey: CryptoKey;

  /** Prefer {@linkcode NuropbKeyPair.generate} or {@linkcode NuropbKeyPair.fromPem}. */
  constructor(privateKey: CryptoKey, publicKey: CryptoKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  /**
   * A new RSA key pair.
   *
   * @param bits The modulus length.
   */
  static async generate(bits = 2048): Promise<NuropbKeyPair> {
    const pair = await crypto.subtle.generateKey(
      { ...RSA_OAEP, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ["encrypt", "decrypt"],
    );
    return new NuropbKeyPair(pair.privateKey, pair.publicKey);
  }

  /** The pair of an unencrypted PKCS#8 PEM private key (`BEGIN PRIVATE KEY`). */
  static async fromPem(text: string): Promise<NuropbKeyPair> {
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      derOf(text, "PRIVATE KEY") as BufferSource,
      RSA_OAEP,
      true,
      ["decrypt"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
      RSA_OAEP,
      true,
      ["encrypt"],
    );
    return new NuropbKeyPair(privateKey, publicKey);
  }

  /** The public key as PEM SubjectPublicKeyInfo (what nuropb announces). */
  async publicKeyPem(): Promise<string> {
    return pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", this.publicKey));
  }

  /** The private key as unencrypted PKCS#8 PEM: keep it secret. */
  async privateKeyPem(): Promise<string> {
    return pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", this.privateKey));
  }
}

/**
 * A sealed body, with the Fernet key that sealed it (keep it only until the
 * response has been opened).
 */
export interface SealedNuropbBody {
  /** `base64(wrapped key) + "." + base64(token)`. */
  body: string;
  /** The Fernet key. */
  key: string;
}

/**
 * Encrypts a body as nuropb does. With `key` (a response), that Fernet key
 * is used; without, a new one is made (a request).
 *
 * @param body The JSON payload.
 * @param wrapWith The RSA public key the Fernet key is wrapped with.
 * @param key The Fernet key to use; a new one when left out.
 *
 * @example The shape nuropb sends (RSA-2048: a 344-character first part)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { NuropbKeyPair, sealNuropbBody } from "@seed/rpc/amqp";
 * const pair = await NuropbKeyPair.generate();
 * const { body } = await sealNuropbBody("{}", pair.publicKey);
 * const [wrapped, token] = body.split(".");
 * assertEquals(wrapped!.length, 344);
 * assertEquals(token!.slice(0, 8), "Z0FBQUFB");
 * ```
 */
export async function sealNuropbBody(
  body: string,
  wrapWith: CryptoKey,
  key: string = newFernetKey(),
): Promise<SealedNuropbBody> {
  const [wrapped, token] = await Promise.all([
    crypto.subtle.encrypt(RSA_OAEP, wrapWith, encoder.encode(key)),
    fernetEncrypt(key, encoder.encode(body)),
  ]);
  return {
    body: `${encodeBase64(new Uint8Array(wrapped))}.${encodeBase64(encoder.encode(token))}`,
    key,
  };
}

/**
 * How to open a sealed body: the Fernet key of our own request (a
 * response), or the service's private key (a request).
 */
export interface OpenNuropbOptions {
  /** The Fernet key this call was sealed with (the requester's side). */
  key?: string;
  /** The service's private key, to unwrap the Fernet key of a request. */
  privateKey?: CryptoKey;
}

/**
 * Decrypts a body sealed as nuropb seals it; throws a plain `Error` saying
 * what is wrong when it cannot.
 *
 * @example A body that is not sealed
 * ```ts
 * import { assertRejects } from "@std/assert";
 * import { openNuropbBody } from "@seed/rpc/amqp";
 * await assertRejects(() => openNuropbBody("{}", { key: "x" }), Error, "not an encrypted nuropb body");
 * ```
 */
export async function openNuropbBody(
  body: string,
  options: OpenNuropbOptions,
): Promise<SealedNuropbBody> {
  const dot = body.indexOf(".");
  if (dot < 0) throw new Error("not an encrypted nuropb body (no '.')");
  let key = options.key;
  if (key === undefined) {
    if (options.privateKey === undefined) {
      throw new Error("an encrypted body, and this side has no private key");
    }
    let unwrapped: ArrayBuffer;
    try {
      unwrapped = await crypto.subtle.decrypt(
        RSA_OAEP,
        options.privateKey,
        decodeBase64(body.slice(0, dot)) as BufferSource,
      );
    } catch {
      throw new Error("the key could not be unwrapped with this service's private key");
    }
    key = decoder.decode(unwrapped);
  }
  let token: string;
  try {
    token = decoder.decode(decodeBase64(body.slice(dot + 1)));
  } catch {
    throw new Error("the token is not base64");
  }
  return { body: decoder.decode(await fernetDecrypt(key, token)), key };
}
