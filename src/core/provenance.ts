/** Whether a piece of content may carry authority. */
export const TRUST_LEVELS = ['trusted', 'untrusted'] as const;
export type Trust = (typeof TRUST_LEVELS)[number];

/**
 * Where a piece of content came from. Travels with the content through the journal, the
 * context and summaries. Only `trusted` content may grant permission.
 *
 * Sources: `system`, `agent` (the definition's instructions), `task` (the authenticated task),
 * `tool:<name>` (a tool's output), `model` (model output; untrusted once the model has seen
 * untrusted content), `runtime` (Keel's own feedback such as validation errors).
 */
export interface Provenance {
  readonly trust: Trust;
  readonly source: string;
}

export const TRUSTED_TASK: Provenance = Object.freeze({ trust: 'trusted', source: 'task' });
export const TRUSTED_AGENT: Provenance = Object.freeze({ trust: 'trusted', source: 'agent' });
export const TRUSTED_RUNTIME: Provenance = Object.freeze({ trust: 'trusted', source: 'runtime' });

/** The weaker of two labels: anything derived from untrusted content is untrusted. */
export function combineTrust(a: Trust, b: Trust): Trust {
  return a === 'untrusted' || b === 'untrusted' ? 'untrusted' : 'trusted';
}
