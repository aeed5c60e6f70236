import { getEventListeners, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { brotliCompressSync, createGzip, gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_READ_BY_KEEL, modelFetch, responseBody } from './model-fetch.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly remotePort: number | undefined;
}

const servers: (Server | TcpServer)[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          if ('closeAllConnections' in server) server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

/** A server that records each request (body read whole) and answers it with `reply`. */
async function serve(
  reply: (response: ServerResponse, request: Seen) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const record = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: request.socket.remotePort,
      };
      seen.push(record);
      reply(response, record);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${portOf(server)}`, seen };
}

function portOf(server: Server | TcpServer): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A TCP server that answers the first bytes of each connection with `answer`, as written. */
async function rawHttp(answer: string): Promise<string> {
  const tcp = createTcpServer((socket) => {
    socket.once('data', () => {
      socket.end(answer);
    });
  });
  servers.push(tcp);
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  return `http://127.0.0.1:${portOf(tcp)}/`;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('modelFetch', () => {
  it('sends the method, headers and body, and answers with status, headers, URL and body', async () => {
    const { url, seen } = await serve((response) => {
      response.writeHead(201, 'Made', [
        ['content-type', 'application/json'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ]);
      response.end('{"ok":"été"}');
    });
    const body = JSON.stringify({ text: 'naïve café' });
    const response = await modelFetch(`${url}/v1/chat?x=1`, {
      method: 'post',
      headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }),
      body,
    });
    expect(seen).toMatchObject([
      {
        method: 'POST',
        url: '/v1/chat?x=1',
        body,
        headers: {
          authorization: 'Bearer k',
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'accept-encoding': 'gzip, br',
        },
      },
    ]);
    // Sent by node:http, not by Node's fetch (which adds sec-fetch-mode to every request).
    expect(seen[0]?.headers['sec-fetch-mode']).toBeUndefined();
    expect(response).toBeInstanceOf(Response);
    expect({
      status: response.status,
      statusText: response.statusText,
      ok: response.ok,
      url: response.url,
      type: response.headers.get('content-type'),
      cookies: response.headers.getSetCookie(),
    }).toEqual({
      status: 201,
      statusText: 'Made',
      ok: true,
      url: `${url}/v1/chat?x=1`,
      type: 'application/json',
      cookies: ['a=1', 'b=2'],
    });
    expect(await response.json()).toEqual({ ok: 'été' });
  });

  it('hands the body over piece by piece as it arrives', async () => {
    let finish: (() => void) | undefined;
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: one\n\n');
      finish = () => response.end('data: two\n\n');
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    const reader = response.body?.getReader();
    if (!reader) throw new Error('no body');
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: one\n\n');
    // The rest has not been sent yet: the first piece came on its own.
    finish?.();
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      rest += new TextDecoder().decode(next.value);
    }
    expect(rest).toBe('data: two\n\n');
  });

  it.each([
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
  ] as const)('decodes a %s body as fetch does', async (coding, compress) => {
    const text = JSON.stringify({ choices: [{ text: 'x'.repeat(2_000) }] });
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-encoding': coding, 'content-type': 'application/json' });
      response.end(compress(Buffer.from(text)));
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    expect(await response.text()).toBe(text);
  });

  it('lets go of the connection when a compressed body is cancelled', async () => {
    const closed: Promise<unknown>[] = [];
    const { url } = await serve((response) => {
      closed.push(once(response, 'close'));
      response.writeHead(200, { 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(response);
      gzip.write('data: one\n\n');
      gzip.flush();
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    const reader = response.body?.getReader();
    if (!reader) throw new Error('no body');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n');
    await reader.cancel();
    // The server's response closes: the socket went, not left half-read in the pool.
    await closed[0];
    expect(closed).toHaveLength(1);
  });

  it('fails a body that claims a coding it does not have', async () => {
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.end('not gzip at all');
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    await expect(response.text()).rejects.toThrow();
  });

  it('decodes a body coded twice, and a gzip body cut short as far as it goes', async () => {
    const text = 'data: one\n\n'.repeat(50);
    const { url } = await serve((response, request) => {
      if (request.body === 'twice') {
        response.writeHead(200, { 'content-encoding': 'gzip, br' });
        response.end(brotliCompressSync(gzipSync(Buffer.from(text))));
      } else {
        response.writeHead(200, { 'content-encoding': 'gzip' });
        const whole = gzipSync(Buffer.from(text));
        // Without the trailer (checksum and length): fetch decodes what is there.
        response.end(whole.subarray(0, whole.length - 8));
      }
    });
    const twice = await modelFetch(url, { method: 'POST', body: 'twice' });
    const cut = await modelFetch(url, { method: 'POST', body: 'cut' });
    expect([await twice.text(), await cut.text()]).toEqual([text, text]);
  });

  it('passes a body in a coding it does not know as sent', async () => {
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-encoding': 'zstd-unknown' });
      response.end('as sent');
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    expect(await response.text()).toBe('as sent');
  });

  it("hands Keel's readers the Node stream under an unread body, and locks the web one", async () => {
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.end(gzipSync(Buffer.from('data: one\n\n')));
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    const body = responseBody(response);
    expect(body).not.toBeInstanceOf(ReadableStream);
    expect(response.body?.locked).toBe(true);
    let text = '';
    for await (const piece of body as AsyncIterable<Uint8Array>)
      text += new TextDecoder().decode(piece);
    expect(text).toBe('data: one\n\n');
    // Handed over once: asked again, the (locked) web stream is what there is.
    expect(responseBody(response)).toBe(response.body);
  });

  it('leaves a body already being read, or not made here, as its web stream', async () => {
    const { url } = await serve((response) => response.end('ok'));
    const started = await modelFetch(url, { method: 'POST', body: '{}' });
    const reader = started.body?.getReader();
    expect(responseBody(started)).toBe(started.body);
    expect(new TextDecoder().decode((await reader?.read())?.value)).toBe('ok');
    const elsewhere = new Response('made elsewhere');
    expect(responseBody(elsewhere)).toBe(elsewhere.body);
  });

  it('keeps the Node stream for the web stream once the reply is cloned', async () => {
    const text = 'data: one\n\n'.repeat(20);
    const { url } = await serve((response) => response.end(text));
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    const copy = response.clone();
    const body = responseBody(response);
    // Both copies read the one Node stream through the web stream: neither may take it alone.
    expect(body).toBeInstanceOf(ReadableStream);
    const read = await new Response(body as ReadableStream<Uint8Array>).text();
    expect([read, await copy.text()]).toEqual([text, text]);
  });

  it.each([
    ['a reply dropped unread', {}],
    ['a reply Keel was to read but dropped', BODY_READ_BY_KEEL],
  ])('lets go of the connection of %s, once it is collected', async (_case, options) => {
    const closed: Promise<unknown>[] = [];
    const { url } = await serve((response) => {
      closed.push(once(response, 'close'));
      response.writeHead(200);
      response.write('data: one\n\n');
    });
    // In a frame of its own: a suspended test function would keep the reply in its registers.
    await sendAndDrop(url, options);
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    let gone = false;
    void closed[0]?.then(() => (gone = true));
    await waitFor(() => {
      collect();
      return gone;
    });
  });

  it('makes no web stream for a successful reply Keel reads itself, and hands its body over once', async () => {
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' });
      response.end(gzipSync(Buffer.from('data: one\n\n')));
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}', ...BODY_READ_BY_KEEL });
    expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: null });
    const body = responseBody(response);
    expect(body).not.toBeNull();
    let text = '';
    for await (const piece of body as AsyncIterable<Uint8Array>)
      text += new TextDecoder().decode(piece);
    expect(text).toBe('data: one\n\n');
    expect(responseBody(response)).toBeNull();
  });

  it('keeps the web stream of a failed reply Keel reads itself: the SDK reads its error', async () => {
    const { url } = await serve((response) => {
      response.writeHead(429, { 'content-type': 'application/json' });
      response.end('{"error":{"message":"slow down"}}');
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}', ...BODY_READ_BY_KEEL });
    expect({ status: response.status, text: await response.text() }).toEqual({
      status: 429,
      text: '{"error":{"message":"slow down"}}',
    });
  });

  it.each([
    [
      'OpenAI',
      async (url: string) =>
        new OpenAI({
          baseURL: url,
          apiKey: 'unused',
          maxRetries: 0,
          fetch: modelFetch,
        }).chat.completions
          .create(
            { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
            { fetchOptions: BODY_READ_BY_KEEL },
          )
          .asResponse(),
    ],
    [
      'Anthropic',
      async (url: string) =>
        new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0, fetch: modelFetch }).messages
          .create(
            {
              model: 'm',
              max_tokens: 10,
              messages: [{ role: 'user', content: 'hi' }],
              stream: true,
            },
            { fetchOptions: BODY_READ_BY_KEEL },
          )
          .asResponse(),
    ],
  ])("reaches this fetch through the %s SDK's request options", async (_sdk, call) => {
    const { url } = await serve((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('data: one\n\n');
    });
    const response = await call(url);
    expect(response.body).toBeNull();
    let text = '';
    for await (const piece of responseBody(response) as AsyncIterable<Uint8Array>)
      text += new TextDecoder().decode(piece);
    expect(text).toBe('data: one\n\n');
  });

  it('keeps a body handed over readable once its reply is collected', async () => {
    const replies: ServerResponse[] = [];
    const { url } = await serve((response) => {
      replies.push(response);
      response.writeHead(200);
      response.write('data: one\n\n');
    });
    // The reply is dropped in a frame of its own: only the Node stream handed over is kept.
    const body = await handOverAndDrop(url);
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    for (let round = 0; round < 10; round++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    replies[0]?.end('data: two\n\n');
    let text = '';
    for await (const piece of body) text += new TextDecoder().decode(piece);
    expect(text).toBe('data: one\n\ndata: two\n\n');
  });

  it('answers a status without a body with a null body', async () => {
    const { url } = await serve((response) => {
      response.writeHead(204);
      response.end();
    });
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    expect({ status: response.status, body: response.body }).toEqual({ status: 204, body: null });
  });

  it('keeps the connection for the next request', async () => {
    const { url, seen } = await serve((response) => {
      response.end('ok');
    });
    for (let index = 0; index < 3; index++) {
      await (await modelFetch(url, { method: 'POST', body: String(index) })).text();
    }
    expect(new Set(seen.map((request) => request.remotePort)).size).toBe(1);
  });

  it('fails with the abort reason when aborted before the answer, and the server sees it go', async () => {
    const closed: Promise<unknown>[] = [];
    const { url } = await serve((response) => {
      closed.push(once(response, 'close'));
    });
    const controller = new AbortController();
    const call = rejection(
      modelFetch(url, { method: 'POST', body: '{}', signal: controller.signal }),
    );
    await waitFor(() => closed.length === 1);
    controller.abort();
    const error = await call;
    expect(error).toMatchObject({ name: 'AbortError' });
    await closed[0];
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('fails at once with the abort reason when the signal is already aborted', async () => {
    const { url, seen } = await serve((response) => response.end('ok'));
    const reason = new Error('run cancelled');
    const error = await rejection(
      modelFetch(url, { method: 'POST', body: '{}', signal: AbortSignal.abort(reason) }),
    );
    expect(error).toBe(reason);
    // A request sent after it arrives alone: the aborted one never went out.
    await (await modelFetch(url, { method: 'POST', body: 'later' })).text();
    expect(seen.map((request) => request.body)).toEqual(['later']);
  });

  it.each([
    ['the web stream', (response: Response) => readPieces(response.body)],
    ['the Node stream handed over', (response: Response) => readPieces(responseBody(response))],
  ])('fails the reads of %s with the abort reason when aborted mid-body', async (_case, pieces) => {
    const { url } = await serve((response) => {
      response.writeHead(200);
      response.write('data: one\n\n');
    });
    const controller = new AbortController();
    const response = await modelFetch(url, {
      method: 'POST',
      body: '{}',
      signal: controller.signal,
    });
    const next = pieces(response);
    await next();
    controller.abort();
    expect(await rejection(next())).toMatchObject({ name: 'AbortError' });
  });

  it('stops listening on the signal once the body is read', async () => {
    const { url } = await serve((response) => response.end('ok'));
    const controller = new AbortController();
    const response = await modelFetch(url, {
      method: 'POST',
      body: '{}',
      signal: controller.signal,
    });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await response.text();
    await waitFor(() => getEventListeners(controller.signal, 'abort').length === 0);
  });

  it('rejects a refused connection with its cause', async () => {
    // Nothing listens on port 1.
    const error = await rejection(modelFetch('http://127.0.0.1:1/', { method: 'POST' }));
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects a header value fetch would refuse, without sending anything', async () => {
    const { url, seen } = await serve((response) => response.end());
    const error = await rejection(
      modelFetch(url, { method: 'POST', headers: { 'x-bad': 'a\nb' }, body: '{}' }),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('rejects an answer a Response cannot hold instead of throwing in an event handler', async () => {
    const url = await rawHttp('HTTP/1.1 600 Odd\r\ncontent-length: 2\r\n\r\nhi');
    const error = await rejection(modelFetch(url, { method: 'POST', body: '{}' }));
    expect(error).toBeInstanceOf(RangeError);
  });

  it('keeps the status of an answer whose status text a Response cannot hold', async () => {
    const url = await rawHttp('HTTP/1.1 200 O\x01K\r\ncontent-length: 2\r\n\r\nhi');
    const response = await modelFetch(url, { method: 'POST', body: '{}' });
    expect([response.status, response.statusText, await response.text()]).toEqual([200, '', 'hi']);
  });

  it('fails a call answered with 101 instead of leaving it pending', async () => {
    const url = await rawHttp(
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n',
    );
    const controller = new AbortController();
    const error = await rejection(
      modelFetch(url, { method: 'POST', body: '{}', signal: controller.signal }),
    );
    expect(error).toMatchObject({ message: 'the connection closed before a response came' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('leaves a redirect to fetch, which sends the request again and follows it', async () => {
    const { url, seen } = await serve((response, request) => {
      if (request.url === '/old') {
        response.writeHead(307, { location: '/new' });
        response.end();
      } else {
        response.end(`moved: ${request.body}`);
      }
    });
    const response = await modelFetch(`${url}/old`, { method: 'POST', body: 'hello' });
    expect(await response.text()).toBe('moved: hello');
    // The first answer was only the redirect; fetch starts over and follows it as the standard says.
    expect(seen.map((request) => [request.method, request.url, request.body])).toEqual([
      ['POST', '/old', 'hello'],
      ['POST', '/old', 'hello'],
      ['POST', '/new', 'hello'],
    ]);
    expect(response.url).toBe(`${url}/new`);
  });

  it('leaves a request with options it does not carry out to fetch', async () => {
    const { url, seen } = await serve((response) => {
      response.writeHead(307, { location: '/new' });
      response.end();
    });
    // `redirect: 'manual'` is fetch's to honour: the redirect comes back as it is.
    const response = await modelFetch(url, { method: 'POST', body: '{}', redirect: 'manual' });
    expect(response.status).toBe(307);
    expect(seen[0]?.headers['sec-fetch-mode']).toBe('cors');
  });

  it('leaves a body that is not text or bytes to fetch', async () => {
    const { url, seen } = await serve((response) => response.end('ok'));
    await (await modelFetch(url, { method: 'POST', body: new URLSearchParams({ a: '1' }) })).text();
    expect(seen[0]).toMatchObject({ body: 'a=1' });
    expect(seen[0]?.headers['sec-fetch-mode']).toBe('cors');
  });

  it.each([
    [
      'a framing header',
      'http://127.0.0.1:{port}/',
      { headers: { 'transfer-encoding': 'chunked' } },
    ],
    ['credentials in the URL', 'http://user:secret@127.0.0.1:{port}/', {}],
    ['a GET with a body', 'http://127.0.0.1:{port}/', { method: 'GET' }],
  ] as const)(
    'leaves a request with %s to fetch, which refuses it',
    async (_case, address, options) => {
      const { url, seen } = await serve((response) => response.end('ok'));
      const port = new URL(url).port;
      const error = await rejection(
        modelFetch(address.replace('{port}', port), { method: 'POST', body: '{}', ...options }),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(seen).toHaveLength(0);
    },
  );

  it('leaves every request to fetch once fetch is given a dispatcher with options of its own', async () => {
    const { url, seen } = await serve((response) => response.end('ok'));
    await withGlobalDispatcher(
      url,
      (Agent) => new Agent({ connect: { timeout: 5_000 } }),
      async () => {
        await (await modelFetch(url, { method: 'POST', body: 'configured' })).text();
      },
    );
    await (await modelFetch(url, { method: 'POST', body: 'plain' })).text();
    expect(seen.map((request) => [request.body, request.headers['sec-fetch-mode']])).toEqual([
      ['fetch', 'cors'],
      ['configured', 'cors'],
      // Node's fetch made its own plain dispatcher at its first use: that one changes nothing.
      ['plain', undefined],
    ]);
  });

  it('leaves every request to fetch once fetch is given an Agent with a connection factory', async () => {
    const { url, seen } = await serve((response) => response.end('ok'));
    const error = await withGlobalDispatcher(
      url,
      (Agent) =>
        new Agent({
          factory: () => {
            throw new Error('connections come from elsewhere');
          },
        }),
      () => rejection(modelFetch(url, { method: 'POST', body: 'factory' })),
    );
    // fetch used the factory and failed; a direct connection would have reached the server.
    expect(error).toBeInstanceOf(TypeError);
    expect(seen.map((request) => request.body)).toEqual(['fetch']);
  });

  it.each([
    [
      'runs with --use-env-proxy',
      'NODE_OPTIONS',
      `${process.env.NODE_OPTIONS ?? ''} --use-env-proxy`,
    ],
    ['is told to use the proxy environment', 'NODE_USE_ENV_PROXY', '1'],
  ])('leaves every request to fetch when Node %s', async (_case, variable, value) => {
    const { url, seen } = await serve((response) => response.end('ok'));
    const before = process.env[variable];
    process.env[variable] = value;
    try {
      await (await modelFetch(url, { method: 'POST', body: '{}' })).text();
    } finally {
      if (before === undefined) Reflect.deleteProperty(process.env, variable);
      else process.env[variable] = before;
    }
    expect(seen[0]?.headers['sec-fetch-mode']).toBe('cors');
  });
});

type AgentClass = new (options: object) => object;

/**
 * Runs `during` with undici's global dispatcher set to what `make` builds from the class of the
 * plain one Node's fetch makes at its first use (a request to `url`, body `fetch`), then puts
 * that one back.
 */
async function withGlobalDispatcher<T>(
  url: string,
  make: (Agent: AgentClass) => object,
  during: () => Promise<T>,
): Promise<T> {
  await (await fetch(url, { method: 'POST', body: 'fetch' })).text();
  const key = Symbol.for('undici.globalDispatcher.1');
  const global = globalThis as Record<symbol, unknown>;
  const plain = global[key] as { constructor: AgentClass };
  global[key] = make(plain.constructor);
  try {
    return await during();
  } finally {
    global[key] = plain;
  }
}

/** Reads a body a piece at a call, whichever kind it is. */
function readPieces(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null,
): () => Promise<unknown> {
  if (body === null) throw new Error('no body');
  if ('getReader' in body) {
    const reader = body.getReader();
    return () => reader.read();
  }
  const iterator = body[Symbol.asyncIterator]();
  return () => iterator.next();
}

async function sendAndDrop(url: string, options: RequestInit = {}): Promise<void> {
  await modelFetch(url, { method: 'POST', body: '{}', ...options });
}

async function handOverAndDrop(url: string): Promise<AsyncIterable<Uint8Array>> {
  const body = responseBody(
    await modelFetch(url, { method: 'POST', body: '{}', ...BODY_READ_BY_KEEL }),
  );
  if (body === null || !(Symbol.asyncIterator in body) || body instanceof ReadableStream)
    throw new Error('no Node stream handed over');
  return body;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(condition()).toBe(true);
}
