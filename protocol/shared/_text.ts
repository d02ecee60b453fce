/**
 * Text from the other side, cut to a size fit to echo back or log.
 *
 * @module
 */

/** How much of a name from the other side is echoed back or logged. */
export const ECHO_LENGTH = 256;

/** `text` cut to `max` characters with an ellipsis (never inside a surrogate pair). */
export function clip(text: string, max: number = ECHO_LENGTH): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}
