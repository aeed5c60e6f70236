import type { Trust } from '../core/index.js';
import type { InjectionDetector, InjectionSignal } from '../guard/index.js';
import type { McpPinRecord } from '../store/index.js';
import type { ToolEffect } from '../tools/index.js';
import type { McpToolState } from './pin-check.js';
import { descriptionSignal, fingerprintOf, type McpToolDefinition } from './tool-definition.js';

/** One MCP tool as Keel sees it now. Plain JSON. */
export interface McpToolStatus {
  /** The tool's name in Keel (with the prefix). */
  readonly name: string;
  readonly server: string;
  /** The tool's name on the server. */
  readonly serverTool: string;
  readonly effect: ToolEffect;
  readonly trust: Trust;
  /** The live definition's fingerprint; `null` once the server no longer lists the tool. */
  readonly fingerprint: string | null;
  readonly pinnedFingerprint: string | null;
  /** The live definition is the pinned one. */
  readonly pinned: boolean;
  readonly state: McpToolState;
  /** Offered to the model (and callable) now: only while pinned. */
  readonly offered: boolean;
  /** The server's annotations, shown as they are: they decide nothing. */
  readonly annotations: unknown;
  /** The injection detector's signal on the tool's description and schemas. */
  readonly signal: InjectionSignal | null;
}

/**
 * A tool's status from its live definition (`undefined`: no longer listed) and its pin record
 * (`bound: false`: no store holds pins yet). Pure.
 */
export function toolStatus({
  name,
  server,
  serverTool,
  effect,
  trust,
  definition,
  record,
  bound,
  detector,
}: {
  readonly name: string;
  readonly server: string;
  readonly serverTool: string;
  readonly effect: ToolEffect;
  readonly trust: Trust;
  readonly definition: McpToolDefinition | undefined;
  readonly record: McpPinRecord | undefined;
  readonly bound: boolean;
  readonly detector: InjectionDetector;
}): McpToolStatus {
  const fingerprint = definition ? fingerprintOf(definition) : null;
  const pinnedFingerprint = record?.pinned?.fingerprint ?? null;
  const state: McpToolState = !bound
    ? 'unbound'
    : fingerprint === null
      ? 'removed'
      : pinnedFingerprint === fingerprint
        ? 'pinned'
        : pinnedFingerprint === null
          ? 'unpinned'
          : 'changed';
  return {
    name,
    server,
    serverTool,
    effect,
    trust,
    fingerprint,
    pinnedFingerprint,
    pinned: state === 'pinned',
    state,
    offered: state === 'pinned',
    annotations: definition?.annotations ?? null,
    signal: definition ? descriptionSignal(definition, detector) : null,
  };
}
