export { STATUS_BY_CODE, approvalApp } from './approval-app.js';
export { serveApprovals } from './serve-approvals.js';
export {
  MCP_IDEMPOTENCY_KEY,
  agentMcpServer,
  serveAgentsOverHttp,
  serveAgentsOverStdio,
  type AgentMcpServerOptions,
} from './agent-mcp-server.js';
