import { defineGates, type GateOptions, type Gates } from '../approval/index.js';
import { KeelError, allFieldsOf, refuseUnknownFields } from '../core/index.js';
import type { Guard } from '../guard/index.js';
import {
  RECALL_TOOL_NAME,
  budgetTokens,
  recallTool,
  resolveContextOptions,
  type ContextConfig,
  type ContextOptions,
} from '../context/index.js';
import {
  modelChain,
  modelPriceProblem,
  priceFileMatch,
  resolveModel,
  warnOnce,
  type ModelAdapterV1,
} from '../model/index.js';
import type { Tool } from '../tools/index.js';
import { resolveLimits, type RunLimits } from '../journal/index.js';
import { AGENT_VERSION, contentVersion } from './agent-version.js';
import {
  resolveUntrusted,
  type UntrustedConfig,
  type UntrustedOptions,
} from './untrusted-options.js';

/**
 * What a run does when the model calls a tool outside the agent's set: `refuse` (the call is
 * rejected as `not_found`, flagged out of scope, and the model told so; the run goes on) or
 * `stop` (the run ends `stopped` with an `out_of_scope` reason, nothing of that step runs).
 */
export const OUT_OF_SCOPE_POLICIES = ['refuse', 'stop'] as const;
/** What a run does when the model calls a tool outside the agent's set. */
export type OutOfScopePolicy = (typeof OUT_OF_SCOPE_POLICIES)[number];

/** What `defineAgent` takes: the agent's name, model, instructions, tools, limits, gates, guard and context. */
export interface AgentDefinition {
  readonly name: string;
  /**
   * The agent's version, journaled on every run (`run_started.version`) and the key of its
   * baselines and alerts (e.g. `'2026-12-06.1'`: letters, digits, `. _ - + :`, at most 64).
   * Without it the version is a digest of the definition (`d:…`), which changes whenever the
   * instructions, tools, model, limits, gates, guard or context options do.
   */
  readonly version?: string;
  readonly description?: string;
  /**
   * An adapter (`simulator(...)`, `tiers.model('fast')`, ...) or a model string
   * (`anthropic:claude-sonnet-4-6`, `openai:gpt-4.1-mini`,
   * `openai-compatible:<baseURL>#<model>`), resolved at definition time.
   */
  readonly model: ModelAdapterV1 | string;
  /** Trusted instructions: the system prompt. */
  readonly instructions: string;
  readonly tools?: readonly Tool[];
  /**
   * The agent's limits over the defaults. A `maxCostUsd` needs a priced model (and priced
   * fallbacks): a model without a known price fails here, unless it is given one
   * (`keel.prices.json`, the adapter's `price`) or `maxCostUsd: 'tokens-only'` says the agent
   * is limited by tokens alone (no cost limit).
   */
  readonly limits?: AgentLimits;
  /** Cap on output tokens per model call; also used by the pre-flight budget check. */
  readonly maxOutputTokens?: number;
  /**
   * Which calls wait for a human (`{}` gates irreversible and egress tools). Without it no
   * call is gated.
   */
  readonly gates?: GateOptions;
  /**
   * The action policy every call is reviewed by before the gates (`defineGuard(...)`): where
   * each argument came from decides whether it runs, needs a human, or is refused. With a
   * guard, the gates leave effect-based confirmation to it (`gates.effects` defaults to none).
   */
  readonly guard?: Guard;
  /**
   * Opt in to a managed context: pinned constraints, summaries of older steps, a working window
   * and recall of stored results, inside the model's token budget. Without it every call
   * carries the whole conversation (and is compressed only if the provider rejects it as too
   * long).
   */
  readonly context?: ContextOptions;
  /** A call to a tool outside `tools`: `refuse` it and go on (default), or `stop` the run. */
  readonly onOutOfScope?: OutOfScopePolicy;
  /**
   * How untrusted tool output is handled: shown verbatim (default), spotlighted, or kept from
   * the tool-using model behind the quarantined reader; the injection detector and its
   * threshold; the output monitor. See `UntrustedOptions`.
   */
  readonly untrusted?: UntrustedOptions;
}

/** An agent's limits: any of the run limits, and `maxCostUsd: 'tokens-only'` for no cost limit. */
export type AgentLimits = Partial<Omit<RunLimits, 'maxCostUsd'>> & {
  readonly maxCostUsd?: number | 'tokens-only';
};

/** Where an agent's or a run's cost limit came from (see `Agent.costLimit`). */
export type CostLimitSource = 'set' | 'default' | 'tokens-only';

