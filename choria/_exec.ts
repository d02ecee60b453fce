/**
 * Running an external program as go-choria does: temp files, a cleared
 * environment, a SIGKILL at the deadline, stdout and stderr read as log lines.
 *
 * @module
 */

import { getEnv } from "./_io.ts";

/** A line an agent printed: stdout lines are logged at INFO, stderr at ERROR. */
export interface LogLine {
  /** `info` for stdout, `error` for stderr. */
  level: "info" | "error";
  /** The line, without its newline. */
  line: string;
}

/** What one run of a program came to. */
export interface Execution {
  /** Go's `ExitCode()`: the exit status, or -1 when a signal ended it. */
  exitCode: number;
  /** It was killed at the deadline. */
  killed: boolean;
  /** Set when the program could not be started (Go's `fork/exec` error). */
  startError?: string;
  /** Its log lines, in the order read. */
  logs: LogLine[];
}

/** bufio.Scanner's default limit: a longer line stops the reading of that pipe. */
const MAX_SCAN_TOKEN = 64 * 1024;

/**
 * Creates a file in `dir` named `prefix` + random digits (as Go's
 * `os.CreateTemp`), mode 0600, holding `content`.
 */
export async function createTemp(dir: string, prefix: string, content: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const digits = String(crypto.getRandomValues(new Uint32Array(1))[0]!);
    const path = `${dir.replace(/\/+$/, "")}/${prefix}${digits}`;
    try {
      const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      try {
        await file.write(new TextEncoder().encode(content));
      } finally {
        file.close();
      }
      return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  throw new Error(`could not create a temporary file in ${dir}`);
}

/** The directory Go's `os.TempDir()` returns: `$TMPDIR`, else `/tmp`. */
export function goTempDir(): string {
  return getEnv("TMPDIR") || "/tmp";
}

/** This process's `PATH` (what Choria passes on), `""` when unknown. */
export function processPath(): string {
  return getEnv("PATH") ?? "";
}

/**
 * Reads a pipe as lines the way go-choria's scanner does, until the pipe
 * closes or `stopped` resolves.
 */
async function scanLines(
  stream: ReadableStream<Uint8Array>,
  level: LogLine["level"],
  logs: LogLine[],
  stopped: Promise<void>,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let pending = new Uint8Array(0);
  try {
    while (true) {
      const result = await Promise.race([reader.read(), stopped.then(() => undefined)]);
      if (result === undefined || result.done) break;
      const joined = new Uint8Array(pending.length + result.value.length);
      joined.set(pending);
      joined.set(result.value, pending.length);
      let start = 0;
      for (let at = joined.indexOf(10); at !== -1; at = joined.indexOf(10, start)) {
        if (at - start > MAX_SCAN_TOKEN) break;
        logs.push({ level, line: decoder.decode(joined.subarray(start, at)).replace(/\r$/, "") });
        start = at + 1;
      }
      pending = joined.slice(start);
      if (pending.length > MAX_SCAN_TOKEN) {
        // go-choria stops reading this pipe; the program may now block on
        // its writes until it is killed.
        logs.push({ level: "error", line: "bufio.Scanner: token too long" });
        await stopped;
        break;
      }
    }
    if (pending.length > 0 && pending.length <= MAX_SCAN_TOKEN) {
      logs.push({ level, line: decoder.decode(pending) });
    }
  } catch {
    // the pipe closed
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Runs `command` with `args`, a cleared environment plus `env`, in `cwd`,
 * stdin from /dev/null; SIGKILLs it after `timeout` milliseconds.
 */
export async function execute(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeout: number,
): Promise<Execution> {
  const logs: LogLine[] = [];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      env,
      clearEnv: true,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { exitCode: -1, killed: false, startError: goExecError(command, error), logs };
  }
  let killed = false;
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeout);
  const reading = Promise.all([
    scanLines(child.stdout, "info", logs, done.promise),
    scanLines(child.stderr, "error", logs, done.promise),
  ]);
  const status = await child.status;
  clearTimeout(timer);
  // Lines still in the pipes are read to the end; a grandchild that keeps a
  // pipe open is not waited for beyond a second.
  const grace = setTimeout(() => done.resolve(), 1000);
  await reading;
  clearTimeout(grace);
  done.resolve();
  return { exitCode: status.signal !== null ? -1 : status.code, killed, logs };
}

/** The error text Go's exec gives when a program cannot start. */
function goExecError(command: string, error: unknown): string {
  const reason = error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : error instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : (error as Error).message;
  return `fork/exec ${command}: ${reason}`;
}

/**
 * Splits a command line into words as go-choria's shlex does: spaces
 * separate, quotes group, backslash escapes.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
        word += line[++i];
      } else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new SyntaxError(`unclosed ${quote} in '${line}'`);
  if (inWord) words.push(word);
  return words;
}
