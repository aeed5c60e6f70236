import { redactSecrets, redactors as builtIn, type Redactor } from '../core/index.js';
import type { RunEvent } from './run-events.js';

/** A tool's secret field paths: into its input and into its result. */
export interface ToolSecretPaths {
  readonly input: readonly string[];
  readonly output: readonly string[];
}

/**
 * What a run records of its secrets in `run_started`, so that every view of its journal and
 * `keel erase` can find them without the agent's code: each tool's `secretFields`, and the
 * runtime's redactors as pattern text (an `accept` check is code and is not kept).
 */
export interface RunSecretSpec {
  /** Secret field paths of the tools that have any, by tool name. */
  readonly tools: Readonly<Record<string, ToolSecretPaths>>;
  readonly redactors: readonly {
    readonly name: string;
    readonly source: string;
    readonly flags: string;
  }[];
}

/** The spec a run records, or `undefined` when its agent and runtime mark no secret. */
export function runSecretSpec(
  tools: readonly { readonly name: string; readonly secretFields: ToolSecretPaths }[],
  redact: readonly Redactor[],
): RunSecretSpec | undefined {
  const marked = tools.filter(
    (tool) => tool.secretFields.input.length > 0 || tool.secretFields.output.length > 0,
  );
  if (marked.length === 0 && redact.length === 0) return undefined;
  return {
    tools: Object.fromEntries(
      marked.map((tool) => [
        tool.name,
        { input: [...tool.secretFields.input], output: [...tool.secretFields.output] },
      ]),
    ),
    redactors: redact.map((redactor) => ({
      name: redactor.name,
      source: redactor.pattern.source,
      flags: redactor.pattern.flags,
    })),
  };
}

/** What a reader knows beyond the journal: the loaded agents' tools and redactors. */
export interface KnownSecrets {
  readonly tools?: readonly { readonly name: string; readonly secretFields: ToolSecretPaths }[];
  readonly redactors?: readonly Redactor[];
}

/** How to redact everything derived from one run's journal. */
export interface JournalRedaction {
  /** A copy of a journal event with its secrets replaced. */
  event<E extends RunEvent>(event: E): E;
  /** A copy of any value (text, a span's attributes, a view) with its secrets replaced. */
  value<T>(value: T): T;
}

/**
 * Redaction for the views of a run (`keel show`, `keel trace`, the dashboard, the OTLP export)
 * and for `keel erase`. It replaces, as `[redacted]` or `[redacted:<pattern>]`:
 * - the fields each tool marks secret (recorded in the run's `run_started`, or known from the
 *   loaded agents), in its calls' arguments, an approver's edit and its results;
 * - every other occurrence of those fields' values, in any string: a card number the model
 *   repeated, a token inside a chat input or a formatted line;
 * - matches of the built-in patterns (card numbers, national ids) and of the runtime's
 *   redactors (recorded with the run, or given).
 */
