import { allFieldsOf, KeelError, refuseUnknownFields } from '../core/index.js';
import { TOOL_EFFECTS, type ToolEffect } from '../tools/index.js';
import {
  ARGUMENT_ORIGINS,
  argumentLeaves,
  originOf,
  sameText,
  underPath,
  type ArgumentOrigin,
} from './argument-origins.js';
import type { ContextText, ReviewedCall } from './call-review.js';
import { destinationOrigin, linksIn } from './answer-guard.js';
import { looksLikeDestination } from './output-monitor.js';
import { privateValuesIn } from './private-data.js';
import { textStems, toolIntentWords, toolsUsedBeforeTaint } from './task-intent.js';

/** What the guard says of a call: allow it, ask a human, or refuse it. */
export type GuardVerdict = 'allow' | 'confirm' | 'deny';
const VERDICTS: readonly GuardVerdict[] = ['allow', 'confirm', 'deny'];

/** A condition on one argument. Every field given must hold. */
export interface ArgumentCondition {
  /** The value is one of these (strings compared case-insensitively). */
  readonly oneOf?: readonly (string | number)[];
  /** The value is none of these. */
  readonly notOneOf?: readonly (string | number)[];
  /** The value (as text) matches this regular expression. */
  readonly matches?: string;
  /** The value's origin is one of these. */
  readonly origin?: readonly ArgumentOrigin[];
  readonly min?: number;
  readonly max?: number;
}

/**
 * A declarative rule: when the tool is called and every condition holds, the rule fires with
 * its verdict. Of the rules that fire, the strongest wins (deny beats confirm beats allow);
 * when none fires, the defaults decide.
 *
 * ```ts
 * { name: 'small-known-payee', verdict: 'allow',
 *   where: { recipient: { oneOf: ['GB29NWBK60161331926819'] }, amount: { max: 100 } } }
 * ```
 */
export interface GuardRule {
  readonly name: string;
  readonly verdict: GuardVerdict;
  /** Conditions per argument path (`to`, `items[].iban`): each must hold for every value there. */
  readonly where?: Readonly<Record<string, ArgumentCondition>>;
  /** Fire only once untrusted content entered the run (true) or only before (false). */
  readonly tainted?: boolean;
}

/** Per-tool guard settings: the sink arguments, allow-listed values and rules. */
export interface ToolGuard {
  /**
   * The arguments that decide where the effect lands (recipient, account, URL, file id,
   * amount). The default policy checks their origin. Default: every argument.
   */
  readonly sinks?: readonly string[];
  /** Values that count as trusted for a sink argument although the run never saw them. */
  readonly allow?: Readonly<Record<string, readonly (string | number)[]>>;
  readonly rules?: readonly GuardRule[];
  /**
   * Words or phrases of a task that asks for this tool (`['pay', 'transfer']`). When given,
   * a call to the tool once untrusted content entered the run needs a human unless the
   * trusted task says one of them: the task's intent is fixed before any untrusted content
   * can speak. Matched case-insensitively as whole words.
   */
  readonly intent?: readonly string[];
}

