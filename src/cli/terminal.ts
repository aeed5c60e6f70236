import { randomBytes } from 'node:crypto';
import picocolors from 'picocolors';

/**
 * Everything the CLI prints goes through `forTerminal`: text from a run (model output, tool
 * arguments, their keys, gate reasons, names) never reaches the terminal as control characters.
 * An escape sequence could otherwise retitle the window, clear the screen, hide a line, plant a
 * hyperlink or redraw an approval as a harmless one. Our own colours are written with a marker
 * no data can contain (a private-use character and a random per-process nonce) and become
 * escape sequences only after the data's control characters are escaped.
 */

/** Stands for ESC in the colour codes this process writes itself. */
const MARK = `\uE000${randomBytes(8).toString('hex')}`;

/**
 * C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the Unicode
 * format characters that reorder or hide text (bidi overrides and isolates, zero-width ones,
 * line and paragraph separators).
 */
const CONTROL =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * `text` with every control character written as a visible `\uXXXX` escape (the same escape
 * JSON uses, so printed JSON stays valid and means the same).
 *
 * ```ts
 * escapeControl('ok\u001b]0;pwned\u0007') // 'ok\\u001b]0;pwned\\u0007'
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line: control characters and newlines escaped (for fields printed inside a line). */
export function oneLine(text: string): string {
  return escapeControl(text.replace(/\r?\n/g, '\\n'));
}

/** What is printed for `text`: its control characters escaped, our colour codes kept. */
export function forTerminal(text: string): string {
  return text.split(MARK).map(escapeControl).join('\u001b');
}

/** Print a line (or lines) to stdout, safely. */
export function print(text = ''): void {
  process.stdout.write(`${forTerminal(text)}\n`);
}

/** Print a line (or lines) to stderr, safely. */
export function printError(text: string): void {
  process.stderr.write(`${forTerminal(text)}\n`);
}

type Color = (text: string | number) => string;

/** A picocolors colour writing `MARK` for ESC, nesting as picocolors does. */
function marked(color: (text: string) => string): Color {
  const [open = '', close = ''] = color('\u0000').split('\u0000');
  if (open === '') return (text) => String(text);
  const openMark = open.replaceAll('\u001b', MARK);
  const closeMark = close.replaceAll('\u001b', MARK);
  return (text) =>
    `${openMark}${String(text).replaceAll(closeMark, closeMark + openMark)}${closeMark}`;
}

/** The colours the CLI uses, on when picocolors says the terminal takes them. */
export const pc = {
  bold: marked(picocolors.bold),
  dim: marked(picocolors.dim),
  gray: marked(picocolors.gray),
  red: marked(picocolors.red),
  green: marked(picocolors.green),
  yellow: marked(picocolors.yellow),
  blue: marked(picocolors.blue),
  magenta: marked(picocolors.magenta),
  cyan: marked(picocolors.cyan),
};

/** Write text as is to stdout, control characters escaped (the caller ends the line). */
export function writeOut(text: string): void {
  process.stdout.write(forTerminal(text));
}

/** Write text as is to stderr, control characters escaped (the caller ends the line). */
export function writeErr(text: string): void {
  process.stderr.write(forTerminal(text));
}
