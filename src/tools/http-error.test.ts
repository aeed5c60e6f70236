import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  ToolError,
  throwIfHttpError,
  toToolFailure,
  toolErrorFromResponse,
  type ToolFailure,
} from './index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function failureOf(status: number, headers: Record<string, string> = {}): ToolFailure | undefined {
  const error = toolErrorFromResponse(new Response(null, { status, headers }), {
    what: 'order A-1',
    clock: { now: () => NOW },
  });
  return error && toToolFailure(error);
}

describe('toolErrorFromResponse', () => {
  it('maps each status class to its typed error', () => {
    const statuses = [
      200, 204, 304, 400, 401, 403, 404, 405, 408, 409, 410, 412, 422, 429, 500, 502, 503, 504,
    ];
    expect(
      Object.fromEntries(statuses.map((status) => [status, failureOf(status)?.type ?? 'ok'])),
    ).toEqual({
      200: 'ok',
      204: 'ok',
      304: 'ok',
      400: 'invalid_input',
      401: 'forbidden',
      403: 'forbidden',
      404: 'not_found',
      405: 'invalid_input',
      408: 'timeout',
      409: 'conflict',
      410: 'not_found',
      412: 'conflict',
      422: 'invalid_input',
      429: 'rate_limited',
      500: 'internal',
      502: 'unavailable',
      503: 'unavailable',
      504: 'timeout',
    });
  });

  it('keeps retry-after as seconds, as an HTTP date, or retry-after-ms', () => {
    expect(failureOf(429, { 'retry-after': '2' })).toEqual({
      type: 'rate_limited',
      message: 'order A-1: HTTP 429',
      retryAfterMs: 2_000,
    });
    expect(failureOf(503, { 'retry-after': new Date(NOW + 1_500).toUTCString() })).toMatchObject({
      type: 'unavailable',
      retryAfterMs: 1_000, // HTTP dates have whole seconds
    });
    expect(failureOf(429, { 'retry-after-ms': '250', 'retry-after': '9' })?.retryAfterMs).toBe(250);
    expect(failureOf(429, { 'retry-after': 'soon' })).toEqual({
      type: 'rate_limited',
      message: 'order A-1: HTTP 429',
    });
  });

  it('throws the typed error from throwIfHttpError and passes a success through', () => {
    const ok = new Response('{}', { status: 200 });
    expect(throwIfHttpError(ok)).toBe(ok);
    let thrown: unknown;
    try {
      throwIfHttpError(new Response(null, { status: 404, statusText: 'Not Found' }));
    } catch (error) {
      thrown = error;
    }
    expect(ToolError.isInstance(thrown) && [thrown.type, thrown.message]).toEqual([
      'not_found',
      'HTTP 404 Not Found',
    ]);
  });
});

describe('toToolFailure', () => {
  it('turns an unknown throw into internal with its message kept', () => {
    expect(toToolFailure(new RangeError('index 7 out of range'))).toEqual({
      type: 'internal',
      message: 'index 7 out of range',
    });
    expect(toToolFailure('plain string')).toEqual({ type: 'internal', message: 'plain string' });
  });

  it('types a refused connection as unavailable and a signal timeout as timeout', async () => {
    // A port that was just free: nothing listens there now.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    const refused = await fetch(`http://127.0.0.1:${port}/`).catch((error: unknown) => error);
    expect(toToolFailure(refused)).toMatchObject({
      type: 'unavailable',
      message: expect.stringContaining('ECONNREFUSED') as unknown,
    });

    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(toToolFailure(signal.reason).type).toBe('timeout');
  });
});
