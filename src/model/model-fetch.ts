import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, pipeline, type Transform } from 'node:stream';
import { constants, createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ModelCallError } from './model-adapter.js';

/*
 * The `fetch` Keel gives the provider SDK clients it creates. A model call is one POST of a
 * JSON text whose response is read to its end; Node's `fetch` (undici) spends some 0.2 ms of
 * CPU more than `node:http` on that, as much as the rest of a Keel step. Such a request goes
 * over `node:http(s)` with keep-alive agents of Keel's own and comes back as a standard
 * `Response`, its body decoded as `fetch` decodes it; Keel's stream readers take the Node
 * stream under it (`responseBody`) rather than read it through a web stream, and their own
 * streamed calls get no web stream at all (`BODY_READ_BY_KEEL`). Anything else goes
 * through the global `fetch` unchanged, which applies its own rules: a request object, a body
 * that is not text or bytes, a body on a GET or HEAD, an option beyond method, headers, body
 * and signal, a header that frames or routes the request, credentials in the URL, a scheme
 * other than http(s), a proxy or other dispatcher `fetch` was given, and a redirect (which
 * `fetch` then follows, sending the request again).
 */

// Node's global agent's settings, with undici's idle limit where the server gives no hint.
const agents = {
  'http:': new HttpAgent({ keepAlive: true, scheduling: 'lifo', timeout: 4_000 }),
  'https:': new HttpsAgent({ keepAlive: true, scheduling: 'lifo', timeout: 4_000 }),
} as const;

/** Statuses whose response has no body (the `Response` constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECT = new Set([301, 302, 303, 307, 308]);
/** The request options this path carries out itself; any other goes to the global `fetch`. */
const HANDLED_OPTIONS = new Set(['method', 'headers', 'body', 'signal']);
/** Headers that frame, route or upgrade the request: `fetch` refuses or owns them. */
const FRAMING_HEADERS = new Set([
  'connection',
  'content-length',
  'expect',
  'host',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** The content codings decoded here; a body in any other passes as sent, as with `fetch`. */
const DECODERS = new Set(['gzip', 'x-gzip', 'deflate', 'br']);
/** Whether Node was started with `--use-env-proxy` (its command line does not change). */
const PROXY_FLAG_GIVEN = process.execArgv.includes('--use-env-proxy');
/** Where Node's `fetch` keeps the dispatcher `setGlobalDispatcher` installs. */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** The key of {@link BODY_READ_BY_KEEL}. */
const bodyReadByKeel = Symbol('keel.bodyReadByKeel');

/**
 * The `fetch` options Keel's adapters send with a call whose successful reply they read through
 * `responseBody` alone (a streamed model call, taken with the SDK's `asResponse()`). Such a
 * reply, status 2xx, comes with a null `body`: Node takes ~14 µs to build the web stream that
 * nobody would read. Its body is then `responseBody`'s alone to hand over, and a reply of any
 * other status (which the SDK reads for its error) keeps its web stream. The key is a symbol:
 * the SDKs pass their `fetchOptions` on to `fetch` as they are, and neither `fetch` nor the
 * options check below looks at a symbol key.
 */
export const BODY_READ_BY_KEEL: object = Object.freeze({
  [bodyReadByKeel]: true,
});

/**
 * A reply's body as this path made it: the decoded Node stream and the web stream over it (none
 * when the reply is read by Keel alone).
 */
interface MadeBody {
  readonly source: Readable;
  readonly web: ReadableStream<Uint8Array> | undefined;
  /** Whether the web stream has read from `source`. */
  pulled: boolean;
}

/** The body behind each `Response` this path made, for `responseBody` to hand over. */
const madeBodies = new WeakMap<Response, MadeBody>();

/**
 * A reply dropped unread lets go of its connection once collected, as `fetch`'s does; one that
 * is being read, or was handed over, is left to its reader.
 */
const unreadBodies = new FinalizationRegistry<MadeBody>((made) => {
  if (made.web === undefined || (!made.pulled && !made.web.locked)) made.source.destroy();
});

/**
 * The body of `response` to read: the Node stream under it when `modelFetch` made it and nobody
 * has read it yet (its web stream is then locked, so nothing else can), else its web stream. A
 * reply made with no web stream (see {@link BODY_READ_BY_KEEL}) hands its Node stream over once,
 * then has no body.
 */
export function responseBody(
  response: Response,
): AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null {
  const body = response.body;
  const made = madeBodies.get(response);
  if (made === undefined) return body;
  if (made.web === undefined) {
    // Made without a web stream, for this call alone: handed over once.
    madeBodies.delete(response);
    unreadBodies.unregister(made);
    return made.source;
  }
  // A clone swaps in a copy of the web stream, which reads `source` too: then not `source`.
  if (body !== made.web || body.locked || made.pulled) return body;
  madeBodies.delete(response);
  unreadBodies.unregister(made);
  body.getReader();
  return made.source;
}

/** A `fetch` for model calls: see the module comment. */
export async function modelFetch(
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const request = plainRequest(input, init);
  if (request === undefined) return fetch(input, init);
  const answer = await send(request);
  if (answer === undefined) return fetch(input, init);
  // The settled promise keeps its value, and the socket's listeners keep the promise: emptied,
  // it no longer keeps the reply, which can then be collected (see `unreadBodies`).
  const { response } = answer;
  answer.response = undefined;
  return response as Response;
}

interface PlainRequest {
  readonly url: URL;
  readonly https: boolean;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | undefined;
  readonly signal: AbortSignal | undefined;
  /** Whether a successful reply's body is read through `responseBody` alone. */
  readonly readByKeel: boolean;
}

/** The request, when this path can send it as the global `fetch` would. */
function plainRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
): PlainRequest | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  if (fetchIsRouted()) return undefined;
  if (init !== undefined) {
    // `for…in`: an option inherited from a prototype counts as well.
    for (const option in init) {
      if (init[option as keyof RequestInit] !== undefined && !HANDLED_OPTIONS.has(option)) {
        return undefined;
      }
    }
  }
  const body = init?.body ?? undefined;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return undefined;
  }
  const method = (init?.method ?? 'GET').toUpperCase();
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) return undefined;
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  const headers = requestHeaders(init?.headers, body);
  if (headers === undefined) return undefined;
  return {
    url,
    https: url.protocol === 'https:',
    method,
    headers,
    body,
    signal: init?.signal ?? undefined,
    readByKeel: (init as Record<symbol, unknown> | undefined)?.[bodyReadByKeel] === true,
  };
}

