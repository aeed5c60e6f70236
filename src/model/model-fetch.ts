import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/*
 * The `fetch` Keel gives the provider SDK clients it creates. A model call is one POST of a
 * JSON text whose response is read to its end; Node's `fetch` (undici) spends some 0.2 ms of
 * CPU more than `node:http` on that, as much as the rest of a Keel step. Such a request goes
 * over `node:http(s)` with keep-alive agents of Keel's own and comes back as a standard
 * `Response`, its body decoded as `fetch` decodes it. Anything else goes through the global
 * `fetch` unchanged: a request object, a body that is not text or bytes, an option beyond
 * method, headers, body and signal, a scheme other than http(s), Node told to use the proxy
 * environment variables, and a redirect (which `fetch` then follows, sending the request again).
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

/** A `fetch` for model calls: see the module comment. */
export async function modelFetch(
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const request = plainRequest(input, init);
  if (request === undefined) return fetch(input, init);
  return (await send(request)) ?? fetch(input, init);
}

interface PlainRequest {
  readonly url: URL;
  readonly https: boolean;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | undefined;
  readonly signal: AbortSignal | undefined;
}

/** The request, when this path can send it as the global `fetch` would. */
function plainRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
): PlainRequest | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  if (usesProxyEnvironment()) return undefined;
  if (init !== undefined) {
    for (const [option, value] of Object.entries(init)) {
      if (value !== undefined && !HANDLED_OPTIONS.has(option)) return undefined;
    }
  }
  const body = init?.body ?? undefined;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return undefined;
  }
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return {
    url,
    https: url.protocol === 'https:',
    method: (init?.method ?? 'GET').toUpperCase(),
    headers: requestHeaders(init?.headers, body),
    body,
    signal: init?.signal ?? undefined,
  };
}

/** Node's `fetch` goes through a proxy when `NODE_USE_ENV_PROXY` is set (Node 22.21+, 24+). */
function usesProxyEnvironment(): boolean {
  const value = process.env.NODE_USE_ENV_PROXY;
  return value !== undefined && value !== '' && value !== '0';
}

function requestHeaders(
  given: RequestInit['headers'],
  body: string | Uint8Array | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (given !== undefined) {
    // Headers validates names and values, as `fetch` does.
    for (const [name, value] of given instanceof Headers ? given : new Headers(given)) {
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
}: PlainRequest): Promise<Response | undefined> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<Response | undefined>((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      agent: https ? agents['https:'] : agents['http:'],
    });
    let response: IncomingMessage | undefined;
    const onAbort = (): void => {
      // Before the answer the call fails with the reason, after it the body's reads do.
      (response ?? request).destroy(abortReason(signal));
    };
    const release = (): void => {
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => {
      release();
      reject(error);
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
        resolve(toResponse(message, status, method, url));
      } catch (error) {
        // A status or header the standard `Response` cannot hold fails the call, not the process.
        message.destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    request.end(body);
  });
}

function toResponse(message: IncomingMessage, status: number, method: string, url: URL): Response {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    headers.append(raw[index] as string, raw[index + 1] as string);
  }
  let body: ReadableStream<Uint8Array> | null = null;
  if (NULL_BODY.has(status) || method === 'HEAD') message.resume();
  else body = Readable.toWeb(decoded(message)) as ReadableStream<Uint8Array>;
  const response = new Response(body, {
    status,
    statusText: message.statusMessage ?? '',
    headers,
  });
  // A constructed response has no URL; the SDKs name it in their logs and errors.
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
}

/** The body as sent, decoded as `fetch` decodes it (an unknown coding passes as sent). */
function decoded(message: IncomingMessage): Readable {
  const coding = message.headers['content-encoding']?.trim().toLowerCase();
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip()
      : coding === 'deflate'
        ? createInflate()
        : coding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (decoder === undefined) return message;
  // Either side failing or closing early ends both; the error reaches the body's reader.
  return pipeline(message, decoder, () => undefined);
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}
