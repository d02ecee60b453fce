/**
 * Reads a request body under a size cap and a deadline, chunk by chunk:
 * shared by the mushroom endpoint and JSON-RPC over HTTP.
 *
 * @module
 */

/** Why a body was not read: too large, too slow, or the client went away. */
export type Unread = 413 | 408 | 400;

const decoder = new TextDecoder();
/** Keeps a leading byte order mark in the text, for a JSON parser to refuse. */
export const keepingBom: TextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

function ignore(): void {}

/**
 * The request's body as text; 413 when it is over `limit` bytes (a
 * `Content-Length` over it is refused before a byte is read), 408 when it
 * has not all arrived within `timeout` ms, 400 when it could not be read.
 * With `keepBom`, a leading byte order mark stays in the text (JSON-RPC
 * over HTTP refuses it, as `request.json()` does a body of declared length).
 */
export async function readBodyChunks(
  request: Request,
  limit: number,
  timeout: number,
  keepBom = false,
): Promise<string | Unread> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > limit) return 413;
  if (request.body === null) return "";
  const reader = request.body.getReader();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(ignore);
  }, timeout);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (late) return 408;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(ignore);
        return 413;
      }
      chunks.push(value);
    }
  } catch {
    return late ? 408 : 400;
  } finally {
    clearTimeout(timer);
  }
  const utf8 = keepBom ? keepingBom : decoder;
  if (chunks.length === 1) return utf8.decode(chunks[0]);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return utf8.decode(bytes);
}
