/**
 * A risk signal that a piece of untrusted content tries to instruct the agent. Telemetry only:
 * a signal may tighten a policy (e.g. ask a human) but never relaxes one, and it is no part of
 * the security guarantee, which holds for a model that obeys every injection.
 */
export interface InjectionSignal {
  /** 0 (nothing found) to 1. */
  readonly score: number;
  /** The names of the patterns that matched. */
  readonly matches: readonly string[];
}

/** A function that scores text for signs of prompt injection (telemetry, never a barrier). */
export type InjectionDetector = (text: string) => InjectionSignal;

const PATTERNS: readonly (readonly [string, RegExp])[] = [
  [
    'ignore_instructions',
    /\b(ignore|disregard|forget)\b.{0,30}\b(previous|prior|above|earlier)\b.{0,20}\b(instructions?|prompts?|tasks?)\b/i,
  ],
  ['impersonates_user', /\b(message|instructions?|note) from (me, )?the user\b/i],
  ['addresses_assistant', /\bto you,? the (assistant|ai|agent)\b/i],
  [
    'fake_system',
    /\[\/?system\]|<\/?system>|\bsystem (prompt|message|override)\b|\bpolicy update\b/i,
  ],
  ['task_hijack', /\bbefore you (can )?(solve|do|complete|continue)\b|\bafter you do that\b/i],
  [
    'imperative_tool_use',
    /\b(next_required_action|you (must|should) (now )?(call|send|transfer|delete|share|invite))\b/i,
  ],
  [
    'exfiltration',
    /\b(send|email|forward|transfer|share)\b.{0,60}\b(to|with)\b\s+\S+@\S+|\b(send|transfer)\b.{0,30}\bto\s+[A-Z]{2}\d{2}[A-Z0-9]{8,}/i,
  ],
  ['credential_change', /\b(change|reset|update)\b.{0,20}\bpassword\b.{0,20}\bto\b/i],
];

/**
 * The built-in heuristic detector: a handful of patterns seen in injection attacks (an
 * "important message from the user", fake system messages, instructions to send data out).
 */
export const heuristicDetector: InjectionDetector = (text) => {
  const matches = PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([name]) => name);
  return { score: Math.min(1, matches.length / 2), matches };
};
