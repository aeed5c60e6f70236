import type { ContextText } from './call-review.js';
import type { ToolEffect } from '../tools/index.js';
import { argumentLeaves, originOf } from './argument-origins.js';

/**
 * Why the output monitor flagged a call:
 * - `out_of_scope`: a tool the agent does not have;
 * - `untrusted_destination`: a recipient, URL or account that appears only in untrusted content;
 * - `permission_change`: a call that widens access (invite, share, grant, change a password);
 * - `exfiltration_shape`: an argument shaped like data leaving (a long encoded blob, a
 *   secret-looking string, a URL carrying data in its query).
 */
export const MONITOR_FLAG_KINDS = [
  'out_of_scope',
  'untrusted_destination',
  'permission_change',
  'exfiltration_shape',
] as const;
/** What the output monitor flags: a call out of scope, an untrusted destination, a permission change, an exfiltration shape. */
export type MonitorFlagKind = (typeof MONITOR_FLAG_KINDS)[number];

/**
 * What the monitor does with a kind of flag: `flag` records it (`action_flagged`, an alert),
 * `confirm` also holds the call for a human, `deny` refuses it.
 */
export const MONITOR_ACTIONS = ['flag', 'confirm', 'deny'] as const;
/** What the monitor does with a flag: record it, ask a human, or refuse the call. */
export type MonitorAction = (typeof MONITOR_ACTIONS)[number];

/** One reason a call does not fit the task. Plain JSON. */
export interface MonitorFlag {
  readonly kind: MonitorFlagKind;
  /** The argument path it is about, when it is about one. */
  readonly argument?: string | undefined;
  readonly detail: string;
}

/** A call as the monitor sees it. */
export interface MonitoredCall {
  readonly toolName: string;
  readonly effect: ToolEffect;
  readonly input: unknown;
  /** What the run saw before the call, with provenance (as the guard grounds arguments). */
  readonly context: readonly ContextText[];
  /** The agent's own tools: anything else is out of scope. */
  readonly scope: readonly string[];
}

// Every check on an argument is linear in its length: no nested or adjacent unbounded
// quantifiers that can backtrack over the same characters.
const URL_PREFIX = /^(https?|ftp):\/\//i;
const WHITESPACE = /\s/;
const IBAN = /^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/;
const IBAN_MAX = 34;
/**
 * A recipient, URL or account: values that decide where an effect lands.
 *
 * ```ts
 * looksLikeDestination('bob@example.com') // true
 * looksLikeDestination('see you at 10') // false
 * ```
 */
export function looksLikeDestination(value: string): boolean {
  const trimmed = value.trim();
  if (isEmail(trimmed) || isUrl(trimmed)) return true;
  // An IBAN is 34 characters at most, in groups: longer text is not one (and is not copied).
  if (trimmed.length > IBAN_MAX * 4) return false;
  const compact = trimmed.replace(/\s+/g, '');
  return compact.length <= IBAN_MAX && IBAN.test(compact);
}

/**
 * Whether `value` holds whitespace: the common characters are looked for with `indexOf`, the
 * pattern only runs when none of them is there.
 */
function hasWhitespace(value: string): boolean {
  return (
    value.includes(' ') ||
    value.includes('\n') ||
    value.includes('\t') ||
    value.includes('\r') ||
    WHITESPACE.test(value)
  );
}

/** `local@domain.tld`: one `@`, no whitespace, a dot inside the domain (not first or last). */
function isEmail(value: string): boolean {
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@') || hasWhitespace(value)) return false;
  const domain = value.slice(at + 1);
  const dot = domain.indexOf('.', 1);
  return dot !== -1 && dot < domain.length - 1;
}

/** An http(s) or ftp URL: the scheme, `//`, then at least one character, no whitespace. */
function isUrl(value: string): boolean {
  const prefix = URL_PREFIX.exec(value);
  return prefix !== null && value.length > prefix[0].length && !hasWhitespace(value);
}

const PERMISSION_TOOL =
  /(invite|share|grant|permission|role|admin|password|credential|add_?member|add_?user|collaborator|access)/i;
const PERMISSION_ARGUMENT = /^(role|permission|permissions|access|password|new_?password)$/i;
/** Per ASCII code: 1 a `\w` character, 2 a base64 character (`\w`, `+`, `/`, `=`, `-`), 4 a hex digit. */
const CHAR_CLASS = new Uint8Array(128);
for (let code = 0; code < 128; code += 1) {
  const word =
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95;
  const hex =
    (code >= 48 && code <= 57) || (code >= 97 && code <= 102) || (code >= 65 && code <= 70);
  CHAR_CLASS[code] =
    (word ? 1 : 0) |
    (word || code === 43 || code === 47 || code === 61 || code === 45 ? 2 : 0) |
    (hex ? 4 : 0);
}
const WORD = 1;
const BASE64 = 2;
const HEX = 4;
const BLOB_RUN = 64;
const HEX_WORD = 40;

