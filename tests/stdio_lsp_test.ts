// The real `deno lsp` over its stdio, Content-Length framing: initialize
// with a workspace folder, answer its requests, open a file with a type
// error, receive its diagnostics, shut it down, and see it exit 0.

import { assert, assertEquals } from "@std/assert";
import type { CallContext } from "../mod.ts";
import { spawn } from "../transports/stdio.ts";
import { waitFor, within } from "./_helpers.ts";

interface Diagnostics {
  uri: string;
  diagnostics: { message: string; severity?: number }[];
}

Deno.test("deno lsp: initialize, configuration, didOpen, publishDiagnostics, shutdown, exit", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "seed_rpc_lsp_" }));
  const rootUri = new URL(`file://${dir}/`).href;
  const fileUri = new URL("main.ts", rootUri).href;
  const published: Diagnostics[] = [];
  const asked: string[] = [];
  const child = spawn(Deno.execPath(), ["lsp"], {
    framing: "content-length",
    cwd: dir,
    stderr: "piped",
    env: { NO_COLOR: "1" },
    handlers: {
      // One settings object per item asked for.
      "workspace/configuration": ({ items }: { items: unknown[] }) => {
        asked.push("workspace/configuration");
        return items.map(() => ({ enable: true, lint: false }));
      },
      "textDocument/publishDiagnostics": (params: Diagnostics) => void published.push(params),
    },
    // Whatever else it asks (registerCapability, workDoneProgress/create) is
    // acknowledged; other notifications (logMessage) are dropped.
    fallback: (_params: unknown, ctx: CallContext) => {
      asked.push(ctx.method);
      return null;
    },
  });
  const stderr = new Response(child.stderr).text();
  try {
    const init = await child.peer.call("initialize", {
      processId: Deno.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: "seed" }],
      capabilities: {
        workspace: { configuration: true, workspaceFolders: true },
        textDocument: { publishDiagnostics: { relatedInformation: true } },
      },
      initializationOptions: { enable: true, lint: false },
    }, { timeout: 30_000 }) as {
      capabilities: Record<string, unknown>;
      serverInfo?: { name: string };
    };
    assert(init.capabilities.textDocumentSync !== undefined);
    assertEquals(init.serverInfo?.name, "deno-language-server");
    await child.peer.notify("initialized", {});
    await child.peer.notify("textDocument/didOpen", {
      textDocument: {
        uri: fileUri,
        languageId: "typescript",
        version: 1,
        text: 'const count: number = "not a number";\nconsole.log(count);\n',
      },
    });
    const mine = await waitFor(
      () => published.find((p) => p.uri === fileUri && p.diagnostics.length > 0),
      { timeout: 60_000, message: "publishDiagnostics for main.ts" },
    );
    assert(
      mine.diagnostics.some((d) => d.message.includes("not assignable to type 'number'")),
      JSON.stringify(mine.diagnostics),
    );
    assert(asked.includes("workspace/configuration"), asked.join(", "));
    assertEquals(await child.peer.call("shutdown", undefined, { timeout: 30_000 }), null);
    await child.peer.notify("exit");
    const status = await within(child.status, 30_000, "deno lsp's exit");
    assertEquals(status.code, 0);
    await within(child.closed, 5000, "the peer's end");
  } finally {
    await child.close();
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});