/** A validated, immutable agent. Modifiers return a new agent. */
export interface Agent {
  readonly name: string;
  /** The explicit `version`, or the digest of the definition (`d:…`). */
  readonly version: string;
  /** Whether `version` was given (it then survives modifiers) or is the content digest. */
  readonly versionGiven: boolean;
  readonly description: string;
  readonly model: ModelAdapterV1;
  /** The model tier the agent runs on (`fast`, `frontier`, ...), when its model came from one. */
  readonly tier: string | undefined;
  readonly instructions: string;
  readonly tools: readonly Tool[];
  readonly limits: RunLimits;
  /**
   * Where `limits.maxCostUsd` came from: `set` in the definition (or `withLimits`), Keel's
   * `default`, or `tokens-only`. A set cost limit needs a priced model, also when a run swaps
   * the model.
   */
  readonly costLimit: CostLimitSource;
  readonly maxOutputTokens: number | undefined;
  /** Reviews each call first: allow / confirm / deny by where its arguments came from. */
  readonly guard: Guard | undefined;
  /** Decides, per call, allow / confirm (a human approves first) / deny, after the guard. */
  readonly gates: Gates | undefined;
  /** How each step's context is assembled; `undefined`: the whole conversation. */
  readonly context: ContextConfig | undefined;
  readonly onOutOfScope: OutOfScopePolicy;
  /** How untrusted content is handled, detected and monitored (defaults resolved). */
  readonly untrusted: UntrustedConfig;
  tool(name: string): Tool | undefined;
  withTool(tool: Tool): Agent;
  /** The same agent (gates, limits, instructions) with its tool set replaced. */
  withTools(tools: readonly Tool[]): Agent;
  withModel(model: ModelAdapterV1): Agent;
  withLimits(limits: Partial<RunLimits>): Agent;
  /** The same agent with its quarantined reader's model replaced (replay serves it). */
  withReaderModel(model: ModelAdapterV1): Agent;
  /** The same agent with its planner's model replaced (replay serves it). */
  withPlannerModel(model: ModelAdapterV1): Agent;
  /** The same agent with its context configuration replaced (replay serves one from a journal). */
  withContext(context: ContextConfig | undefined): Agent;
}

const AGENT_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** The fields of an `AgentDefinition`: any other is refused, as a misspelt option. */
const AGENT_FIELDS = allFieldsOf<AgentDefinition>()([
  'name',
  'version',
  'description',
  'model',
  'instructions',
  'tools',
  'limits',
  'maxOutputTokens',
  'gates',
  'guard',
  'context',
  'onOutOfScope',
  'untrusted',
]);

/**
 * Define an agent. Invalid definitions throw a `KeelError` (`invalid_definition`) naming the
 * field, at definition time.
 *
 * ```ts
 * const refunds = defineAgent({
 *   name: 'refunds',
 *   model: simulator({ script: [{ text: 'Refund issued.' }] }),
 *   instructions: 'You handle refund requests.',
 *   tools: [lookupOrder, issueRefund],
 *   limits: { maxIterations: 8, maxCostUsd: 0.05 },
 * });
 * ```
 */
