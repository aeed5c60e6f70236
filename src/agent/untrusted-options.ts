import type { ZodType } from 'zod';
import { KeelError } from '../core/index.js';
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
  /** The model that reads (given no tools). Default: the agent's own model. */
  readonly model?: ModelAdapterV1;
  /** Per tool name: the zod schema to extract from that tool's output. */
  readonly schemas?: Readonly<Record<string, ZodType>>;
  /** Trusted instructions for the reader. Default: extract the fields of the schema. */
  readonly instructions?: string;
  /** Further attempts after an invalid answer. Default 2. */
  readonly retries?: number;
}

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
  /** Flag calls that do not fit the task (`action_flagged`, and an alert). Default true. */
  readonly monitor?: boolean;
  /** The quarantined reader (handling `quarantine` only). */
  readonly reader?: QuarantineReaderOptions;
}

/** The agent's resolved untrusted-content settings. */
export interface UntrustedConfig {
  readonly handling: UntrustedHandling;
  /** `default`: the engine's built-in heuristic; `null`: detection off. */
  readonly detector: UntrustedDetector | 'default' | null;
  readonly signalThreshold: number;
  readonly monitor: boolean;
  readonly reader: {
    readonly model: ModelAdapterV1 | undefined;
    readonly schemas: Readonly<Record<string, ZodType>>;
    readonly instructions: string | undefined;
    readonly retries: number;
  };
}

/** The injection-signal score from which consequential calls need a human. */
export const DEFAULT_SIGNAL_THRESHOLD = 0.5;

/** Validate `untrusted` options at definition time; errors name the field. */
export function resolveUntrusted(
  where: string,
  options: UntrustedOptions | undefined,
  tools: readonly Tool[],
): UntrustedConfig {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "untrusted${field}" ${problem}`);
  };
  if (options !== undefined && (typeof options !== 'object' || (options as unknown) === null))
    fail('', 'must be an object');
  const given = options ?? {};
  const handling = given.handling ?? 'verbatim';
  if (!UNTRUSTED_HANDLINGS.includes(handling))
    fail('.handling', `must be one of ${UNTRUSTED_HANDLINGS.join(', ')}`);
  const detector = given.detector;
  if (detector !== undefined && detector !== false && typeof detector !== 'function')
    fail('.detector', 'must be a function (text) => { score, matches } or false');
  const signalThreshold = given.signalThreshold ?? DEFAULT_SIGNAL_THRESHOLD;
  if (typeof signalThreshold !== 'number' || !(signalThreshold > 0 && signalThreshold <= 1))
    fail('.signalThreshold', 'must be a number above 0 and at most 1');
  const monitor = given.monitor ?? true;
  if (typeof monitor !== 'boolean') fail('.monitor', 'must be true or false');
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
  return Object.freeze({
    handling,
    detector: detector === false ? null : (detector ?? 'default'),
    signalThreshold,
    monitor,
    reader: Object.freeze({ model: reader.model, schemas, instructions, retries }),
  });
}
