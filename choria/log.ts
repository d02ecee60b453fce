/**
 * Logging from an external agent: Choria logs each stdout line at INFO and
 * each stderr line at ERROR, and stops reading a pipe after a line of 64 KiB
 * or more (the agent may then block and be killed). Lines are kept below.
 *
 * @module
 */

/** The longest line written, in UTF-8 bytes: under go's 64 KiB scanner limit. */
export const MAX_LOG_LINE_BYTES = 64 * 1024 - 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Cuts `line` to at most `max` UTF-8 bytes (on a character boundary), saying
 * how much was cut.
 *
 * @example Long lines are cut, saying by how much
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { clampLine } from "@seed/rpc/choria";
 * assertEquals(clampLine("x".repeat(100), 40), "xxxxxxxxxxxxxxx… [truncated 85 bytes]");
 * ```
 */
export function clampLine(line: string, max: number = MAX_LOG_LINE_BYTES): string {
  const bytes = encoder.encode(line);
  if (bytes.length <= max) return line;
  const note = (cut: number) => `… [truncated ${cut} bytes]`;
  let keep = max - encoder.encode(note(bytes.length)).length;
  while (keep > 0 && (bytes[keep]! & 0xc0) === 0x80) keep--;
  return decoder.decode(bytes.subarray(0, keep)) + note(bytes.length - keep);
}

/**
 * Where an agent logs: `info` to stdout, `warn` and `error` to stderr; each
 * line of a message separately, none over {@linkcode MAX_LOG_LINE_BYTES}.
 *
 * @example Numbered log lines
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { AgentLog } from "@seed/rpc/choria";
 * const out: string[] = [];
 * const log = new AgentLog((line) => out.push(`1 ${line}`), (line) => out.push(`2 ${line}`));
 * log.info("two\nlines");
 * log.warn("careful");
 * assertEquals(out, ["1 two", "1 lines", "2 warning: careful"]);
 * ```
 */
export class AgentLog {
  #stdout: (line: string) => void;
  #stderr: (line: string) => void;

  /**
   * Makes a logger.
   *
   * @param stdout Writes one stdout line (default: the process's stdout).
   * @param stderr Writes one stderr line (default: the process's stderr).
   */
  constructor(
    stdout: (line: string) => void = (line) => writeLine(Deno.stdout, line),
    stderr: (line: string) => void = (line) => writeLine(Deno.stderr, line),
  ) {
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  /** Logged by Choria at INFO. */
  info(message: string): void {
    for (const line of String(message).split("\n")) this.#stdout(clampLine(line));
  }

  /** Logged by Choria at ERROR, marked as a warning. */
  warn(message: string): void {
    for (const line of String(message).split("\n")) this.#stderr(clampLine(`warning: ${line}`));
  }

  /** Logged by Choria at ERROR. */
  error(message: string): void {
    for (const line of String(message).split("\n")) this.#stderr(clampLine(line));
  }
}

function writeLine(stream: { writeSync(bytes: Uint8Array): number }, line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}
