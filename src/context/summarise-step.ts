import { combineTrust, type Provenance, type Trust } from '../core/index.js';
import type { Message, TextPart } from '../model/index.js';

/** A completed step compressed to one line, labelled with the weakest label it drew on. */
export interface StepSummary {
  readonly step: number;
  readonly part: TextPart;
  /** Tools the step called, in call order. */
  readonly tools: readonly string[];
}

/** The source of every summary; its trust is that of the content summarised. */
export const SUMMARY_SOURCE = 'summary';

// Messages never change: a step is summarised once per (first message, preview size).
const summaries = new WeakMap<Message, Map<number, StepSummary>>();

/**
 * The deterministic summariser: one line per step with what the model said, the tools it called
 * (arguments clipped) and the start of each result. A summary that quotes untrusted content is
 * untrusted.
 *
 * ```ts
 * summariseStep(stepMessages, 12, 80).part.text;
 * // 'step 12: called fetch_page({"page":12}) → fetch_page: "The Zephyr vault…"'
 * ```
 */
export function summariseStep(
  messages: readonly Message[],
  step: number,
  previewChars: number,
): StepSummary {
  const first = messages[0];
  const cached = first ? summaries.get(first)?.get(previewChars) : undefined;
  if (cached && cached.step === step) return cached;
  const quote = Math.max(40, Math.floor(previewChars / 2));
  const said: string[] = [];
  const calls: string[] = [];
  const results: string[] = [];
  const tools: string[] = [];
  let trust: Trust = 'trusted';
  for (const message of messages) {
    for (const part of message.parts) {
      trust = combineTrust(trust, part.provenance.trust);
      switch (part.type) {
        case 'text':
          said.push(oneLine(part.text, quote));
          break;
        case 'tool_call':
          tools.push(part.toolName);
          calls.push(`${part.toolName}(${oneLine(part.arguments, quote)})`);
          break;
        case 'tool_result':
          results.push(
            `${part.toolName}${part.isError ? ' failed' : ''}: "${oneLine(part.content, quote)}"`,
          );
          break;
        default:
          part satisfies never;
      }
    }
  }
  const text = [
    `step ${step}:`,
    said.length > 0 ? `said "${said.join(' ')}";` : '',
    calls.length > 0 ? `called ${calls.join(', ')}` : '',
    results.length > 0 ? `→ ${results.join('; ')}` : '',
  ]
    .filter((piece) => piece !== '')
    .join(' ');
  const provenance: Provenance = { trust, source: SUMMARY_SOURCE };
  const summary: StepSummary = { step, part: { type: 'text', text, provenance }, tools };
  if (first) {
    const byPreview = summaries.get(first) ?? new Map<number, StepSummary>();
    byPreview.set(previewChars, summary);
    summaries.set(first, byPreview);
  }
  return summary;
}

/**
 * Many step summaries merged into one line: the step range and how often each tool was called.
 * Its label is the weakest of the summaries it merges.
 *
 * ```ts
 * rollUpSteps(older).text; // 'steps 0–179 (180 steps): called fetch_page ×180; …'
 * ```
 */
export function rollUpSteps(steps: readonly StepSummary[]): TextPart {
  const counts = new Map<string, number>();
  let trust: Trust = 'trusted';
  for (const summary of steps) {
    trust = combineTrust(trust, summary.part.provenance.trust);
    for (const tool of summary.tools) counts.set(tool, (counts.get(tool) ?? 0) + 1);
  }
  const first = steps[0]?.step ?? 0;
  const last = steps.at(-1)?.step ?? first;
  const called = [...counts].map(([tool, count]) => `${tool} ×${count}`).join(', ');
  return {
    type: 'text',
    text: `steps ${first}–${last} (${steps.length} steps): ${called === '' ? 'no tool calls' : `called ${called}`}; their results are stored and recalled in full when relevant.`,
    provenance: { trust, source: SUMMARY_SOURCE },
  };
}

function oneLine(text: string, max: number): string {
  // Only the head is ever shown: flatten that, not a whole large result.
  const flat = text
    .slice(0, max * 4)
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}