export function journalRedaction(
  journal: readonly { readonly type: string }[],
  known: KnownSecrets = {},
): JournalRedaction {
  // Readers that see events as plain JSON (observe) pass them as they are.
  const events = journal as readonly RunEvent[];
  const started = events.find((event) => event.type === 'run_started');
  const recorded = started?.type === 'run_started' ? started.secrets : undefined;
  const paths = new Map<string, { input: string[]; output: string[] }>();
  const addPaths = (tool: string, fields: ToolSecretPaths): void => {
    const entry = paths.get(tool) ?? { input: [], output: [] };
    entry.input.push(...fields.input.filter((path) => !entry.input.includes(path)));
    entry.output.push(...fields.output.filter((path) => !entry.output.includes(path)));
    paths.set(tool, entry);
  };
  for (const [tool, fields] of Object.entries(recorded?.tools ?? {})) addPaths(tool, fields);
  for (const tool of known.tools ?? []) addPaths(tool.name, tool.secretFields);

  // Given redactors (with their checks) first; then recorded ones not given, the built-ins
  // with their checks, others as pattern text.
  const patterns = new Map<string, Redactor>();
  for (const redactor of [...(known.redactors ?? []), builtIn.cardNumber, builtIn.nationalId])
    if (!patterns.has(redactor.name)) patterns.set(redactor.name, redactor);
  for (const stored of recorded?.redactors ?? []) {
    if (patterns.has(stored.name)) continue;
    const pattern = safePattern(stored.source, stored.flags);
    if (pattern) patterns.set(stored.name, { name: stored.name, pattern });
  }
  const redactors = [...patterns.values()];

  // The values the secret fields held, wherever the journal has them.
  const values = new Set<string>();
  const collect = (value: unknown, fieldPaths: readonly string[]): void => {
    if (fieldPaths.length === 0) return;
    const marked = redactSecrets(value, { paths: fieldPaths.map((path) => `${MARK}.${path}`) });
    collectMarked(value, marked, values);
  };
  for (const event of events) {
    const fields = 'toolName' in event ? paths.get(event.toolName) : undefined;
    if (!fields) continue;
    if (event.type === 'tool_requested') collect({ [MARK]: event.input }, fields.input);
    else if (event.type === 'approval_decided' && event.editedInput !== undefined)
      collect({ [MARK]: event.editedInput }, fields.input);
    else if (event.type === 'tool_finished')
      collect({ [MARK]: parseJson(event.content) }, fields.output);
  }
  const marks = { redactors, values: [...values] };
  const value = <T>(input: T): T => redactSecrets(input, marks) as T;
  return {
    value,
    event<E extends RunEvent>(event: E): E {
      const fields = 'toolName' in event ? paths.get(event.toolName) : undefined;
      if (!fields) return value(event);
      // The fields themselves go whole, however short their values.
      const byPath = (input: unknown, fieldPaths: readonly string[]) =>
        redactSecrets(input, { paths: fieldPaths, ...marks });
      if (event.type === 'tool_requested')
        return { ...value(event), input: byPath(event.input, fields.input) };
      if (event.type === 'approval_decided' && event.editedInput !== undefined)
        return { ...value(event), editedInput: byPath(event.editedInput, fields.input) };
      if (event.type === 'tool_finished' && fields.output.length > 0) {
        const parsed = parseJson(event.content);
        if (parsed !== undefined) {
          const content = JSON.stringify(byPath(parsed, fields.output));
          if (content !== JSON.stringify(parsed)) return { ...value(event), content };
        }
      }
      return value(event);
    },
  };
}

/** The root key the field paths are placed under while collecting. */
const MARK = '__keel_secret';

/** Leaf strings and numbers of `original` where `marked` (its redacted copy) differs. */
function collectMarked(original: unknown, marked: unknown, into: Set<string>): void {
  if (original === marked) return;
  if (typeof original === 'string') into.add(original);
  else if (typeof original === 'number' || typeof original === 'bigint') into.add(String(original));
  else if (typeof marked === 'string' && original !== null && typeof original === 'object')
    // A whole object or list was marked: every leaf under it.
    for (const child of Object.values(original)) collectMarked(child, `${marked}!`, into);
  else if (original !== null && typeof original === 'object' && marked !== null)
    for (const [key, child] of Object.entries(original))
      collectMarked(child, (marked as Record<string, unknown>)[key], into);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A stored pattern as a RegExp, or `undefined` when it no longer compiles or matches nothing. */
function safePattern(source: string, flags: string): RegExp | undefined {
  try {
    const pattern = new RegExp(source, flags.replace(/[^gimsuy]/g, ''));
    return new RegExp(pattern.source).test('') ? undefined : pattern;
  } catch {
    return undefined;
  }
}

/**
 * A run as people are shown it (`keel show`, `keel trace`, the dashboard): its record and
 * journal with secrets redacted (see `journalRedaction`; `known` adds the loaded agents'
 * marks), unless `reveal`. `shown` applies the
 * same to anything derived from the run, formatted text included.
 */
export function runAsShown<R, E extends { readonly event: { readonly type: string } }>(
  record: R,
  entries: readonly E[],
  reveal: boolean,
  known: KnownSecrets = {},
): { record: R; entries: E[]; shown: <T>(value: T) => T } {
  if (reveal) return { record, entries: [...entries], shown: (value) => value };
  const redaction = journalRedaction(
    entries.map((entry) => entry.event),
    known,
  );
  return {
    record: redaction.value(record),
    entries: entries.map((entry) => ({
      ...entry,
      event: redaction.event(entry.event as RunEvent),
    })),
    shown: (value) => redaction.value(value),
  };
}