/**
 * Whether Node's `fetch` was told to go another way than a direct connection: the proxy
 * environment (`NODE_USE_ENV_PROXY`, `--use-env-proxy`; Node 22.21+, 24+) or a global
 * dispatcher other than the plain `Agent` Node's `fetch` makes for itself (undici's
 * `ProxyAgent`, `EnvHttpProxyAgent`, `MockAgent`, an `Agent` with TLS or other options).
 */
function fetchIsRouted(): boolean {
  const variable = process.env.NODE_USE_ENV_PROXY;
  if (variable !== undefined && variable !== '' && variable !== '0') return true;
  if (PROXY_FLAG_GIVEN) return true;
  if (process.env.NODE_OPTIONS?.includes('--use-env-proxy') === true) return true;
  const dispatcher: unknown = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
  if (dispatcher === undefined || dispatcher === null) return false;
  if (dispatcher !== seenDispatcher.dispatcher) {
    seenDispatcher = { dispatcher, plain: isPlainAgent(dispatcher) };
  }
  return !seenDispatcher.plain;
}

let seenDispatcher: { dispatcher: unknown; plain: boolean } = {
  dispatcher: undefined,
  plain: true,
};

/**
 * An undici `Agent` made with no options, as `fetch` makes its own (its connection factory
 * undici's default, no redirects of its own); unsure means no.
 */
function isPlainAgent(dispatcher: unknown): boolean {
  if (typeof dispatcher !== 'object' || dispatcher === null) return false;
  const kind: unknown = (dispatcher as { constructor?: { name?: unknown } }).constructor?.name;
  if (kind !== 'Agent') return false;
  const fields = new Map<string | undefined, unknown>();
  for (const symbol of Object.getOwnPropertySymbols(dispatcher)) {
    fields.set(symbol.description, Reflect.get(dispatcher, symbol));
  }
  const options = fields.get('options');
  const factory = fields.get('factory');
  const redirections = fields.get('maxRedirections');
  return (
    typeof options === 'object' &&
    options !== null &&
    Object.values(options).every((value) => value === undefined) &&
    (factory === undefined ||
      (typeof factory === 'function' && factory.name === 'defaultFactory')) &&
    (redirections === undefined || redirections === 0 || redirections === null)
  );
}

/** The headers to send, or `undefined` when one is `fetch`'s to refuse or handle. */
function requestHeaders(
  given: RequestInit['headers'],
  body: string | Uint8Array | undefined,
): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  if (given !== undefined) {
    // Headers validates names and values, as `fetch` does.
    for (const [name, value] of given instanceof Headers ? given : new Headers(given)) {
      if (FRAMING_HEADERS.has(name)) return undefined;
      headers[name] = value;
    }
  }
  headers['accept-encoding'] ??= 'gzip, br';
  if (body !== undefined) {
    headers['content-length'] = String(
      typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    );
  }
  return headers;
}

