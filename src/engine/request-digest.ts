import type { Agent } from '../agent/index.js';
import { canonicalJson, digest } from '../core/index.js';
import {
  SPOTLIGHT_PLACEHOLDER,
  spotlight,
  spotlightMessage,
  spotlightSystem,
} from '../guard/index.js';
import {
  conversationFold,
  type Message,
  type ModelAdapterV1,
  type ModelRequest,
} from '../model/index.js';

/** Marks a `requestHash` taken by {@link requestDigest}; older journals carry bare digests. */
const CHAINED = 'v2:';

interface Chain {
  /** The digest chained over the messages so far ('' before the first). */
  readonly digest: string;
  /** Whether spotlighting marked any of them (the system prompt then gains its note). */
  readonly marked: boolean;
}

const START: Chain = { digest: '', marked: false };

// One chain per handling: a verbatim agent digests messages as they are, a spotlighting or
// quarantining one as spotlighted with the stand-in nonce.
const verbatimChain = conversationFold(START, (chain, message: Message) => link(chain, message));
const spotlightedChain = conversationFold(START, (chain, message: Message) => {
  const shown = spotlightMessage(message, SPOTLIGHT_PLACEHOLDER);
  return link({ ...chain, marked: chain.marked || shown !== message }, shown);
});

function link(chain: Chain, message: Message): Chain {
  return { digest: digest(`${chain.digest}\n${canonicalJson(message)}`), marked: chain.marked };
}

/**
 * The digest replay compares: the request spotlighted with a fixed stand-in nonce, so it shows
 * whether content was marked but not which run's markers it carried. It is chained: a digest
 * over the previous messages' digest and each message in turn, then over the rest of the
 * request (system prompt, tools, settings). A run's next request repeats its last one plus a
 * few messages, so a step digests only what it added, at step 1,000 as at step 10. Equal
 * requests give equal digests whatever came before.
 *
 * ```ts
 * requestDigest(agent, request) // 'v2:3f0c…'
 * ```
 */
export function requestDigest(agent: Agent, request: ModelRequest): string {
  if (wholeRequestModels.has(agent.model)) return wholeRequestDigest(agent, request);
  const verbatim = agent.untrusted.handling === 'verbatim';
  const chain = (verbatim ? verbatimChain : spotlightedChain)(request.messages);
  const { messages: _messages, ...rest } = request;
  const head = chain.marked
    ? { ...rest, system: spotlightSystem(rest.system, SPOTLIGHT_PLACEHOLDER) }
    : rest;
  return `${CHAINED}${digest(`${headJson(head)}\n${chain.digest}`)}`;
}

/** Each tool spec's canonical JSON: the same spec objects are offered at every step. */
const specJson = new WeakMap<object, string>();

/**
 * `canonicalJson(head)`, with each tool spec's part (most of it: names, descriptions, input
 * schemas) written once per spec instead of once per step.
 */
function headJson(head: Omit<ModelRequest, 'messages'>): string {
  const fields: string[] = [];
  for (const key of Object.keys(head).sort()) {
    const value = (head as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const json =
      key === 'tools' && Array.isArray(value)
        ? `[${value.map((spec: unknown) => toolJson(spec)).join(',')}]`
        : canonicalJson(value);
    fields.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${fields.join(',')}}`;
}

function toolJson(spec: unknown): string {
  // Only a frozen spec (as `defineTool` makes them) is known not to change under the cache.
  if (spec === null || typeof spec !== 'object' || !Object.isFrozen(spec))
    return canonicalJson(spec);
  let json = specJson.get(spec);
  if (json === undefined) {
    json = canonicalJson(spec);
    specJson.set(spec, json);
  }
  return json;
}

/** The digest journals written before chaining carry: the whole request, hashed each step. */
function wholeRequestDigest(agent: Agent, request: ModelRequest): string {
  return digest(
    canonicalJson(
      agent.untrusted.handling === 'verbatim' ? request : spotlight(request, SPOTLIGHT_PLACEHOLDER),
    ),
  );
}

const wholeRequestModels = new WeakSet<ModelAdapterV1>();

/**
 * Runs on this model hash requests the way journals from before chained digests did, so a
 * replay of such a journal compares like with like.
 */
export function digestWholeRequests(model: ModelAdapterV1): void {
  wholeRequestModels.add(model);
}

/** Whether a journaled `requestHash` is a whole-request digest (written before chaining). */
export function isWholeRequestDigest(requestHash: string): boolean {
  return !requestHash.startsWith(CHAINED);
}
