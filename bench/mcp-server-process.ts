// An MCP server over stdio for the MCP overhead bench, built with the official SDK: one `lookup`
// tool that answers at once. Started by the bench as its client's child process; exits when
// its stdin closes.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'bench', version: '1' });
server.registerTool(
  'lookup',
  {
    description: 'Stock level of an item.',
    inputSchema: { id: z.string() },
    annotations: { readOnlyHint: true },
  },
  ({ id }) =>
    Promise.resolve({ content: [{ type: 'text', text: JSON.stringify({ id, stock: 7 }) }] }),
);
process.stdin.once('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