/** The guard's settings: which effects it guards, per-tool sinks, allow-lists and rules, and what an ungrounded sink gets. */
export interface GuardOptions {
  /**
   * Effects whose calls need trusted-grounded sink arguments once untrusted content entered
   * the run (else a human confirms). Default `irreversible` and `egress`.
   */
  readonly effects?: readonly ToolEffect[];
  /** Per tool: sinks, allow-lists and rules. */
  readonly tools?: Readonly<Record<string, ToolGuard>>;
  /**
   * The default verdict for a guarded call whose sink is not trusted-grounded once untrusted
   * content entered the run: `confirm` (default: a human decides) or `deny`.
   */
  readonly ungrounded?: 'confirm' | 'deny';
  /**
   * Also check, on a guarded call, every string argument shaped like a recipient, URL or
   * account (an email address, a URL, an IBAN) although the tool's `sinks` leave it out.
   * Default true.
   */
  readonly destinations?: boolean;
  /**
   * Once untrusted content entered the run, also guard `write` calls that reach people: their
   * destination-shaped arguments (and the tool's `sinks`, when given) must be trusted-grounded,
   * as for the guarded effects. Default true.
   */
  readonly writes?: boolean;
  /**
   * What a call gets that carries a private value (from a `privateOutput` tool) towards a
   * destination neither the task nor the agent's instructions name, nor an allow-list holds,
   * once untrusted content entered the run: `confirm` (default) or `deny`. Applies to `write`,
   * `egress` and `irreversible` calls.
   */
  readonly privateData?: 'confirm' | 'deny';
  /**
   * Which destinations the `privateData` rule guards: `any` (default: a private value in any
   * consequential call after untrusted content entered the run gets the verdict — the attacker
   * may pick the content of a message to a channel the user did name) or `unnamed` (only
   * destinations neither the task nor an allow-list names).
   */
  readonly privateDestinations?: 'unnamed' | 'any';
  /**
   * A sink value grounded in trusted content that untrusted content also names, while the
   * task does not (the costliest plan the reviews push, another supplier from the trusted
   * catalogue): `confirm` (default) or `allow`. The attacker chose which trusted value.
   */
  readonly contested?: 'allow' | 'confirm';
  /**
   * A sink value grounded only in trusted tool output — neither the task, the agent's
   * instructions nor an allow-list names it — of a consequential call (a guarded effect, or a
   * write that reaches people) once untrusted content entered the run: `confirm` (default) or
   * `allow`. The trusted task did not fix that choice, so content read since may have made it
   * (the costliest item of a trusted catalogue, an order nobody asked for), even without
   * naming the value.
   */
  readonly unfixed?: 'allow' | 'confirm';
  /** What a call outside the task's intent (see `ToolGuard.intent`) gets: `confirm` (default) or `deny`. */
  readonly outsideIntent?: 'confirm' | 'deny';
  /**
   * Which words tell that the trusted task asks for a consequential tool, in a run without a
   * plan: `derived` (default) — the tool's `intent` words when declared, else the words of its
   * name and the first word (the verb) of its description, stemmed (`send_email`: send, email);
   * `declared` — only tools with `intent` words are checked. Either way a tool the run called
   * before untrusted content entered it counts as asked for. With a plan
   * (`untrusted: { plan: true }`), the plan and the declared words decide.
   */
  readonly intentWords?: 'derived' | 'declared';
}

/** The guard's answer for one call, with the rule that fired and each argument's origin. */
export interface GuardDecision {
  readonly verdict: GuardVerdict;
  readonly rule: string;
  readonly message: string;
  readonly origins: Readonly<Record<string, ArgumentOrigin>>;
}

/**
 * The action policy an agent's calls are reviewed by (`defineAgent({ guard })`), before the
 * approval gates see them. With a guard, the gates leave effect-based confirmation to it: it
 * asks a human only when a sink argument is not grounded in trusted content.
 */
export interface Guard {
  readonly options: GuardOptions;
  /** Decide one call. Pure: depends only on the call and the options. */
  evaluate(call: ReviewedCall): GuardDecision;
}

/** The fields of `GuardOptions`: any other is refused, as a misspelt option. */
const GUARD_FIELDS = allFieldsOf<GuardOptions>()([
  'effects',
  'tools',
  'ungrounded',
  'destinations',
  'writes',
  'privateData',
  'privateDestinations',
  'contested',
  'unfixed',
  'outsideIntent',
  'intentWords',
]);

/**
 * Define the action policy evaluated before every tool call. Invalid options throw
 * `invalid_definition` naming the field.
 *
 * ```ts
 * const guard = defineGuard({
 *   tools: { send_money: { sinks: ['recipient', 'amount'], allow: { recipient: [landlord] } } },
 * });
 * defineAgent({ ..., guard });
 * ```
 */
