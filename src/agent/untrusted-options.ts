import { z, type ZodType } from 'zod';
import { allFieldsOf, KeelError, refuseUnknownFields } from '../core/index.js';
import {
  ANSWER_HANDLINGS,
  MONITOR_ACTIONS,
  MONITOR_FLAG_KINDS,
  type AnswerHandling,
  type MonitorAction,
  type MonitorFlagKind,
} from '../guard/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import type { Tool } from '../tools/index.js';

/**
 * How untrusted tool output reaches the tool-using model:
 * - `verbatim` (default): as the tool returned it;
 * - `spotlight`: wrapped in boundary markers unique to the run, with a system line saying
 *   marked content is data, not instructions (markers inside the content are neutralised);
 * - `quarantine`: never verbatim. The model sees a reference, or, for tools given a schema in
 *   `reader.schemas`, the quarantined reader's typed extraction with every free-text field
 *   replaced by a reference. Views hold no free text of the content, so they are not
 *   spotlighted.
 */
export const UNTRUSTED_HANDLINGS = ['verbatim', 'spotlight', 'quarantine'] as const;
/** How untrusted tool output reaches the model: verbatim, spotlighted, or quarantined behind a reader. */
export type UntrustedHandling = (typeof UNTRUSTED_HANDLINGS)[number];

/** An injection detector: a risk score from 0 to 1 and the names of what matched. */
export type UntrustedDetector = (text: string) => {
  readonly score: number;
  readonly matches: readonly string[];
};

/** The quarantined reader a `quarantine` agent extracts untrusted tool output with. */
export interface QuarantineReaderOptions {
  /**
   * The model that reads (given no tools). Default: the `fast` tier of the set the agent's
   * model comes from (`defineModelTiers`); an agent whose model is not from tiers must name
   * one. Never the tool-using model by default.
   */
  readonly model?: ModelAdapterV1;
  /**
   * Per tool name: the zod schema to extract from that tool's output. A tool without one gets
   * the generic extraction (`GENERIC_READER_SCHEMA`: `{ summary, facts[], links[], entities[] }`,
   * every field free text, so the model sees references only).
   */
  readonly schemas?: Readonly<Record<string, ZodType>>;
  /** Trusted instructions for the reader. Default: extract the fields of the schema. */
  readonly instructions?: string;
  /** Further attempts after an invalid answer. Default 2. */
  readonly retries?: number;
}

/** What the answer guard does with a finding: neutralise it, flag it, or neutralise and hold the answer for a person. */
export type AnswerOption = AnswerHandling | 'confirm';
const ANSWER_OPTIONS: readonly AnswerOption[] = [...ANSWER_HANDLINGS, 'confirm'];

/** How an agent handles untrusted content: the handling mode, the detector and its threshold, the output monitor. */
export interface UntrustedOptions {
  /** Default `verbatim`. */
  readonly handling?: UntrustedHandling;
  /**
   * Run on every untrusted tool result; a signal is journaled (`injection_signal`). Default:
   * the built-in heuristic detector. `false` turns detection off.
   */
  readonly detector?: UntrustedDetector | false;
  /**
   * From this score on (0 < t ≤ 1, default 0.5) every later `irreversible` or `egress` call of
   * the run needs a human's confirmation. Signals only tighten: they never allow a call.
   */
  readonly signalThreshold?: number;
  /**
   * The output monitor: flags calls that do not fit the task (`action_flagged`, and an alert)
   * and acts on them. Per kind of flag, `flag` (record only), `confirm` (a human decides before
   * the call runs) or `deny`. Default (`true`): `confirm` for a destination seen only in
   * untrusted content, `flag` for the rest. One action applies it to every kind; `false` turns
   * the monitor off.
   */
  readonly monitor?:
    boolean | MonitorAction | Readonly<Partial<Record<MonitorFlagKind, MonitorAction>>>;
  /**
   * The answer guard, on once untrusted content entered the run: links, images and URLs of the
   * final answer whose destination is grounded only in untrusted content are `neutralise`d
   * (default: rendered inert with a visible note) or only `flag`ged; either way they are
   * journaled (`answer_guarded`) and private values are removed from every URL of the answer.
   * `confirm` neutralises too, and an answer in which the guard neutralised a link or took
   * out a private value waits for a person's approval (`answer_held`, an approval of `final_answer` with the answer as its arguments)
   * before it is returned; denied, the run ends `escalated` without an output. `false` turns it
   * off (the answer is delivered as the model wrote it).
   */
  readonly answer?: AnswerOption | false;
  /**
   * Destinations (hosts such as `docs.acme.example`; `acme.example` covers its subdomains) the
   * answer guard treats as trusted although the run never saw them in trusted content.
   */
  readonly allowDestinations?: readonly string[];
  /** The quarantined reader (handling `quarantine` only). */
  readonly reader?: QuarantineReaderOptions;
  /**
   * The trusted planning step: before any untrusted content enters a run, a structured model
   * call reads from the task which consequential tools (`write`, `egress`, `irreversible`) it
   * asks for (journaled as `intent_planned`, served back on replay). Once the run is tainted,
   * a consequential call outside that plan needs a human (the guard's rule `outside_intent`;
   * a tool's `intent` words in the task still count). Needs a guard. `true`: the planner is
   * the `fast` tier of the agent's model set, else the agent's own model (the call has no tools
   * and sees only trusted text). Default `false`.
   */
  readonly plan?: boolean | TaskPlannerOptions;
}

