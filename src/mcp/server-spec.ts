import { KeelError } from '../core/index.js';

/**
 * Where an MCP server is: a command started as a child process speaking stdio, or a streamable
 * HTTP endpoint (with headers, e.g. `Authorization`). As a string: `stdio:<command line>` or an
 * `http://` / `https://` URL.
 */
export type McpServerSpec =
  | string
  | {
      readonly command: string;
      readonly args?: readonly string[] | undefined;
      /** Added to the SDK's default environment (PATH, HOME, ...); nothing else is inherited. */
      readonly env?: Readonly<Record<string, string>> | undefined;
      readonly cwd?: string | undefined;
    }
  | { readonly url: string; readonly headers?: Readonly<Record<string, string>> | undefined };

/** A server spec checked and normalised. */
export type McpServerAddress =
  | {
      readonly kind: 'stdio';
      readonly command: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>> | undefined;
      readonly cwd: string | undefined;
    }
  | {
      readonly kind: 'http';
      readonly url: URL;
      readonly headers: Readonly<Record<string, string>>;
    };

/**
 * Check a server spec; a bad one throws `invalid_definition` naming `field`.
 *
 * ```ts
 * parseServerSpec('stdio:node server.mjs --port 0', 'server')
 * // { kind: 'stdio', command: 'node', args: ['server.mjs', '--port', '0'], env: undefined, cwd: undefined }
 * ```
 */
export function parseServerSpec(
  spec: McpServerSpec,
  field: string,
  headers: Readonly<Record<string, string>> = {},
): McpServerAddress {
  const fail = (problem: string): never => {
    throw new KeelError('invalid_definition', `"${field}" ${problem}`);
  };
  if (typeof spec === 'string') {
    const text = spec.trim();
    if (text.startsWith('stdio:')) {
      const words = splitCommandLine(text.slice('stdio:'.length), fail);
      const [command, ...args] = words;
      if (command === undefined) return fail('names no command after "stdio:"');
      return { kind: 'stdio', command, args, env: undefined, cwd: undefined };
    }
    if (/^https?:\/\//i.test(text)) return { kind: 'http', url: parseUrl(text, fail), headers };
    return fail(`must be "stdio:<command>" or an http(s):// URL, not ${JSON.stringify(spec)}`);
  }
  if (typeof spec !== 'object' || (spec as unknown) === null) {
    return fail('must be a string or an object');
  }
  if ('url' in spec) {
    if (typeof spec.url !== 'string') return fail('url must be a string');
    const own = spec.headers ?? {};
    for (const [name, value] of Object.entries(own)) {
      if (typeof value !== 'string') fail(`headers.${name} must be a string`);
    }
    return { kind: 'http', url: parseUrl(spec.url, fail), headers: { ...headers, ...own } };
  }
  if (!('command' in spec) || typeof spec.command !== 'string' || spec.command.trim() === '') {
    return fail('must have a command or a url');
  }
  if (spec.args !== undefined && !spec.args.every((arg) => typeof arg === 'string')) {
    fail('args must be strings');
  }
  return {
    kind: 'stdio',
    command: spec.command,
    args: [...(spec.args ?? [])],
    env: spec.env,
    cwd: spec.cwd,
  };
}

/**
 * The name pins are kept under when none is configured: the command line for stdio, the URL
 * without credentials, query or fragment for HTTP (headers never take part).
 *
 * ```ts
 * serverName(parseServerSpec('https://mcp.example.com/v1?key=x', 'server')) // 'https://mcp.example.com/v1'
 * ```
 */
export function serverName(address: McpServerAddress): string {
  if (address.kind === 'http') return `${address.url.origin}${address.url.pathname}`;
  const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : JSON.stringify(word));
  return `stdio:${[address.command, ...address.args].map(quote).join(' ')}`;
}

function parseUrl(text: string, fail: (problem: string) => never): URL {
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('must be an http(s) URL');
    return url;
  } catch {
    return fail(`is not a valid URL: ${JSON.stringify(text)}`);
  }
}

/** Words of a command line: whitespace separates, single and double quotes group, `\` escapes. */
function splitCommandLine(text: string, fail: (problem: string) => never): string[] {
  const words: string[] = [];
  let word = '';
  let started = false;
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < text.length)
        word += text.charAt(++index);
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      started = true;
    } else if (char === '\\' && index + 1 < text.length) {
      word += text.charAt(++index);
      started = true;
    } else if (/\s/.test(char)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += char;
      started = true;
    }
  }
  if (quote) fail(`has an unclosed ${quote} quote`);
  if (started) words.push(word);
  return words;
}
