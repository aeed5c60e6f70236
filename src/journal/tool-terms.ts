/** What a tool does to the world; the policy gates by it. Closed: add deliberately. */
export const TOOL_EFFECTS = ['read', 'write', 'irreversible', 'egress'] as const;
/** What a tool does to the world: read, write, irreversible, or egress (sends data out). */
export type ToolEffect = (typeof TOOL_EFFECTS)[number];

/** The closed set of ways a tool call can fail. The type decides the next move. */
export const TOOL_ERROR_TYPES = [
  'rate_limited',
  'not_found',
  'invalid_input',
  'forbidden',
  'unavailable',
  'timeout',
  'conflict',
  'internal',
] as const;
/** How a tool call failed; the type decides the next move. */
export type ToolErrorType = (typeof TOOL_ERROR_TYPES)[number];

/** A tool failure as recorded in the journal and fed back to the model. Plain data. */
export interface ToolFailure {
  readonly type: ToolErrorType;
  readonly message: string;
  readonly retryAfterMs?: number | undefined;
}