export function defineAgent(definition: AgentDefinition): Agent {
  if (
    typeof definition !== 'object' ||
    (definition as unknown) === null ||
    Array.isArray(definition)
  )
    throw new KeelError('invalid_definition', 'defineAgent: the definition must be an object');
  const where = `defineAgent(${typeof definition.name === 'string' ? JSON.stringify(definition.name) : '?'})`;
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "${field}" ${problem}`);
  };
  if (typeof definition.name !== 'string' || !AGENT_NAME.test(definition.name)) {
    fail('name', 'must be lowercase letters, digits, _ or -, starting with a letter (at most 64)');
  }
  // A defined agent spread into a definition carries its resolved state (defaults taken as set,
  // its content version as given): refused as a whole rather than by its first extra field.
  // Its own property: a defined agent's methods are, a class's are on its prototype.
  if (
    Object.hasOwn(definition, 'withModel') &&
    typeof (definition as { withModel?: unknown }).withModel === 'function'
  )
    throw new KeelError(
      'invalid_definition',
      `${where}: this is a copy of a defined agent, not a definition; spread the definition it was made from instead (withTools, withModel and withLimits derive an agent under the same name)`,
    );
  refuseUnknownFields(definition, AGENT_FIELDS, fail);
  let resolved: ModelAdapterV1 | undefined;
  /** What resolving the model string warned of (a model with no price): told once it holds. */
  const warnings: string[] = [];
  if (typeof definition.model === 'string') {
    try {
      resolved = resolveModel(definition.model, undefined, {
        onWarning: (message) => warnings.push(message),
      });
    } catch (error) {
      fail('model', error instanceof Error ? error.message : String(error));
    }
  } else {
    resolved = definition.model;
  }
  const model = resolved as Partial<ModelAdapterV1> | undefined;
  if (
    typeof model !== 'object' ||
    model === null ||
    model.specificationVersion !== 'v1' ||
    typeof model.doGenerate !== 'function'
  ) {
    fail(
      'model',
      'must be a ModelAdapterV1 (for example simulator(...) or openaiChat(...)) or a model string',
    );
  }
  const agentModel = resolved as ModelAdapterV1;
  // An adapter written by hand skips its factory's check: a price no cost can be computed from
  // (negative, NaN, a misspelt field) would let a cost limit never fire.
  for (const [index, each] of [agentModel, ...(agentModel.fallbacks ?? [])].entries()) {
    const problem = modelPriceProblem(each.price);
    if (problem !== undefined)
      fail(
        index === 0 ? 'model' : `model.fallbacks.${String(index - 1)}`,
        `has a price no cost can be computed from: ${problem}`,
      );
  }
  if (typeof definition.instructions !== 'string' || definition.instructions.trim() === '') {
    fail('instructions', 'must be a non-empty string');
  }
  if (
    definition.version !== undefined &&
    (typeof definition.version !== 'string' || !AGENT_VERSION.test(definition.version))
  ) {
    fail(
      'version',
      'must be letters, digits, ".", "_", "-", "+" or ":" (at most 64), starting with a letter or digit',
    );
  }
  let tools: readonly Tool[] = definition.tools ?? [];
  if (!Array.isArray(definition.tools ?? []))
    fail('tools', 'must be an array of tools from defineTool');
  const seen = new Set<string>();
  tools.forEach((tool, index) => {
    if (
      typeof tool !== 'object' ||
      tool === null ||
      typeof tool.run !== 'function' ||
      typeof tool.spec !== 'object'
    ) {
      fail(`tools[${index}]`, 'must be a tool from defineTool');
    }
    if (seen.has(tool.name)) fail(`tools[${index}]`, `repeats the tool name "${tool.name}"`);
    seen.add(tool.name);
  });
  if (
    definition.maxOutputTokens !== undefined &&
    (!Number.isInteger(definition.maxOutputTokens) || definition.maxOutputTokens <= 0)
  ) {
    fail('maxOutputTokens', 'must be a positive integer');
  }
  const context =
    definition.context === undefined
      ? undefined
      : resolveContextOptions(where, definition.context, agentModel);
  if (context?.recallTool) {
    const taken = tools.findIndex((tool) => tool.name === RECALL_TOOL_NAME);
    if (taken >= 0) {
      fail(
        'context.recallTool',
        `adds a tool named "${RECALL_TOOL_NAME}", which tools[${taken}] already uses`,
      );
    }
    tools = [...tools, recallTool()];
  }
  if (context && budgetTokens(context, definition.maxOutputTokens) < context.windowTokens / 4) {
    fail('context.windowTokens', 'leaves less than a quarter of the window after maxOutputTokens');
  }
  const guard = definition.guard;
  if (guard !== undefined && (typeof guard !== 'object' || typeof guard.evaluate !== 'function'))
    fail('guard', 'must be a guard made by defineGuard(...)');
  const onOutOfScope = definition.onOutOfScope ?? 'refuse';
  if (!OUT_OF_SCOPE_POLICIES.includes(onOutOfScope)) {
    fail('onOutOfScope', `must be one of ${OUT_OF_SCOPE_POLICIES.join(', ')}`);
  }
  const gates =
    definition.gates === undefined && guard === undefined
      ? undefined
      : defineGates({ ...(guard ? { effects: [] } : {}), ...definition.gates }, `${where}.gates`);
  if (gates) checkGateTools(gates, tools, guard !== undefined, fail);
  const untrusted = resolveUntrusted(
    where,
    definition.untrusted,
    tools,
    agentModel,
    guard !== undefined,
  );
  for (const { field, model } of sideModels(untrusted)) {
    const problem = modelPriceProblem(model.price);
    if (problem !== undefined) fail(field, `has a price no cost can be computed from: ${problem}`);
  }
  const agent = build({
    name: definition.name,
    explicitVersion: definition.version,
    description: definition.description ?? '',
    model: agentModel,
    tier: agentModel.tier,
    instructions: definition.instructions,
    tools: Object.freeze([...tools]),
    limits: agentLimits(where, definition.limits, agentModel, definition.model, untrusted),
    costLimit: costLimitSource(definition.limits?.maxCostUsd, 'default'),
    maxOutputTokens: definition.maxOutputTokens,
    guard,
    gates,
    context,
    onOutOfScope,
    untrusted,
  });
  // "Cost limits cannot be enforced": not said of a definition refused for it, nor of one that
  // chose 'tokens-only'.
  if (agent.costLimit !== 'tokens-only') for (const message of warnings) warnOnce(message);
  return agent;
}

/**
 * Per-tool gate settings must be able to matter: a name the agent's tools have, and routing
 * (who decides, by when) only on a tool something can send to a human.
 */
function checkGateTools(
  gates: Gates,
  tools: readonly Tool[],
  guarded: boolean,
  fail: (field: string, problem: string) => never,
): void {
  const { options } = gates;
  const effects = options.effects ?? (guarded ? [] : ['irreversible', 'egress']);
  // A guard, a policy or a scope check can confirm any call: its routing then applies.
  const anyCanConfirm =
    guarded || (options.policies?.length ?? 0) > 0 || options.scope !== undefined;
  for (const [name, setting] of Object.entries(options.tools ?? {})) {
    const tool = tools.find((candidate) => candidate.name === name);
    if (!tool)
      fail(
        `gates.tools.${name}`,
        `names a tool the agent does not have (it has ${tools.map((candidate) => candidate.name).join(', ') || 'none'})`,
      );
    if (typeof setting !== 'object' || anyCanConfirm) continue;
    const routes =
      setting.approverGroup !== undefined ||
      setting.expiresAfterMs !== undefined ||
      setting.onExpiry !== undefined;
    const when = setting.when ?? 'effect';
    const stopped =
      when === 'confirm' ||
      setting.confidence !== undefined ||
      (when === 'effect' && effects.includes(tool?.effect ?? 'read'));
    if (routes && !stopped)
      fail(
        `gates.tools.${name}`,
        `sets who decides, but nothing sends ${name} (effect ${tool?.effect ?? '?'}) to a human: add when: 'confirm' or gate its effect in gates.effects`,
      );
  }
}

/**
 * The agent's resolved limits. A cost limit must be one that holds: every model the agent can
 * run on (its fallbacks too) needs a price, or the agent says it is limited by tokens alone.
 */
function agentLimits(
  where: string,
  limits: AgentLimits = {},
  model: ModelAdapterV1,
  written: AgentDefinition['model'],
  untrusted: UntrustedConfig,
): RunLimits {
  const { maxCostUsd, ...others } = limits;
  checkCostLimitShape(where, maxCostUsd, 'invalid_definition');
  if (maxCostUsd === 'tokens-only')
    return resolveLimits(where, { ...others, maxCostUsd: NO_COST_LIMIT });
  if (maxCostUsd !== undefined) {
    const problem = costLimitProblem(
      model,
      'agent',
      typeof written === 'string' ? written : undefined,
      sideModels(untrusted),
    );
    if (problem) throw new KeelError('invalid_definition', `${where}: ${problem}`);
  }
  return resolveLimits(where, limits as Partial<RunLimits>);
}

/**
 * Fails with `code` unless `maxCostUsd` is unset, a positive number of US dollars or
 * `'tokens-only'`: checked before the price, so a misspelt `'tokens-only'` is named as such.
 */
export function checkCostLimitShape(
  where: string,
  maxCostUsd: unknown,
  code: 'invalid_definition' | 'invalid_input',
): void {
  if (maxCostUsd === undefined || maxCostUsd === 'tokens-only') return;
  if (typeof maxCostUsd === 'number' && Number.isFinite(maxCostUsd) && maxCostUsd > 0) return;
  throw new KeelError(
    code,
    `${where}: "limits.maxCostUsd" must be a positive number of US dollars, or 'tokens-only' for no cost limit (got ${shown(maxCostUsd)})`,
  );
}

/** A value as a message shows it: a string quoted, a number as written, else its type. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : typeof value;
}

/**
 * Why a set `maxCostUsd` cannot hold on `model` (or one of its fallbacks) — a model with no
 * known price, with the ways to fix it — or `undefined` when every one is priced. Given the
 * model string `model` was resolved from, the model is named as written there.
 */
export function costLimitProblem(
  model: ModelAdapterV1,
  scope: 'agent' | 'run',
  spec?: string,
  others: readonly SideModel[] = [],
): string | undefined {
  const chain = [model, ...(model.fallbacks ?? [])];
  const index = chain.findIndex((each) => each.price === undefined);
  const unpriced = chain[index];
  if (!unpriced) {
    // The reader's and the planner's calls are the run's spending too.
    const side = others.find((each) => each.model.price === undefined);
    if (!side) return undefined;
    return `"limits.maxCostUsd" cannot hold: "${side.field}" ("${side.model.provider}:${side.model.modelId}") has no known price. Give it one (its adapter's "price" option, or for a model string an entry in keel.prices.json), or set maxCostUsd: 'tokens-only' to limit this ${scope} by tokens alone`;
  }
  const written = spec === undefined ? undefined : modelChain(spec)[index];
  const name = written ?? `${unpriced.provider}:${unpriced.modelId}`;
  const entry = `{ "match": ${JSON.stringify(priceFileMatch(unpriced.modelId))}, "inputPerMillion": <USD>, "outputPerMillion": <USD> }`;
  return `"limits.maxCostUsd" cannot hold: model "${name}" has no known price. Give it one (for a model string, add ${entry} to "models" in keel.prices.json; for an adapter, its "price" option), or set maxCostUsd: 'tokens-only' to limit this ${scope} by tokens alone`;
}