/** Sends the request; `undefined` when the answer is a redirect, for `fetch` to follow. */
function send({
  url,
  https,
  method,
  headers,
  body,
  signal,
  readByKeel,
}: PlainRequest): Promise<{ response: Response | undefined } | undefined> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<{ response: Response | undefined } | undefined>((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      agent: https ? agents['https:'] : agents['http:'],
    });
    let response: IncomingMessage | undefined;
    const onAbort = (): void => {
      // Before the answer the call fails with the reason, after it the body's reads do.
      const reason = abortReason(signal);
      if (response === undefined) reject(reason);
      (response ?? request).destroy(reason);
    };
    const release = (): void => {
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => {
      release();
      reject(error);
    });
    // A connection that closes with no answer and no error (a `101`, which node:http hands
    // only to 'upgrade' listeners) must still end the call.
    request.once('close', () => {
      if (response !== undefined) return;
      release();
      reject(new Error('the connection closed before a response came'));
    });
    request.once('response', (message) => {
      response = message;
      message.once('close', release);
      const status = message.statusCode ?? 0;
      if (REDIRECT.has(status) && message.headers.location !== undefined) {
        message.resume();
        resolve(undefined);
        return;
      }
      try {
        resolve({ response: toResponse(message, status, method, url, readByKeel) });
      } catch (error) {
        // A status or header the standard `Response` cannot hold fails the call, not the process.
        message.destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    request.end(body);
  });
}

function toResponse(
  message: IncomingMessage,
  status: number,
  method: string,
  url: URL,
  readByKeel: boolean,
): Response {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    headers.append(raw[index] as string, raw[index + 1] as string);
  }
  let source: Readable | undefined;
  if (NULL_BODY.has(status) || method === 'HEAD') message.resume();
  else source = decoded(message);
  const statusText = message.statusMessage ?? '';
  const ok = status >= 200 && status < 300;
  const made =
    source === undefined
      ? undefined
      : readByKeel && ok
        ? { source, web: undefined, pulled: false }
        : madeBody(source, ok ? MAX_BODY_BYTES.success : MAX_BODY_BYTES.error, status);
  const response = new Response(made?.web ?? null, {
    status,
    // Node takes any text on the status line; `fetch` would keep a valid one only.
    statusText: /^[\t\x20-\x7e\x80-\xff]*$/.test(statusText) ? statusText : '',
    headers,
  });
  // A constructed response has no URL; the SDKs name it in their logs and errors.
  Object.defineProperty(response, 'url', { value: url.href });
  if (made !== undefined) {
    madeBodies.set(response, made);
    unreadBodies.register(response, made, made);
  }
  return response;
}

/**
 * The most of a body read through its web stream, decoded: a successful reply the SDK parses
 * whole (one JSON completion is rarely over a megabyte), and an error's text. A server sending
 * more fails the read (`malformed_response`) rather than fill the process's memory. Keel's own
 * stream readers bound what they keep themselves.
 */
const MAX_BODY_BYTES = { success: 32 * 1024 * 1024, error: 1024 * 1024 } as const;

/**
 * A web stream over `source` that touches it only once read (no queue of its own: a read pulls
 * one piece), so that `responseBody` can hand `source` itself over to a reader of Keel's. It
 * fails once more than `maxBytes` have come.
 */
function madeBody(source: Readable, maxBytes: number, status: number): MadeBody {
  let pieces: AsyncIterator<Buffer> | undefined;
  let received = 0;
  const web = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        made.pulled = true;
        pieces ??= source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const next = await pieces.next();
        if (next.done === true) controller.close();
        else if ((received += next.value.byteLength) > maxBytes) {
          source.destroy();
          await pieces.return?.();
          controller.error(
            new ModelCallError('malformed_response', `the response body passed ${maxBytes} bytes`, {
              statusCode: status,
            }),
          );
        } else {
          controller.enqueue(
            new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength),
          );
        }
      },
      async cancel() {
        source.destroy();
        await pieces?.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  const made: MadeBody = { source, web, pulled: false };
  return made;
}

/**
 * The body as sent, decoded as `fetch` decodes it: each coding in turn (`gzip`, `br`,
 * `deflate`), a body cut short decoded as far as it goes; a coding it does not know leaves the
 * body as sent.
 */
function decoded(message: IncomingMessage): Readable {
  const codings = (message.headers['content-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'identity')
    .reverse();
  if (codings.length === 0 || !codings.every((coding) => DECODERS.has(coding))) return message;
  const decoders = codings.map((coding) => decoderFor(coding));
  // Any stage failing or closing early ends them all; the error reaches the body's reader.
  return pipeline([message, ...decoders], () => undefined) as unknown as Readable;
}

/** The decoder of a coding in `DECODERS`. */
function decoderFor(coding: string): Transform {
  const zlibFlush = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };
  // Keel does not ask for `deflate`; one sent anyway is read as the standard says (zlib-wrapped).
  if (coding === 'deflate') return createInflate(zlibFlush);
  if (coding === 'br') {
    return createBrotliDecompress({
      flush: constants.BROTLI_OPERATION_FLUSH,
      finishFlush: constants.BROTLI_OPERATION_FLUSH,
    });
  }
  return createGunzip(zlibFlush);
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}
