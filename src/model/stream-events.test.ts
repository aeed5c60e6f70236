import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TRUSTED_TASK } from '../core/index.js';
import { ModelCallError } from './model-adapter.js';
import type { ModelRequest } from './index.js';
import { openaiChat } from './openai-adapter.js';

/*
 * A server that ignores `stream: true` and answers one JSON body: the streamed call must not
 * read it as an empty answer.
 */

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const COMPLETION = {
  id: 'c1',
  object: 'chat.completion',
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

async function jsonOnlyServer(): Promise<string> {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(COMPLETION));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${String((server?.address() as AddressInfo).port)}/v1`;
}

const REQUEST: ModelRequest = {
  system: '',
  messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi', provenance: TRUSTED_TASK }] }],
  tools: [],
};

describe('openaiChat streaming from a server that does not stream', () => {
  it('fails typed, naming stream: false, instead of an empty answer', async () => {
    const model = openaiChat({ model: 'm', baseURL: await jsonOnlyServer(), apiKey: 'k' });
    const error = await model
      .doGenerate(REQUEST, { onTextDelta: () => undefined })
      .catch((caught: unknown) => caught);
    expect(ModelCallError.isInstance(error) && error.type).toBe('malformed_response');
    expect((error as Error).message).toContain('stream: false');
  });

  it('reads the same server with stream: false', async () => {
    const model = openaiChat({
      model: 'm',
      baseURL: await jsonOnlyServer(),
      apiKey: 'k',
      stream: false,
    });
    const response = await model.doGenerate(REQUEST, { onTextDelta: () => undefined });
    expect([response.content, response.usage.inputTokens]).toEqual([
      [{ type: 'text', text: 'hello' }],
      3,
    ]);
  });
});