function hasClass(value: string, index: number, bit: number): boolean {
  const code = value.charCodeAt(index);
  return code < 128 && ((CHAR_CLASS[code] ?? 0) & bit) !== 0;
}

/**
 * Where the first `length` characters in a row of class `bit` start at or after `from`, or -1.
 * Each window is read from its right end, so a character outside the class skips the window
 * past it, and characters already seen in the class are not read again: at most one read per
 * character, usually one per `length`.
 */
function runOf(value: string, bit: number, length: number, from: number): number {
  let start = from;
  // Characters in [start, known) are already known to be in the class.
  let known = from;
  while (start + length <= value.length) {
    let index = start + length - 1;
    while (index >= known && hasClass(value, index, bit)) index -= 1;
    if (index < known) return start;
    known = start + length;
    start = index + 1;
  }
  return -1;
}

/**
 * A long encoded blob (64 or more base64/base64url characters in a row) or a long hex word (a
 * `\w+` of 40 or more hex digits) in `value`. Linear, and on text with short words it reads
 * about one character in forty.
 */
function encodedShape(value: string): 'blob' | 'hex' | undefined {
  if (runOf(value, BASE64, BLOB_RUN, 0) !== -1) return 'blob';
  for (let from = 0; ;) {
    const start = runOf(value, HEX, HEX_WORD, from);
    if (start === -1) return undefined;
    // The run starts after a character that is not a hex digit (or at `from`, which follows one).
    let end = start + HEX_WORD;
    while (end < value.length && hasClass(value, end, HEX)) end += 1;
    if ((start === 0 || !hasClass(value, start - 1, WORD)) && !hasClass(value, end, WORD))
      return 'hex';
    from = end + 1;
  }
}

const SECRET =
  /\b(sk-[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,})\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*\S+/i;

/**
 * Whether `SECRET` can match `value`: every branch but the AKIA one needs a `-`, `_`, `:` or
 * `=`, and the AKIA one a `k` (the pattern is case-insensitive for ASCII only). Found with a few
 * `indexOf`s, much cheaper than the pattern on a long argument that holds none of them.
 */
function mayHoldSecret(value: string): boolean {
  return (
    value.includes('-') ||
    value.includes('_') ||
    value.includes(':') ||
    value.includes('=') ||
    value.includes('k') ||
    value.includes('K')
  );
}

/**
 * Flag a call that does not fit the task. Its flags are journaled as `action_flagged` and raise
 * an alert; what they do to the call (nothing, a human's confirmation, a refusal) is the
 * agent's `untrusted.monitor` setting, applied by `reviewCall`. Pure and fast.
 *
 * ```ts
 * const flags = monitorCall({ toolName: 'send_email', effect: 'egress', input, context, scope });
 * ```
 */
export function monitorCall(call: MonitoredCall): MonitorFlag[] {
  const flags: MonitorFlag[] = [];
  if (!call.scope.includes(call.toolName))
    flags.push({
      kind: 'out_of_scope',
      detail: `${call.toolName} is not one of the agent's tools`,
    });
  if (PERMISSION_TOOL.test(call.toolName))
    flags.push({ kind: 'permission_change', detail: `${call.toolName} widens access` });
  const leaves = argumentLeaves(call.input);
  for (const leaf of leaves) {
    if (typeof leaf.value !== 'string' || leaf.value.trim() === '') continue;
    const value = leaf.value;
    const argument = leaf.path === '' ? undefined : leaf.path;
    if (
      PERMISSION_ARGUMENT.test(leaf.path.split(/[.[]/).at(-1) ?? '') &&
      !PERMISSION_TOOL.test(call.toolName)
    )
      flags.push({ kind: 'permission_change', argument, detail: `sets ${leaf.path}` });
    // A read can be an exfiltration channel too (fetching an attacker's URL).
    if (looksLikeDestination(value) && originOf(value, call.context) === 'untrusted')
      flags.push({
        kind: 'untrusted_destination',
        argument,
        detail: `${truncate(value)} appears only in untrusted content`,
      });
    const shape = exfiltrationShape(value);
    if (shape) flags.push({ kind: 'exfiltration_shape', argument, detail: shape });
  }
  return flags;
}

/** Why a value looks like data leaving, or `undefined`. */
function exfiltrationShape(value: string): string | undefined {
  if (mayHoldSecret(value) && SECRET.test(value)) return 'a secret-looking string';
  const url = urlOf(value.trim());
  if (url) {
    const query = [...url.searchParams.values()].join('');
    if (query.length >= 32 || encodedShape(query) === 'blob' || /\d{6}/.test(query))
      return 'a URL carrying data in its query';
    if (encodedShape(url.pathname) === 'blob') return 'a URL carrying a long encoded blob';
    return undefined;
  }
  const shape = encodedShape(value);
  if (shape === 'blob') return 'a long encoded blob';
  if (shape === 'hex') return 'a long hex blob';
  return undefined;
}

function urlOf(value: string): URL | undefined {
  if (!isUrl(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function truncate(value: string): string {
  return value.length <= 60 ? value : `${value.slice(0, 59)}…`;
}
