/**
 * `stdio:` for the `rpc` command: `rpc call stdio:'cmd args' METHOD` runs
 * `cmd` as a child and talks over its stdin and stdout; `rpc serve stdio:`
 * serves over the command's own stdin and stdout.
 *
 * The command after `stdio:` is split into words like a shell does, without
 * a shell: whitespace separates words, `'...'` keeps its text as is,
 * `"..."` too except that `\"` and `\\` are a quote and a backslash, and a
 * backslash outside quotes keeps the next character. No variables, globs
 * or pipes. The first word is the program (found on PATH).
 *
 * @module
 */

import type { Dialect, Handler, Logger, Peer } from "../mod.ts";
import type { Server } from "../protocol/peer/server.ts";
import { type Framing, serveStdio, spawn } from "../transports/stdio.ts";
import { UsageError } from "./args.ts";
import type { ParsedArgs } from "./parse_args.ts";

/** Whether `url` names a child process or this process's stdio. */
export function isStdioUrl(url: string): boolean {
  return url.startsWith("stdio:");
}

/**
 * How a `stdio:` URL is named in messages: its program only, since its
 * arguments may hold secrets (`--token=...`). Other URLs are kept.
 */
export function shownUrl(url: string): string {
  if (!isStdioUrl(url)) return url;
  try {
    const program = splitCommand(url.slice("stdio:".length))[0];
    return program === undefined ? url : `stdio:${program}${program === url.slice(6) ? "" : " …"}`;
  } catch {
    return "stdio:…";
  }
}

/** The words of a command line, by the rule in this module's doc. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) word += text[++i];
      else word += char;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (char === "'" || char === '"') quote = char;
      else if (char === "\\") {
        if (i + 1 === text.length) throw new UsageError("a command ends with a lone backslash");
        word += text[++i];
      } else word += char;
    }
  }
  if (quote !== undefined) throw new UsageError(`a command has an unclosed ${quote}`);
  if (inWord) words.push(word);
  return words;
}

/** `--framing`: newline (the default) or content-length, for stdio: only. */
export function framingFlag(flags: ParsedArgs, url: string): Framing {
  if (flags.framing === undefined) return "newline";
  if (!isStdioUrl(url)) throw new UsageError(`--framing applies to stdio: only, not '${url}'`);
  const framing = String(flags.framing);
  if (framing !== "newline" && framing !== "content-length") {
    throw new UsageError(`--framing must be newline or content-length, got '${framing}'`);
  }
  return framing;
}

/** What {@linkcode spawnPeer} passes on to the peer. */
export interface StdioPeerOptions {
  dialect: Dialect;
  logger: Logger;
  timeout: number;
  fallback?: Handler;
}

/**
 * Starts the command of `url` and returns the peer over its pipes; when the
 * peer closes, the child's stdin is closed and it is killed if it stays.
 */
export function spawnPeer(url: string, flags: ParsedArgs, options: StdioPeerOptions): Peer {
  const [command, ...args] = splitCommand(url.slice("stdio:".length));
  if (command === undefined || command === "") {
    throw new UsageError("stdio: needs a command: stdio:'cmd args'");
  }
  const child = spawn(command, args, { ...options, framing: framingFlag(flags, url) });
  child.peer.closed.then(() => child.close());
  return child.peer;
}

/**
 * Serves `server` over this process's stdin and stdout until stdin ends or
 * `stop` resolves; resolves with why it stopped.
 */
export async function serveOverStdio(
  server: Server,
  flags: ParsedArgs,
  stop: Promise<string>,
): Promise<string> {
  const peer = serveStdio(server, { framing: framingFlag(flags, "stdio:") });
  return await Promise.race([stop, peer.closed.then(() => "stdin ended")]);
}
