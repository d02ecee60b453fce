/**
 * The file and environment handling every external program shares: where
 * the request comes from and where the reply goes, read and written the way
 * go-choria makes them. go-choria writes the request, and creates the reply
 * file, as regular 0600 files in its own temp directory before it starts the
 * agent, so anything else there is refused:
 *
 * - an input (the request, facts, config) must be a regular file no larger
 *   than {@linkcode MAX_INPUT_BYTES}: a FIFO or a device (`/dev/zero`) would
 *   hang or never end;
 * - the reply path must be a regular file, not a symlink (it is never
 *   followed, so a planted link cannot make the agent overwrite its target);
 * - reading is bounded in time: it must end before the agent's deadline.
 *
 * @module
 */

import type { AgentLog } from "./log.ts";

/** The largest request, facts or config file read: 16 MiB. */
export const MAX_INPUT_BYTES: number = 16 * 1024 * 1024;

/** An environment variable, or `undefined` when unset or not permitted. */
export function getEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Reads a regular file of at most `maxBytes`, within `timeout` milliseconds
 * (Infinity: no limit). Throws with the reason otherwise.
 */
export async function readInput(
  path: string,
  timeout = Infinity,
  maxBytes = MAX_INPUT_BYTES,
): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new Error(`${path} is not a regular file`);
  if (info.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
  const file = await Deno.open(path, { read: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const reading = readAtMost(file.readable, maxBytes, path);
    if (timeout === Infinity) return await reading;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading ${path} took longer than ${Math.round(timeout)} ms`)),
        Math.max(0, timeout),
      );
    });
    return await Promise.race([reading, expired]);
  } finally {
    clearTimeout(timer);
    try {
      file.close();
    } catch {
      // The stream closed it.
    }
  }
}

/** Reads a stream as UTF-8 text, refusing more than `maxBytes`. */
export async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  what: string,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > maxBytes) throw new Error(`${what} is larger than ${maxBytes} bytes`);
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The request text from `path`, or stdin when there is no path; `""`
 * (logged) when it cannot be read, is not a regular file, is too large, or
 * takes longer than `timeout` milliseconds.
 */
export async function readRequest(
  path: string | undefined,
  log: AgentLog,
  timeout = Infinity,
): Promise<string> {
  try {
    return path ? await readInput(path, timeout) : await readAtMost(
      Deno.stdin.readable,
      MAX_INPUT_BYTES,
      "the request on stdin",
    );
  } catch (error) {
    log.error(`cannot read the request: ${(error as Error).message}`);
    return "";
  }
}

/**
 * Writes the reply to `path` (the existing regular file, truncated; a new
 * 0600 file if there is none), or stdout when there is no path. A symlink
 * or anything else that is not a regular file is refused, never followed.
 * Resolves with the exit status: 0, or 1 when it could not be written
 * (logged).
 */
export async function writeReply(
  path: string | undefined,
  reply: string,
  log: AgentLog,
): Promise<number> {
  try {
    if (!path) {
      await Deno.stdout.write(new TextEncoder().encode(reply));
      return 0;
    }
    let exists = true;
    try {
      const info = await Deno.lstat(path);
      if (info.isSymlink) {
        throw new Error("it is a symlink (Choria's reply file is a regular file it made)");
      }
      if (!info.isFile) throw new Error("it is not a regular file");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      exists = false;
    }
    // A new file is made exclusively: a link planted meanwhile makes this fail.
    await Deno.writeTextFile(
      path,
      reply,
      exists ? { create: false } : { createNew: true, mode: 0o600 },
    );
    return 0;
  } catch (error) {
    log.error(`cannot write the reply to ${path}: ${(error as Error).message}`);
    return 1;
  }
}
