/**
 * UTF-8 for the byte-stream framings: the length of text counted without
 * encoding it (frame limits are in bytes, and most frames are checked
 * without being measured at all), and strict decoding on the fast path.
 *
 * @module
 */

/** Refuses bytes that are not UTF-8, and keeps a leading BOM as text. */
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/**
 * The same, replacing what is not UTF-8 with U+FFFD: Deno's fast path (a
 * fatal decoder takes a generic one, 6 to 15 times slower on 6 KiB of frames).
 */
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `bytes` as text (a leading BOM kept), or `undefined` when they are not all
 * UTF-8. Without a U+FFFD in the lenient decoding every byte was UTF-8; with
 * one, the fatal decoder tells bad bytes from a U+FFFD that was sent.
 */
export function utf8Text(bytes: Uint8Array): string | undefined {
  const text = lenientDecoder.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The UTF-8 length of `text`, in bytes. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
