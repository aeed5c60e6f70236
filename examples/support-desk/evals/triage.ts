import { z } from 'zod';
import {
  ToolError,
  decide,
  defineAgent,
  defineTool,
  simulator,
  type Agent,
  type ScriptContext,
  type SimulatedTurn,
} from '../../../src/index.js';

/**
 * A triage agent for the evaluation: it classifies a ticket with a decision inside its run
 * and hands the ticket to a human when the classifier is unsure (confidence below 0.6).
 */

/** Below this confidence, a ticket goes to a human. */
export const TRIAGE_MIN_CONFIDENCE = 0.6;

const ROUTES = ['refunds', 'payments', 'account', 'general'] as const;

/** The classifier's scripted model: sure of tickets that name what they are about, unsure of the rest. */
function classifierScript({ task }: ScriptContext): SimulatedTurn {
  const route = /\brefund/i.test(task)
    ? 'refunds'
    : /\bPAY-\d|declined|charged/i.test(task)
      ? 'payments'
      : /\bORD-\d|parcel|tracking/i.test(task)
        ? 'general'
        : undefined;
  return {
    text: JSON.stringify(
      route
        ? { value: route, confidence: 0.93, reason: 'the ticket says what it is about' }
        : { value: 'general', confidence: 0.4, reason: 'the ticket could be about anything' },
    ),
  };
}

const classifier = simulator({ script: classifierScript, modelId: 'support-desk-classifier' });

const classifyTicket = defineTool({
  name: 'classify_ticket',
  description: 'Decide which team a ticket belongs to.',
  input: z.object({ ticket: z.string() }),
  effect: 'read',
  escape: {
    type: 'handoff',
    on: ['conflict'],
    reason: 'the classifier is unsure; a human triages it',
  },
  async run({ ticket }, context) {
    const decision = await decide({
      schema: z.enum(ROUTES),
      instructions: 'Which team handles this support ticket?',
      input: ticket,
      model: classifier,
      minConfidence: TRIAGE_MIN_CONFIDENCE,
      fallback: 'general',
      run: context,
    });
    if (decision.source === 'fallback') {
      throw new ToolError(
        'conflict',
        `confidence ${decision.confidence} is below ${TRIAGE_MIN_CONFIDENCE}`,
      );
    }
    return { team: decision.value, confidence: decision.confidence };
  },
});

function triageScript({ step, lastToolResults }: ScriptContext): SimulatedTurn {
  if (step === 0) return { toolCalls: [{ name: 'classify_ticket', args: { ticket: '' } }] };
  return { text: `Routed: ${lastToolResults[0]?.content ?? 'nowhere'}` };
}

/** The triage agent. */
export const triageAgent: Agent = defineAgent({
  name: 'triage',
  description: 'Routes tickets; unsure ones go to a human.',
  instructions: 'Classify the ticket with classify_ticket, then say where it went.',
  model: simulator({
    script: (context) => {
      const turn = triageScript(context);
      // The ticket is the task: the tool is asked about it, word for word.
      return turn.toolCalls
        ? { toolCalls: [{ name: 'classify_ticket', args: { ticket: context.task } }] }
        : turn;
    },
    modelId: 'support-desk-triage',
  }),
  tools: [classifyTicket],
  limits: { maxIterations: 4 },
});
