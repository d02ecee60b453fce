/**
 * The UTF-8 length of text, counted without encoding it: frame limits are in
 * bytes, and most frames are checked without being measured at all.
 *
 * @module
 */

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
