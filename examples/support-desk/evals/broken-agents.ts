import {
  simulator,
  type Agent,
  type ScriptContext,
  type SimulatedTurn,
} from '../../../src/index.js';
import { SUPPORT_DESK_MODEL_ID, supportDeskAgents } from '../agents.js';
import { paymentsScript, refundsScript } from '../scripts.js';

/**
 * A deliberately broken build of the support desk, for showing what the evaluation catches:
 * its refunds agent confirms refunds without their reference number, and its payments agent
 * looks the order up too before answering (three calls for a simple question).
 */
function withoutReference(context: ScriptContext): SimulatedTurn {
  const turn = refundsScript(context);
  return turn.text === undefined
    ? turn
    : { ...turn, text: turn.text.replace(/RF-\d+/g, 'your refund') };
}

function oneCallTooMany(context: ScriptContext): SimulatedTurn {
  const turn = paymentsScript(context);
  const looked = context.request.messages.some((message) =>
    message.parts.some((part) => part.type === 'tool_call' && part.toolName === 'lookup_order'),
  );
  if (turn.text === undefined || looked || !context.task.includes('PAY-2001')) return turn;
  return { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1004' } }] };
}

const BROKEN: Readonly<Record<string, (context: ScriptContext) => SimulatedTurn>> = {
  refunds: withoutReference,
  payments: oneCallTooMany,
};

/** The desk's agents with the two broken ones swapped in. */
export const agents: Agent[] = supportDeskAgents.map((agent) => {
  const script = BROKEN[agent.name];
  return script ? agent.withModel(simulator({ script, modelId: SUPPORT_DESK_MODEL_ID })) : agent;
});
