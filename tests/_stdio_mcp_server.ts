// An MCP server written with the official SDK, over its stdio (newline
// framing): one tool, `add`, that logs a notification before answering.

import { Server } from "npm:@modelcontextprotocol/sdk@1.32.2/server/index.js";
import { StdioServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/stdio.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";

const server = new Server(
  { name: "sdk-adder", version: "1.0.0" },
  { capabilities: { tools: {}, logging: {} } },
);
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [{
    name: "add",
    description: "Adds two numbers",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
  }],
}));
// The SDK's request types come from zod schemas; the test only needs two numbers.
server.setRequestHandler(CallToolRequestSchema, async (request: unknown) => {
  const { a, b } = (request as { params: { arguments: { a: number; b: number } } }).params
    .arguments;
  await server.sendLoggingMessage({ level: "info", data: `adding ${a} and ${b}` });
  return { content: [{ type: "text", text: String(a + b) }] };
});
await server.connect(new StdioServerTransport());