export function defineGuard(options: GuardOptions = {}, where = 'guard'): Guard {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "${field}" ${problem}`);
  };
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options))
    throw new KeelError('invalid_definition', `${where}: the guard options must be an object`);
  refuseUnknownFields(options, GUARD_FIELDS, fail);
  const effects: readonly ToolEffect[] = options.effects ?? ['irreversible', 'egress'];
  if (!isList(effects) || effects.some((effect: ToolEffect) => !TOOL_EFFECTS.includes(effect)))
    fail('effects', `must be a list of ${TOOL_EFFECTS.join(', ')}`);
  const ungrounded = options.ungrounded ?? 'confirm';
  if (ungrounded !== 'confirm' && ungrounded !== 'deny')
    fail('ungrounded', "must be 'confirm' or 'deny'");
  const destinations = options.destinations ?? true;
  if (typeof destinations !== 'boolean') fail('destinations', 'must be true or false');
  const writes = options.writes ?? true;
  if (typeof writes !== 'boolean') fail('writes', 'must be true or false');
  const privateData = options.privateData ?? 'confirm';
  if (privateData !== 'confirm' && privateData !== 'deny')
    fail('privateData', "must be 'confirm' or 'deny'");
  const privateDestinations = options.privateDestinations ?? 'any';
  if (privateDestinations !== 'unnamed' && privateDestinations !== 'any')
    fail('privateDestinations', "must be 'unnamed' or 'any'");
  const contested = options.contested ?? 'confirm';
  if (contested !== 'allow' && contested !== 'confirm')
    fail('contested', "must be 'allow' or 'confirm'");
  const unfixed = options.unfixed ?? 'confirm';
  if (unfixed !== 'allow' && unfixed !== 'confirm') fail('unfixed', "must be 'allow' or 'confirm'");
  const outsideIntent = options.outsideIntent ?? 'confirm';
  if (outsideIntent !== 'confirm' && outsideIntent !== 'deny')
    fail('outsideIntent', "must be 'confirm' or 'deny'");
  const intentWords = options.intentWords ?? 'derived';
  if (intentWords !== 'derived' && intentWords !== 'declared')
    fail('intentWords', "must be 'derived' or 'declared'");
  const derivedWords = new Map<string, readonly string[]>();
  const derived = (call: ReviewedCall): readonly string[] | undefined => {
    if (intentWords !== 'derived') return undefined;
    const key = `${call.toolName}\u0000${call.toolDescription ?? ''}`;
    let words = derivedWords.get(key);
    if (words === undefined) {
      words = toolIntentWords(call.toolName, call.toolDescription);
      if (derivedWords.size < 1024) derivedWords.set(key, words);
    }
    return words;
  };
  const compiled = new Map<string, CompiledTool>();
  for (const [tool, setting] of Object.entries(options.tools ?? {}))
    compiled.set(tool, compileTool(setting, `tools.${tool}`, fail));

  const evaluate = (call: ReviewedCall): GuardDecision => {
    const tool = compiled.get(call.toolName);
    const context = call.context ?? [];
    const origins: Record<string, ArgumentOrigin> = {};
    const leaves = argumentLeaves(call.input);
    for (const leaf of leaves) {
      const allowList = tool?.allow.find(([sink]) => underPath(leaf.path, sink))?.[1];
      origins[leaf.path] = originOf(leaf.value, context, allowList);
    }

    let fired: GuardRule | undefined;
    for (const rule of tool?.rules ?? []) {
      if (rule.tainted !== undefined && rule.tainted !== call.tainted) continue;
      if (!ruleHolds(rule, leaves, origins, tool?.patterns.get(rule) ?? new Map())) continue;
      if (!fired || rank(rule.verdict) > rank(fired.verdict)) fired = rule;
    }
    if (fired)
      return {
        verdict: fired.verdict,
        rule: `${call.toolName}.${fired.name}`,
        message: `rule ${fired.name} says ${fired.verdict}`,
        origins,
      };

    const guarded = effects.includes(call.effect);
    const reachesPeople = !guarded && writes && call.effect === 'write';
    // Writes are looked at for private data even when they are not guarded for destinations.
    if (!guarded && call.effect !== 'write')
      return {
        verdict: 'allow',
        rule: `effect:${call.effect}`,
        message: 'effect allowed',
        origins,
      };
    if (!call.tainted)
      return { verdict: 'allow', rule: 'untainted', message: 'no untrusted content yet', origins };
    const leaked = privateFlow(call, leaves, tool, privateData, privateDestinations === 'any');
    if (leaked) return { ...leaked, origins };
    if (!guarded && !reachesPeople)
      return {
        verdict: 'allow',
        rule: `effect:${call.effect}`,
        message: 'effect allowed',
        origins,
      };
    const outside = outsideTaskIntent(call, tool, context, derived);
    const outsideDecision = (why: string): GuardDecision => ({
      verdict: outsideIntent,
      rule: 'outside_intent',
      message: `the task does not ask for ${call.toolName}${why}, and untrusted content entered the run`,
      origins,
    });
    // A plan or declared words decide first; derived words only hold a call nothing else holds.
    if (outside !== undefined && !outside.derived) return outsideDecision(outside.why);
    const sinks = tool?.sinks;
    const weak = leaves.filter(
      (leaf) =>
        ((guarded && sinks === undefined) ||
          sinks?.some((sink) => underPath(leaf.path, sink)) === true ||
          (destinations && typeof leaf.value === 'string' && looksLikeDestination(leaf.value))) &&
        origins[leaf.path] !== 'trusted' &&
        origins[leaf.path] !== 'allow_listed',
    );
    // A link inside a text that leaves the user (a message body, a post) is a destination too.
    const links: string[] = [];
    for (const leaf of leaves) {
      if (typeof leaf.value !== 'string' || weak.includes(leaf)) continue;
      const allowList = tool?.allow.find(([sink]) => underPath(leaf.path, sink))?.[1];
      const hosts = allowList?.filter((entry): entry is string => typeof entry === 'string');
      for (const link of linksIn(leaf.value)) {
        const origin = destinationOrigin(link.host, context, hosts);
        if (origin === 'untrusted' || origin === 'ungrounded')
          links.push(`${leaf.path} links to ${link.host} (${origin})`);
      }
    }
    const split = splitContext(context);
    if (weak.length === 0 && links.length === 0 && contested === 'confirm') {
      const chosen = leaves.filter(
        (leaf) =>
          leaf.value !== null &&
          typeof leaf.value !== 'boolean' &&
          (sinks === undefined
            ? typeof leaf.value === 'string' && looksLikeDestination(leaf.value)
            : sinks.some((sink) => underPath(leaf.path, sink))) &&
          origins[leaf.path] === 'trusted' &&
          originOf(leaf.value, split.named) !== 'trusted' &&
          originOf(leaf.value, split.untrusted) === 'untrusted',
      );
      if (chosen.length > 0)
        return {
          verdict: 'confirm',
          rule: 'contested_choice',
          message: `untrusted content names ${chosen.map((leaf) => leaf.path).join(', ')}, which the task does not`,
          origins,
        };
    }
    if (weak.length === 0 && links.length === 0 && unfixed === 'confirm') {
      const chosen = leaves.filter((leaf) => {
        if (leaf.value === null || typeof leaf.value === 'boolean') return false;
        const sink =
          sinks === undefined
            ? typeof leaf.value === 'string' && looksLikeDestination(leaf.value)
            : sinks.some((path) => underPath(leaf.path, path));
        if (!sink || origins[leaf.path] !== 'trusted') return false;
        const allowList = tool?.allow.find(([path]) => underPath(leaf.path, path))?.[1];
        const named = originOf(leaf.value, split.named, allowList);
        return named !== 'trusted' && named !== 'allow_listed';
      });
      if (chosen.length > 0)
        return {
          verdict: 'confirm',
          rule: 'unfixed_choice',
          message: `the task does not name ${chosen.map((leaf) => leaf.path).join(', ')}: a choice made after untrusted content entered the run`,
          origins,
        };
    }
    if (weak.length === 0 && links.length === 0) {
      if (outside !== undefined) return outsideDecision(outside.why);
      return {
        verdict: 'allow',
        rule: 'sinks_grounded',
        message: 'every sink argument is grounded in trusted content',
        origins,
      };
    }
    const described = [
      ...weak.map((leaf) => `${leaf.path} (${origins[leaf.path] ?? 'ungrounded'})`),
      ...links,
    ].join(', ');
    return {
      verdict: ungrounded,
      rule: weak.length > 0 ? 'sink_not_grounded' : 'link_not_grounded',
      message: `${call.effect} call after untrusted content; not trusted-grounded: ${described}`,
      origins,
    };
  };

  return Object.freeze({ options, evaluate });
}

/**
 * A consequential call carrying a private value towards a destination the task and the agent's
 * instructions do not name and no allow-list holds: the `privateData` verdict. A call without a
 * destination-shaped argument or declared sink keeps the value in place: not a flow.
 */
function privateFlow(
  call: ReviewedCall,
  leaves: readonly { path: string; value: string | number | boolean | null }[],
  tool: CompiledTool | undefined,
  verdict: 'confirm' | 'deny',
  anyDestination: boolean,
): Omit<GuardDecision, 'origins'> | undefined {
  const values = call.privateValues ?? [];
  if (values.length === 0) return undefined;
  const carrying = leaves.filter(
    (leaf) =>
      (typeof leaf.value === 'string' || typeof leaf.value === 'number') &&
      privateValuesIn(String(leaf.value), values).length > 0,
  );
  if (carrying.length === 0) return undefined;
  if (anyDestination)
    return {
      verdict,
      rule: 'private_data',
      message: `private value in ${carrying.map((leaf) => leaf.path).join(', ')} after untrusted content`,
    };
  const named = (call.context ?? []).filter(
    (piece) =>
      piece.provenance.trust === 'trusted' &&
      (piece.provenance.source === 'task' || piece.provenance.source === 'agent'),
  );
  const unnamed = leaves.filter((leaf) => {
    if (typeof leaf.value !== 'string' && typeof leaf.value !== 'number') return false;
    const sink = tool?.sinks?.some((path) => underPath(leaf.path, path)) === true;
    const shaped = typeof leaf.value === 'string' && looksLikeDestination(leaf.value);
    if (!sink && !shaped) return false;
    if (carrying.includes(leaf) && !shaped) return false;
    const allowList = tool?.allow.find(([path]) => underPath(leaf.path, path))?.[1];
    const origin = originOf(leaf.value, named, allowList);
    return origin !== 'trusted' && origin !== 'allow_listed';
  });
  if (unnamed.length === 0) return undefined;
  return {
    verdict,
    rule: 'private_data',
    message: `private value in ${carrying.map((leaf) => leaf.path).join(', ')} bound for ${unnamed
      .map((leaf) => leaf.path)
      .join(', ')}, which neither the task nor an allow-list names`,
  };
}

/** The context's trusted task and instructions, and its untrusted pieces, once per context. */
interface SplitContext {
  readonly named: ContextText[];
  readonly untrusted: ContextText[];
  readonly task: string;
  /** The stems of the task's words (`derived` intent words are looked up here). */
  readonly taskStems: ReadonlySet<string>;
  /** The tools the run called before untrusted content entered it. */
  readonly usedBeforeTaint: ReadonlySet<string>;
}
const splits = new WeakMap<readonly ContextText[], SplitContext>();
function splitContext(context: readonly ContextText[]): SplitContext {
  let split = splits.get(context);
  if (!split) {
    const named = context.filter(
      (piece) =>
        piece.provenance.trust === 'trusted' &&
        (piece.provenance.source === 'task' || piece.provenance.source === 'agent'),
    );
    const task = context
      .filter((piece) => piece.provenance.trust === 'trusted' && piece.provenance.source === 'task')
      .map((piece) => piece.text)
      .join('\n');
    split = {
      named,
      untrusted: context.filter((piece) => piece.provenance.trust === 'untrusted'),
      task,
      taskStems: textStems(task),
      usedBeforeTaint: toolsUsedBeforeTaint(context),
    };
    splits.set(context, split);
  }
  return split;
}

/**
 * Whether the task's intent leaves this tool out, and then which words it looked for. Inside:
 * the run called the tool before untrusted content entered it, the run's plan (the
 * consequential tools a trusted planning step read from the task) holds it, or the task says
 * one of its declared intent words — or, in a run without a plan, one of its derived words
 * (name and verb). No plan and no words to look for: no intent to be outside of.
 */
function outsideTaskIntent(
  call: ReviewedCall,
  tool: CompiledTool | undefined,
  context: readonly ContextText[],
  derived: (call: ReviewedCall) => readonly string[] | undefined,
): { readonly why: string; readonly derived: boolean } | undefined {
  const split = splitContext(context);
  if (split.usedBeforeTaint.has(call.toolName)) return undefined;
  const plan = call.plannedTools;
  if (plan?.includes(call.toolName) === true) return undefined;
  if (tool?.intent) {
    if (tool.intent.test(split.task)) return undefined;
    const why =
      plan === undefined ? ' (the task says none of its intent words)' : ' (not in the plan)';
    return { why, derived: false };
  }
  if (plan !== undefined) return { why: ' (not in the plan)', derived: false };
  const words = derived(call);
  if (words === undefined || words.length === 0) return undefined;
  if (words.some((word) => split.taskStems.has(word))) return undefined;
  return { why: ` (the task says none of ${words.join(', ')})`, derived: true };
}

interface CompiledTool {
  readonly intent: RegExp | undefined;
  readonly sinks: readonly string[] | undefined;
  readonly allow: readonly (readonly [string, readonly (string | number)[]])[];
  readonly rules: readonly GuardRule[];
  readonly patterns: Map<GuardRule, Map<string, RegExp>>;
}

function compileTool(
  setting: ToolGuard,
  field: string,
  fail: (field: string, problem: string) => never,
): CompiledTool {
  if (typeof setting !== 'object' || (setting as unknown) === null)
    fail(field, 'must be an object');
  const sinks = setting.sinks;
  if (sinks !== undefined && (!Array.isArray(sinks) || sinks.some((s) => typeof s !== 'string')))
    fail(`${field}.sinks`, 'must be a list of argument paths');
  const allow = Object.entries(setting.allow ?? {});
  for (const [argument, values] of allow)
    if (!isList(values) || values.some((v) => !['string', 'number'].includes(typeof v)))
      fail(`${field}.allow.${argument}`, 'must be a list of strings or numbers');
  const rules: readonly GuardRule[] = setting.rules ?? [];
  if (!isList(rules)) fail(`${field}.rules`, 'must be a list');
  const patterns = new Map<GuardRule, Map<string, RegExp>>();
  rules.forEach((rule, index) => {
    const at = `${field}.rules[${index}]`;
    if (typeof rule.name !== 'string' || rule.name === '') fail(`${at}.name`, 'must be a name');
    if (!VERDICTS.includes(rule.verdict))
      fail(`${at}.verdict`, "must be 'allow', 'confirm' or 'deny'");
    if (rule.tainted !== undefined && typeof rule.tainted !== 'boolean')
      fail(`${at}.tainted`, 'must be true or false');
    const compiled = new Map<string, RegExp>();
    for (const [argument, given] of Object.entries(rule.where ?? {})) {
      const c = `${at}.where.${argument}`;
      if (typeof given !== 'object' || (given as unknown) === null)
        fail(c, 'must be a condition object');
      const condition = given;
      if (condition.origin?.some((origin) => !ARGUMENT_ORIGINS.includes(origin)))
        fail(`${c}.origin`, `must be a list of ${ARGUMENT_ORIGINS.join(', ')}`);
      for (const bound of ['min', 'max'] as const)
        if (condition[bound] !== undefined && !Number.isFinite(condition[bound]))
          fail(`${c}.${bound}`, 'must be a number');
      if (condition.matches !== undefined) {
        try {
          compiled.set(argument, new RegExp(condition.matches, 'u'));
        } catch {
          fail(`${c}.matches`, 'must be a valid regular expression');
        }
      }
    }
    patterns.set(rule, compiled);
  });
  const intent = setting.intent;
  if (
    intent !== undefined &&
    (!isList(intent) ||
      intent.length === 0 ||
      intent.some((w) => typeof w !== 'string' || w.trim() === ''))
  )
    fail(`${field}.intent`, 'must be a non-empty list of words or phrases');
  const words = intent?.map((word) => word.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return {
    intent:
      words && new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.join('|')})(?![\\p{L}\\p{N}])`, 'iu'),
    sinks,
    allow,
    rules,
    patterns,
  };
}

