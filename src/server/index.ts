export { approvalApp } from './approval-app.js';
export { STATUS_BY_CODE } from './status-codes.js';
export { serveApprovals } from './serve-approvals.js';
export { runEventsApp, streamRunEvents, type RunEventsAppOptions } from './run-events-app.js';
export { keelApp, serveKeel, type KeelAppOptions } from './keel-app.js';
export { dashboardApp, type Dashboard, type DashboardOptions } from './dashboard/dashboard-app.js';
export { securityHeaders } from './security-headers.js';
export { requestLimits, type RequestLimits } from './request-limits.js';
export type { Listening } from './listen.js';
export {
  MCP_IDEMPOTENCY_KEY,
  agentMcpServer,
  serveAgentsOverHttp,
  serveAgentsOverStdio,
  type AgentMcpServerOptions,
} from './agent-mcp-server.js';
