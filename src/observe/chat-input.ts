import { canonicalJson } from '../core/index.js';
import type { ChatInput } from './journal-spans.js';

/** A model request as an observer is shown it (the engine's `ModelRequest` is one). */
export interface ObservedRequest {
  readonly system?: string | undefined;
  readonly messages: readonly { readonly role: string; readonly parts: readonly object[] }[];
}

/**
 * Which model call a request is for: the model call of `step`, or, with `summarisedStep`, the
 * summariser call made before `step` for that completed step.
 */
export interface ObservedCall {
  readonly step: number;
  readonly summarisedStep?: number | undefined;
}

/** The key of the span a call's input belongs on (see `spansFromJournal`'s `inputs`). */
export function inputKey(call: ObservedCall): string {
  return call.summarisedStep === undefined
    ? `chat:${String(call.step)}`
    : `summary:${String(call.step)}:${String(call.summarisedStep)}`;
}

/**
 * A request as GenAI span content: `gen_ai.input.messages` (text, `tool_call` and
 * `tool_call_response` parts) and `gen_ai.system_instructions`, as canonical JSON truncated at
 * `maxChars` like all captured content. Long texts are clipped before serialising, so the work
 * stays bounded by `maxChars` however large the request.
 *
 * ```ts
 * chatInput(request, 8192); // { messages: '[{"parts":[{"content":"Refund A-1","type":"text"}],"role":"user"}]', system: ... }
 * ```
 */
export function chatInput(request: ObservedRequest, maxChars: number): ChatInput {
  const clip = (value: unknown): string => {
    const text = typeof value === 'string' ? value : '';
    return text.length <= maxChars ? text : text.slice(0, maxChars);
  };
  let out = '[';
  messages: for (const [index, message] of request.messages.entries()) {
    out += `${index === 0 ? '' : ','}{"parts":[`;
    for (const [at, part] of message.parts.entries()) {
      out +=
        (at === 0 ? '' : ',') + canonicalJson(genAiPart(part as Record<string, unknown>, clip));
      if (out.length > maxChars) break messages;
    }
    out += `],"role":${JSON.stringify(message.role)}}`;
    if (out.length > maxChars) break;
  }
  out += ']';
  const messages = out.length <= maxChars ? out : `${out.slice(0, maxChars)}…`;
  if (request.system === undefined || request.system === '') return { messages };
  const system = canonicalJson([{ type: 'text', content: clip(request.system) }]);
  return { messages, system: system.length <= maxChars ? system : `${system.slice(0, maxChars)}…` };
}

function genAiPart(
  part: Record<string, unknown>,
  clip: (value: unknown) => string,
): Record<string, unknown> {
  switch (part.type) {
    case 'tool_call':
      return {
        type: 'tool_call',
        id: part.callId,
        name: part.toolName,
        arguments: clip(part.arguments),
      };
    case 'tool_result':
      return { type: 'tool_call_response', id: part.callId, response: clip(part.content) };
    default:
      return { type: 'text', content: clip(part.text) };
  }
}
