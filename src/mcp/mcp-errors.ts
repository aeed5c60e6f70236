import {
  ToolError,
  toToolFailure,
  toolErrorTypeOfStatus,
  type ToolErrorType,
} from '../tools/index.js';
import type { McpSdk } from './mcp-sdk.js';

/** JSON-RPC and MCP error codes (the SDK's `ErrorCode`) and the tool error each one means. */
const TYPE_OF_CODE: ReadonlyMap<number, ToolErrorType> = new Map([
  [-32000, 'unavailable'], // ConnectionClosed: the transport dropped
  [-32001, 'timeout'], // RequestTimeout
  [-32700, 'internal'], // ParseError
  [-32600, 'invalid_input'], // InvalidRequest
  [-32601, 'not_found'], // MethodNotFound
  [-32602, 'invalid_input'], // InvalidParams
  [-32603, 'internal'], // InternalError
  [-32002, 'not_found'], // resource not found
]);

/** `MCP error <code>: ...`: how the SDK writes a JSON-RPC error into an `isError` tool result. */
const MCP_ERROR_TEXT = /^MCP error (-?\d+):/;

/**
 * The typed tool error for anything an MCP call threw: a JSON-RPC error by its code, an HTTP
 * failure of the streamable transport by its status, an authorization failure as `forbidden`,
 * a dropped or missing connection as `unavailable`; the rest as any tool throw
 * (`toToolFailure`: network codes are `unavailable`, others `internal`).
 *
 * ```ts
 * throw mcpToolError(sdk, error, 'orders/lookup_order');
 * ```
 */
export function mcpToolError(sdk: McpSdk, error: unknown, what: string): ToolError {
  if (ToolError.isInstance(error)) return error;
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (error instanceof sdk.McpError) {
    return new ToolError(TYPE_OF_CODE.get(error.code) ?? 'internal', message, { cause: error });
  }
  if (error instanceof sdk.StreamableHTTPError) {
    const status = typeof error.code === 'number' ? error.code : -1;
    return new ToolError(toolErrorTypeOfStatus(status) ?? 'internal', message, { cause: error });
  }
  if (error instanceof sdk.UnauthorizedError) {
    return new ToolError('forbidden', message, { cause: error });
  }
  // The SDK's own words for a client whose transport is gone.
  if (error instanceof Error && error.message === 'Not connected') {
    return new ToolError('unavailable', message, { cause: error });
  }
  const failure = toToolFailure(error);
  return new ToolError(failure.type, `${what}: ${failure.message}`, { cause: error });
}

/**
 * The typed error of a tool result the server marked `isError`: its text, typed by the JSON-RPC
 * code when the SDK wrote one there (`MCP error -32602: ...`), else `internal`.
 */
export function resultToolError(text: string, what: string): ToolError {
  const code = MCP_ERROR_TEXT.exec(text)?.[1];
  const type = code === undefined ? 'internal' : (TYPE_OF_CODE.get(Number(code)) ?? 'internal');
  return new ToolError(type, `${what}: ${text || 'the tool reported an error'}`);
}