/** A model an agent calls besides its own: the quarantined reader's, the planner's. */
export interface SideModel {
  /** Where the definition sets it. */
  readonly field: string;
  readonly model: ModelAdapterV1;
}

/** The models an agent's untrusted handling calls besides its own (their calls are spending). */
export function sideModels(untrusted: UntrustedConfig): SideModel[] {
  return [
    ...(untrusted.reader.model
      ? [{ field: 'untrusted.reader.model', model: untrusted.reader.model }]
      : []),
    ...(untrusted.plan === false
      ? []
      : [{ field: 'untrusted.plan.model', model: untrusted.plan.model }]),
  ];
}

/** Where a cost limit comes from, given the `maxCostUsd` written (if any) and the one before. */
export function costLimitSource(
  maxCostUsd: number | 'tokens-only' | undefined,
  otherwise: CostLimitSource,
): CostLimitSource {
  if (maxCostUsd === undefined) return otherwise;
  return maxCostUsd === 'tokens-only' ? 'tokens-only' : 'set';
}

/** `maxCostUsd: 'tokens-only'`: a cost no run reaches. */
export const NO_COST_LIMIT = Number.MAX_VALUE;

type AgentProps = Omit<
  Agent,
  | 'tool'
  | 'withTool'
  | 'withTools'
  | 'withModel'
  | 'withLimits'
  | 'withReaderModel'
  | 'withPlannerModel'
  | 'withContext'
  | 'version'
  | 'versionGiven'
