import type { Clock } from '../core/index.js';
import { withheldToolAlert } from './mcp-alert.js';
import type { McpAlertOptions, McpPinSource } from './mcp-tools-options.js';
import { MCP_AUDIT_KINDS, pinAction, type McpPinMode } from './pin-check.js';
import type { McpToolDefinition } from './tool-definition.js';
import type { McpToolStatus } from './tool-status.js';

/** Who pins automatically, as the pins and the audit log record it. */
export const AUTOMATIC_PIN_BY = 'development (automatic)';

/**
 * Act on a tool's status against its pin (see `pinAction`) and return where it stands after:
 * pin the live definition automatically (development), or record it as waiting for a person,
 * audit it and raise the alert (production, once per definition, whichever process sees it
 * first). A tool pinned by someone else meanwhile stays as it was until the next check.
 *
 * ```ts
 * const settled = await settlePin({ status, definition, pins: store, mode: 'production', clock });
 * ```
 */
export async function settlePin({
  status,
  definition,
  pins,
  mode,
  clock,
  alerts,
}: {
  readonly status: McpToolStatus;
  readonly definition: McpToolDefinition;
  readonly pins: McpPinSource;
  readonly mode: McpPinMode;
  readonly clock: Clock;
  readonly alerts?: McpAlertOptions | undefined;
}): Promise<McpToolStatus> {
  const action = pinAction(status, mode);
  const { fingerprint, pinnedFingerprint, signal, server, serverTool: tool } = status;
  if (action === 'none' || fingerprint === null) return status;
  const at = clock.now();
  const seen = { server, tool, fingerprint, definition, at };
  const audit = { server, tool, fingerprint, signal };
  if (action === 'pin') {
    const by = AUTOMATIC_PIN_BY;
    const onlyIfUnpinned = status.state === 'unpinned';
    if (!(await pins.mcpPins.pin({ ...seen, by, onlyIfUnpinned }))) return status;
    await pins.audit.append([
      {
        kind: MCP_AUDIT_KINDS.pinned,
        at,
        data: { ...audit, previousFingerprint: pinnedFingerprint, by },
      },
    ]);
    return {
      ...status,
      pinnedFingerprint: fingerprint,
      pinned: true,
      state: 'pinned',
      offered: true,
    };
  }
  if (await pins.mcpPins.recordPending(seen)) {
    await pins.audit.append([
      {
        kind: MCP_AUDIT_KINDS.withheld,
        at,
        data: { ...audit, state: status.state, pinnedFingerprint },
      },
    ]);
    raise(
      withheldToolAlert({
        server,
        tool,
        state: status.state === 'changed' ? 'changed' : 'unpinned',
        fingerprint,
        pinnedFingerprint,
        at,
      }),
      alerts,
    );
  }
  return status;
}

function raise(alert: ReturnType<typeof withheldToolAlert>, alerts: McpAlertOptions | undefined) {
  try {
    alerts?.onAlert?.(alert);
  } catch {
    // The listener's fault; delivery goes on.
  }
  alerts?.notifier?.notify(alert, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
}
