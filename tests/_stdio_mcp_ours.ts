// An MCP server written with our library, over its stdio: what the SDK's
// StdioClientTransport spawns in tests/stdio_mcp_test.ts.

import { serveStdio } from "../transports/stdio.ts";

const peer = serveStdio({
  "initialize": (params: { protocolVersion: string }) => ({
    protocolVersion: params.protocolVersion,
    capabilities: { tools: {} },
    serverInfo: { name: "seed-rpc-adder", version: "1.0.0" },
  }),
  "notifications/initialized": () => {},
  "tools/list": () => ({
    tools: [{
      name: "add",
      description: "Adds two numbers",
      inputSchema: {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"],
      },
    }],
  }),
  "tools/call": (
    { name, arguments: args }: { name: string; arguments: { a: number; b: number } },
  ) => {
    if (name !== "add") throw new Error(`no tool ${name}`);
    return { content: [{ type: "text", text: String(args.a + args.b) }] };
  },
});
await peer.closed;