> & { readonly explicitVersion: string | undefined };

function build(props: AgentProps): Agent {
  const byName = new Map(props.tools.map((tool) => [tool.name, tool]));
  const { explicitVersion, ...content } = props;
  return Object.freeze({
    ...content,
    version: explicitVersion ?? contentVersion(content),
    versionGiven: explicitVersion !== undefined,
    tool: (name: string) => byName.get(name),
    withTool(tool: Tool): Agent {
      if (byName.has(tool.name)) {
        throw new KeelError(
          'invalid_definition',
          `agent "${props.name}": tool "${tool.name}" is already present`,
        );
      }
      return build({ ...props, tools: Object.freeze([...props.tools, tool]) });
    },
    withTools(tools: readonly Tool[]): Agent {
      const names = tools.map((tool) => tool.name);
      const repeated = [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
      if (repeated.length > 0) {
        throw new KeelError(
          'invalid_definition',
          `agent "${props.name}": two tools share a name: ${repeated.map((name) => `"${name}"`).join(', ')}`,
        );
      }
      return build({ ...props, tools: Object.freeze([...tools]) });
    },
    withModel: (model: ModelAdapterV1): Agent => build({ ...props, model, tier: model.tier }),
    withContext: (context: ContextConfig | undefined): Agent =>
      build({ ...props, context: context === undefined ? undefined : Object.freeze(context) }),
    withLimits: (limits: Partial<RunLimits>): Agent =>
      build({
        ...props,
        limits: resolveLimits(`agent "${props.name}"`, { ...props.limits, ...limits }),
        costLimit: costLimitSource(limits.maxCostUsd, props.costLimit),
      }),
    withReaderModel: (model: ModelAdapterV1): Agent =>
      build({
        ...props,
        untrusted: Object.freeze({
          ...props.untrusted,
          reader: Object.freeze({ ...props.untrusted.reader, model }),
        }),
      }),
    withPlannerModel: (model: ModelAdapterV1): Agent =>
      build({
        ...props,
        untrusted: Object.freeze({
          ...props.untrusted,
          plan:
            props.untrusted.plan === false
              ? false
              : Object.freeze({ ...props.untrusted.plan, model }),
        }),
      }),
  });
}
