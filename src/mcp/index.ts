export { AUTOMATIC_PIN_BY, settlePin } from './settle-pin.js';
export { connectMcp, mcpTools } from './mcp-tool-set.js';
export {
  bindMcpTools,
  mcpToolSetOf,
  mcpToolSetsOf,
  type McpToolSet,
} from './mcp-tool-set-registry.js';
export {
  type McpAlertOptions,
  type McpPinSource,
  type McpToolOptions,
  type McpToolsOptions,
} from './mcp-tools-options.js';
export { toolStatus, type McpToolStatus } from './tool-status.js';
export {
  MCP_AUDIT_KINDS,
  MCP_PIN_MODES,
  MCP_TOOL_STATES,
  defaultPinMode,
  pinAction,
  type McpPinMode,
  type McpToolState,
} from './pin-check.js';
export {
  parseServerSpec,
  serverName,
  type McpServerAddress,
  type McpServerSpec,
} from './server-spec.js';
export {
  definitionOf,
  descriptionSignal,
  fingerprintOf,
  labelledDescription,
  type McpToolDefinition,
} from './tool-definition.js';
export { withheldToolAlert, withheldToolAlerts, type WithheldTool } from './mcp-alert.js';
export {
  DEFAULT_LOCK_FILE,
  exportPins,
  importPins,
  lockFileText,
  parseLockFile,
  type McpLockEntry,
  type McpLockFile,
} from './lock-file.js';
export { McpConnection } from './mcp-connection.js';
export { mcpToolError } from './mcp-errors.js';
export {
  DEFINITION_FIELDS,
  approvePending,
  changedFields,
  inspectMcpServer,
  pinDefinitions,
  type InspectedTool,
} from './inspect-server.js';
