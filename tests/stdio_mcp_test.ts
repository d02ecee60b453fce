// The official MCP SDK (npm:@modelcontextprotocol/sdk, pinned) over stdio,
// newline framing, both ways: our client spawning a server built with the
// SDK, and the SDK's client spawning a server of ours.

import { assertEquals } from "@std/assert";
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
import { spawn } from "../transports/stdio.ts";
import { waitFor, within } from "./_helpers.ts";

const SDK_SERVER = new URL("./_stdio_mcp_server.ts", import.meta.url).pathname;
const OUR_SERVER = new URL("./_stdio_mcp_ours.ts", import.meta.url).pathname;
const PROTOCOL_VERSION = "2025-06-18";

Deno.test("MCP: our client against a server built with the SDK", async () => {
  const logged: unknown[] = [];
  const child = spawn(Deno.execPath(), ["run", "-A", SDK_SERVER], {
    framing: "newline",
    handlers: { "notifications/message": (params: unknown) => void logged.push(params) },
  });
  try {
    const init = await child.peer.call("initialize", {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "seed-rpc", version: "0.1.0" },
    }, { timeout: 60_000 }) as { protocolVersion: string; serverInfo: { name: string } };
    assertEquals(init.protocolVersion, PROTOCOL_VERSION);
    assertEquals(init.serverInfo.name, "sdk-adder");
    await child.peer.notify("notifications/initialized");
    const { tools } = await child.peer.call("tools/list", {}) as { tools: { name: string }[] };
    assertEquals(tools.map((tool) => tool.name), ["add"]);
    const result = await child.peer.call("tools/call", {
      name: "add",
      arguments: { a: 20, b: 22 },
    });
    assertEquals(result, { content: [{ type: "text", text: "42" }] });
    // The tool logged before answering: a notification from the server.
    await waitFor(() => logged.length > 0, { message: "notifications/message" });
    assertEquals(logged[0], { level: "info", data: "adding 20 and 22" });
  } finally {
    const status = await within(child.close(), 10_000, "the SDK server's exit");
    assertEquals(status.success || status.signal === "SIGTERM", true);
  }
});

Deno.test({
  name: "MCP: the SDK's client against a server of ours",
  // The SDK's StdioClientTransport.close races the child's exit with a 2 s
  // (unref'd) timer it never clears, which the sanitizers count; the test
  // checks the child's exit itself instead (its transport's onclose).
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "--allow-read", OUR_SERVER],
    stderr: "inherit",
  });
  const exited = Promise.withResolvers<void>();
  transport.onclose = () => exited.resolve();
  const client = new Client({ name: "sdk-client", version: "1.0.0" });
  await within(client.connect(transport), 60_000, "the SDK client's connect");
  try {
    assertEquals(client.getServerVersion()?.name, "seed-rpc-adder");
    const { tools } = await client.listTools();
    assertEquals(tools.map((tool: { name: string }) => tool.name), ["add"]);
    const result = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    assertEquals(result.content, [{ type: "text", text: "5" }]);
  } finally {
    await client.close();
  }
  await within(exited.promise, 10_000, "our server's exit");
});
