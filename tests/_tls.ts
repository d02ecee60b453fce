// A self-signed certificate made by the test itself: an ECDSA P-256 key from
// WebCrypto and an X.509 v3 certificate written in DER by hand (no openssl on
// the machine needed). Valid for DNS:localhost and IP:127.0.0.1, from a day
// ago to a day ahead.

export interface SelfSigned {
  /** The certificate, PEM. Trust it with `caCerts: [cert]`. */
  cert: string;
  /** The private key, PKCS#8 PEM. */
  key: string;
}

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, ...parts: (Uint8Array | number[])[]): Uint8Array<ArrayBuffer> {
  const body = parts.flatMap((p) => [...p]);
  return new Uint8Array([tag, ...length(body.length), ...body]);
}

const sequence = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);

function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = [...bytes.subarray(start)];
  return tlv(0x02, trimmed[0]! & 0x80 ? [0, ...trimmed] : trimmed);
}

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, out);
}

function utcTime(date: Date): Uint8Array {
  const pad = (n: number) => String(n).padStart(2, "0");
  const text =
    `${pad(date.getUTCFullYear() % 100)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return tlv(0x17, [...new TextEncoder().encode(text)]);
}

function name(commonName: string): Uint8Array {
  return sequence(
    set(sequence(oid("2.5.4.3"), tlv(0x0c, [...new TextEncoder().encode(commonName)]))),
  );
}

function pem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${base64.trimEnd()}\n-----END ${label}-----\n`;
}

export async function selfSigned(): Promise<SelfSigned> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"));
  const now = Date.now();
  const subjectAltName = sequence(
    tlv(0x82, [...new TextEncoder().encode("localhost")]),
    tlv(0x87, [127, 0, 0, 1]),
  );
  const tbs = sequence(
    tlv(0xa0, integer(new Uint8Array([2]))),
    integer(crypto.getRandomValues(new Uint8Array(8))),
    ecdsaWithSha256,
    name("localhost"),
    sequence(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 86_400_000))),
    name("localhost"),
    spki,
    tlv(0xa3, sequence(sequence(oid("2.5.29.17"), tlv(0x04, subjectAltName)))),
  );
  const p1363 = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      new Uint8Array(tbs),
    ),
  );
  const signature = sequence(integer(p1363.subarray(0, 32)), integer(p1363.subarray(32)));
  const certificate = sequence(tbs, ecdsaWithSha256, tlv(0x03, [0, ...signature]));
  return { cert: pem("CERTIFICATE", certificate), key: pem("PRIVATE KEY", pkcs8) };
}