/** The trusted planning step's model and attempts. */
export interface TaskPlannerOptions {
  /** Default: the `fast` tier of the agent's model set, else the agent's own model. */
  readonly model?: ModelAdapterV1;
  /** Further attempts after an invalid answer. Default 2. */
  readonly retries?: number;
}

/**
 * The extraction a quarantined reader makes of a tool's output when the agent gives no schema
 * for it: every field is free text, so the tool-using model sees only references to it (and
 * how many facts, links and entities there are); the answer resolves them.
 */
export const GENERIC_READER_SCHEMA = z.object({
  summary: z.string().describe('What the content says, in one or two sentences'),
  facts: z
    .array(z.string())
    .describe('Each fact it states that a question could be about: numbers, dates, names, ids'),
  links: z.array(z.string()).describe('Every URL or address it contains'),
  entities: z.array(z.string()).describe('People, companies, products and places it names'),
});

/** The agent's resolved untrusted-content settings. */
export interface UntrustedConfig {
  readonly handling: UntrustedHandling;
  /** `default`: the engine's built-in heuristic; `null`: detection off. */
  readonly detector: UntrustedDetector | 'default' | null;
  readonly signalThreshold: number;
  /** What the monitor does per kind of flag, or `false` when it is off. */
  readonly monitor: Readonly<Record<MonitorFlagKind, MonitorAction>> | false;
  readonly answer: AnswerOption | false;
  readonly allowDestinations: readonly string[];
  readonly reader: {
    /** Set for a `quarantine` agent. */
    readonly model: ModelAdapterV1 | undefined;
    readonly schemas: Readonly<Record<string, ZodType>>;
    readonly instructions: string | undefined;
    readonly retries: number;
  };
  /** The trusted planning step, or `false`. */
  readonly plan: { readonly model: ModelAdapterV1; readonly retries: number } | false;
}

/** The injection-signal score from which consequential calls need a human. */
export const DEFAULT_SIGNAL_THRESHOLD = 0.5;

/** The fields of `UntrustedOptions`: any other is refused, as a misspelt option. */
const UNTRUSTED_FIELDS = allFieldsOf<UntrustedOptions>()([
  'handling',
  'detector',
  'signalThreshold',
  'monitor',
  'answer',
  'allowDestinations',
  'reader',
  'plan',
]);

