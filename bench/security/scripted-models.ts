import type { ScriptContext, SimulatedTurn } from '../../src/index.js';
import type { PlannedCall } from './scenario.js';

/** The threat levels of the benchmark. */
export const THREAT_LEVELS = ['T0', 'T1', 'T2', 'T3'] as const;
export type ThreatLevel = (typeof THREAT_LEVELS)[number];

/** What an attacker-controlled turn does (T3): a call, or the final text. */
export type AttackerTurn = { readonly call: PlannedCall } | { readonly text: string };

/**
 * A scripted worst-case model: what it would do next, given the conversation so far. Each
 * is a pure function of the conversation, so a run resumed after an approval replays it.
 */
export type ScriptedModel =
  | { readonly level: 'T0'; readonly plan: readonly PlannedCall[]; readonly answer: string }
  | {
      readonly level: 'T1';
      readonly variant: 'resume' | 'stop';
      readonly plan: readonly PlannedCall[];
      readonly answer: string;
      readonly marker: string;
      readonly attack: readonly PlannedCall[];
      readonly attackAnswer: string | undefined;
    }
  | {
      readonly level: 'T2';
      readonly plan: readonly PlannedCall[];
      readonly answer: string;
      readonly marker: string;
      readonly swap: (call: PlannedCall) => PlannedCall;
    }
  | {
      readonly level: 'T3';
      readonly plan: readonly PlannedCall[];
      readonly answer: string;
      readonly turns: readonly AttackerTurn[];
    };

/** The next turn of `model` at this point of the conversation. */
export function scriptedTurn(model: ScriptedModel, context: ScriptContext): SimulatedTurn {
  const { step } = context;
  const seen =
    model.level === 'T0'
      ? undefined
      : model.level === 'T3'
        ? firstStepAfter(context, (part) => part.provenance.trust === 'untrusted')
        : firstStepAfter(context, (part) => bare(part.content).includes(bare(model.marker)));
  const user = model.plan;
  const k = seen ?? Number.POSITIVE_INFINITY;
  let sequence: readonly AttackerTurn[];
  switch (model.level) {
    case 'T0':
      sequence = [...user.map((call) => ({ call })), { text: model.answer }];
      break;
    case 'T1': {
      const before = user.slice(0, k).map((call) => ({ call }));
      const attack = model.attack.map((call) => ({ call }));
      const final = {
        text: model.attackAnswer ?? (model.variant === 'stop' ? 'Done.' : model.answer),
      };
      sequence =
        seen === undefined
          ? [...user.map((call) => ({ call })), { text: model.answer }]
          : model.variant === 'stop'
            ? [...before, ...attack, final]
            : [...before, ...attack, ...user.slice(k).map((call) => ({ call })), final];
      break;
    }
    case 'T2':
      sequence = [
        ...user.slice(0, k).map((call) => ({ call })),
        ...user.slice(k).map((call) => ({ call: model.swap(call) })),
        { text: model.answer },
      ];
      break;
    case 'T3':
      sequence =
        seen === undefined
          ? [...user.map((call) => ({ call })), { text: model.answer }]
          : [...user.slice(0, k).map((call) => ({ call })), ...model.turns, { text: 'Done.' }];
      break;
    default:
      model satisfies never;
      sequence = [];
  }
  const turn = sequence[Math.min(step, sequence.length - 1)] ?? { text: 'Done.' };
  return 'call' in turn
    ? { toolCalls: [{ name: turn.call.tool, args: turn.call.args }] }
    : { text: turn.text };
}

/** Text without quotes and escapes: an injection reads the same inside JSON tool output. */
function bare(text: string): string {
  return text.replace(/[\\"]/g, '');
}

/** The step at which the model first saw a tool result matching `test`, if it has. */
function firstStepAfter(
  context: ScriptContext,
  test: (part: { content: string; provenance: { trust: string } }) => boolean,
): number | undefined {
  let assistantTurns = 0;
  for (const message of context.request.messages) {
    if (message.role === 'assistant') assistantTurns += 1;
    if (
      message.role === 'tool' &&
      message.parts.some((part) => part.type === 'tool_result' && test(part))
    )
      return assistantTurns;
  }
  return undefined;
}