function ruleHolds(
  rule: GuardRule,
  leaves: readonly { path: string; value: string | number | boolean | null }[],
  origins: Readonly<Record<string, ArgumentOrigin>>,
  patterns: ReadonlyMap<string, RegExp>,
): boolean {
  for (const [argument, condition] of Object.entries(rule.where ?? {})) {
    const values = leaves.filter((leaf) => underPath(leaf.path, argument));
    // A condition on an argument the call does not have never holds.
    if (values.length === 0) return false;
    const pattern = patterns.get(argument);
    const every = values.every((leaf) => {
      const value = leaf.value;
      if (condition.oneOf && !condition.oneOf.some((item) => same(item, value))) return false;
      if (condition.notOneOf?.some((item) => same(item, value))) return false;
      if (pattern && !pattern.test(String(value))) return false;
      if (condition.origin && !condition.origin.includes(origins[leaf.path] ?? 'ungrounded'))
        return false;
      if (condition.min !== undefined && !(typeof value === 'number' && value >= condition.min))
        return false;
      if (condition.max !== undefined && !(typeof value === 'number' && value <= condition.max))
        return false;
      return true;
    });
    if (!every) return false;
  }
  return true;
}

function same(item: string | number, value: unknown): boolean {
  return typeof item === 'string' && typeof value === 'string'
    ? sameText(item, value)
    : item === value;
}

/** `Array.isArray` without narrowing a declared list to `any[]`. */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function rank(verdict: GuardVerdict): number {
  return VERDICTS.indexOf(verdict);
}