/** Validate `untrusted` options at definition time; errors name the field. */
export function resolveUntrusted(
  where: string,
  options: UntrustedOptions | undefined,
  tools: readonly Tool[],
  agentModel: ModelAdapterV1,
  guarded: boolean,
): UntrustedConfig {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "untrusted${field}" ${problem}`);
  };
  if (options !== undefined && (typeof options !== 'object' || (options as unknown) === null))
    fail('', 'must be an object');
  const given = options ?? {};
  refuseUnknownFields(given, UNTRUSTED_FIELDS, fail, '.');
  const handling = given.handling ?? 'verbatim';
  if (!UNTRUSTED_HANDLINGS.includes(handling))
    fail('.handling', `must be one of ${UNTRUSTED_HANDLINGS.join(', ')}`);
  const detector = given.detector;
  if (detector !== undefined && detector !== false && typeof detector !== 'function')
    fail('.detector', 'must be a function (text) => { score, matches } or false');
  const signalThreshold = given.signalThreshold ?? DEFAULT_SIGNAL_THRESHOLD;
  if (typeof signalThreshold !== 'number' || !(signalThreshold > 0 && signalThreshold <= 1))
    fail('.signalThreshold', 'must be a number above 0 and at most 1');
  const monitor = resolveMonitor(given.monitor, fail);
  const answer = given.answer ?? 'neutralise';
  if (answer !== false && !ANSWER_OPTIONS.includes(answer))
    fail('.answer', `must be one of ${ANSWER_OPTIONS.join(', ')} or false`);
  const allowDestinations: readonly string[] = given.allowDestinations ?? [];
  if (
    !isList(allowDestinations) ||
    allowDestinations.some(
      (host: unknown) => typeof host !== 'string' || !/^[^\s/:@]+\.[^\s/:@]+$/.test(host),
    )
  )
    fail('.allowDestinations', 'must be a list of host names (docs.acme.example)');
  const reader = given.reader ?? {};
  if (given.reader !== undefined) {
    if (handling !== 'quarantine') fail('.reader', "is used only with handling 'quarantine'");
    if (typeof reader !== 'object' || (reader as unknown) === null)
      fail('.reader', 'must be an object');
  }
  const model = reader.model as Partial<ModelAdapterV1> | undefined;
  if (
    model !== undefined &&
    (typeof model !== 'object' ||
      model.specificationVersion !== 'v1' ||
      typeof model.doGenerate !== 'function')
  )
    fail('.reader.model', 'must be a ModelAdapterV1');
  const schemas = reader.schemas ?? {};
  const names = new Set(tools.map((tool) => tool.name));
  for (const [name, schema] of Object.entries(schemas)) {
    if (!names.has(name)) fail(`.reader.schemas.${name}`, 'names no tool of this agent');
    if (typeof (schema as Partial<ZodType> | undefined)?.safeParse !== 'function')
      fail(`.reader.schemas.${name}`, 'must be a zod schema');
  }
  const instructions = reader.instructions;
  if (
    instructions !== undefined &&
    (typeof instructions !== 'string' || instructions.trim() === '')
  )
    fail('.reader.instructions', 'must be a non-empty string');
  const retries = reader.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10)
    fail('.reader.retries', 'must be an integer from 0 to 10');
  const fast = agentModel.sibling?.('fast');
  const readerModel = handling === 'quarantine' ? (reader.model ?? fast) : reader.model;
  if (handling === 'quarantine' && readerModel === undefined)
    fail(
      '.reader.model',
      "is required with handling 'quarantine' unless the agent's model comes from model tiers with a 'fast' tier: the reader is never the tool-using model",
    );
  const plan = resolvePlan(given.plan, agentModel, guarded, fail);
  return Object.freeze({
    handling,
    detector: detector === false ? null : (detector ?? 'default'),
    signalThreshold,
    monitor,
    answer,
    allowDestinations: Object.freeze(allowDestinations.map((host) => host.toLowerCase())),
    reader: Object.freeze({ model: readerModel, schemas, instructions, retries }),
    plan,
  });
}

function resolvePlan(
  given: UntrustedOptions['plan'],
  agentModel: ModelAdapterV1,
  guarded: boolean,
  fail: (field: string, problem: string) => never,
): UntrustedConfig['plan'] {
  if (given === undefined || given === false) return false;
  if (given !== true && (typeof given !== 'object' || (given as unknown) === null))
    fail('.plan', 'must be true, false or { model, retries }');
  if (!guarded) fail('.plan', 'needs a guard (defineAgent({ guard })): the guard acts on the plan');
  const options: TaskPlannerOptions = given === true ? {} : given;
  const model = options.model as Partial<ModelAdapterV1> | undefined;
  if (
    model !== undefined &&
    (typeof model !== 'object' ||
      model.specificationVersion !== 'v1' ||
      typeof model.doGenerate !== 'function')
  )
    fail('.plan.model', 'must be a ModelAdapterV1');
  const retries = options.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10)
    fail('.plan.retries', 'must be an integer from 0 to 10');
  return Object.freeze({
    model: options.model ?? agentModel.sibling?.('fast') ?? agentModel,
    retries,
  });
}

/** The monitor's default: ask a human about a destination seen only in untrusted content. */
const DEFAULT_MONITOR: Readonly<Record<MonitorFlagKind, MonitorAction>> = Object.freeze({
  out_of_scope: 'flag',
  untrusted_destination: 'confirm',
  permission_change: 'flag',
  exfiltration_shape: 'flag',
});

function resolveMonitor(
  given: UntrustedOptions['monitor'],
  fail: (field: string, problem: string) => never,
): Readonly<Record<MonitorFlagKind, MonitorAction>> | false {
  if (given === undefined || given === true) return DEFAULT_MONITOR;
  if (given === false) return false;
  if (typeof given === 'string') {
    if (!MONITOR_ACTIONS.includes(given))
      fail('.monitor', `must be true, false, one of ${MONITOR_ACTIONS.join(', ')} or a record`);
    return Object.freeze(
      Object.fromEntries(MONITOR_FLAG_KINDS.map((kind) => [kind, given])) as Record<
        MonitorFlagKind,
        MonitorAction
      >,
    );
  }
  if (typeof given !== 'object' || (given as unknown) === null || Array.isArray(given))
    fail('.monitor', `must be true, false, one of ${MONITOR_ACTIONS.join(', ')} or a record`);
  for (const [kind, action] of Object.entries(given)) {
    if (!(MONITOR_FLAG_KINDS as readonly string[]).includes(kind))
      fail(`.monitor.${kind}`, `is not a kind of flag (${MONITOR_FLAG_KINDS.join(', ')})`);
    if (!MONITOR_ACTIONS.includes(action))
      fail(`.monitor.${kind}`, `must be one of ${MONITOR_ACTIONS.join(', ')}`);
  }
  return Object.freeze({ ...DEFAULT_MONITOR, ...given });
}

/** `Array.isArray` without narrowing a declared list to `any[]`. */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}
