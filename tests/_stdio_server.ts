// A server of ours over this process's stdin and stdout, for the stdio
// tests: `deno run tests/_stdio_server.ts [newline|content-length]`.
// Logs go to stderr; stdout carries only frames.

import { serveStdio } from "../transports/stdio.ts";
import type { Framing } from "../transports/stdio.ts";

const framing = (Deno.args[0] ?? "newline") as Framing;
const peer = serveStdio({
  add: ({ a, b }: { a: number; b: number }) => a + b,
  echo: (params: unknown) => params,
  /** Writes to stderr, which the parent may capture. */
  complain: ({ text }: { text: string }) => {
    console.error(text);
    return true;
  },
  /** Exits at once with this code, a reply never sent. */
  exit: ({ code }: { code: number }) => Deno.exit(code),
  /** Calls the parent back. */
  ask: ({ method }: { method: string }, ctx) => ctx.peer.call(method, ["from the child"]),
}, { framing });
await peer.closed;
