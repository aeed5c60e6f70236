import { afterEach, describe, expect, it } from 'vitest';
import { TRUSTED_TASK } from '../core/index.js';
import {
  startFakeAnthropicServer,
  type FakeAnthropicRequestBody,
  type FakeAnthropicServer,
} from '../testing/fake-anthropic-server.js';
import {
  startFakeOpenAIServer,
  type FakeChatRequestBody,
  type FakeOpenAIServer,
} from '../testing/fake-openai-server.js';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  aiSdkModel,
  anthropicMessages,
  openaiChat,
  simulator,
  type ModelRequest,
} from './index.js';

const servers: (FakeOpenAIServer | FakeAnthropicServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const request: ModelRequest = {
  system: 'You are terse.',
  messages: [
    { role: 'user', parts: [{ type: 'text', text: 'Where is 42?', provenance: TRUSTED_TASK }] },
  ],
  tools: [],
};

const TEXT = 'Order 42 shipped on Tuesday; it arrives Friday.';

/** Calls the model, recording each delta and whether the call had settled when it came. */
async function callWithDeltas(model: ReturnType<typeof openaiChat>) {
  const deltas: string[] = [];
  let settled = false;
  let lateDeltas = 0;
  const response = await model
    .doGenerate(request, {
      onTextDelta: (text) => {
        if (settled) lateDeltas += 1;
        deltas.push(text);
      },
    })
    .finally(() => {
      settled = true;
    });
  return { response, deltas, lateDeltas };
}

describe('openaiChat text deltas', () => {
  async function setup(stream?: boolean) {
    const bodies: FakeChatRequestBody[] = [];
    const server = await startFakeOpenAIServer({
      respond: ({ body }) => {
        bodies.push(body);
        return { content: TEXT, usage: { promptTokens: 40, completionTokens: 12 } };
      },
    });
    servers.push(server);
    const model = openaiChat({
      model: 'gpt-test',
      baseURL: server.url,
      apiKey: 'k',
      ...(stream === undefined ? {} : { stream }),
    });
    return { model, bodies };
  }

  it('streams when a caller listens: the deltas, in order, are the reply, usage unchanged', async () => {
    const { model, bodies } = await setup();
    const { response, deltas, lateDeltas } = await callWithDeltas(model);
    expect({
      joined: deltas.join(''),
      pieces: deltas.length > 1,
      lateDeltas,
      streamed: bodies[0]?.stream,
      response,
    }).toEqual({
      joined: TEXT,
      pieces: true,
      lateDeltas: 0,
      streamed: true,
      response: {
        content: [{ type: 'text', text: TEXT }],
        usage: { inputTokens: 40, outputTokens: 12, cacheReadTokens: 0, reasoningTokens: 0 },
        finishReason: 'stop',
        responseId: 'chatcmpl-fake0',
        responseModel: 'gpt-test',
      },
    });
  });

  it('asks for one JSON body when nobody listens, and never streams with stream: false', async () => {
    const quiet = await setup();
    await quiet.model.doGenerate(request, {});
    const off = await setup(false);
    const { deltas, response } = await callWithDeltas(off.model);
    expect({
      quiet: quiet.bodies[0]?.stream ?? false,
      off: off.bodies[0]?.stream ?? false,
      deltas,
      text: response.content,
    }).toEqual({ quiet: false, off: false, deltas: [], text: [{ type: 'text', text: TEXT }] });
  });
});

describe('anthropicMessages text deltas', () => {
  async function setup(stream?: boolean) {
    const bodies: FakeAnthropicRequestBody[] = [];
    const server = await startFakeAnthropicServer({
      respond: ({ body }) => {
        bodies.push(body);
        return { text: TEXT, usage: { inputTokens: 30, outputTokens: 11 } };
      },
    });
    servers.push(server);
    const model = anthropicMessages({
      model: 'claude-test',
      baseURL: server.url,
      apiKey: 'k',
      ...(stream === undefined ? {} : { stream }),
    });
    return { model, bodies };
  }

  it('streams when a caller listens: the deltas, in order, are the reply, usage unchanged', async () => {
    const { model, bodies } = await setup();
    const { response, deltas, lateDeltas } = await callWithDeltas(model);
    const plain = await (await setup(false)).model.doGenerate(request, {});
    expect({
      joined: deltas.join(''),
      pieces: deltas.length > 1,
      lateDeltas,
      streamed: bodies[0]?.stream,
      usage: response.usage,
      finishReason: response.finishReason,
    }).toEqual({
      joined: TEXT,
      pieces: true,
      lateDeltas: 0,
      streamed: true,
      usage: plain.usage,
      finishReason: plain.finishReason,
    });
  });

  it('asks for one JSON body when nobody listens, and never streams with stream: false', async () => {
    const quiet = await setup();
    await quiet.model.doGenerate(request, {});
    const off = await setup(false);
    const { deltas } = await callWithDeltas(off.model);
    expect({
      quiet: quiet.bodies[0]?.stream ?? false,
      off: off.bodies[0]?.stream ?? false,
      deltas,
    }).toEqual({ quiet: false, off: false, deltas: [] });
  });
});

describe('aiSdkModel text deltas', () => {
  async function setup(stream: boolean | undefined) {
    const bodies: FakeChatRequestBody[] = [];
    const server = await startFakeOpenAIServer({
      respond: ({ body }) => {
        bodies.push(body);
        return { content: TEXT, usage: { promptTokens: 40, completionTokens: 12 } };
      },
    });
    servers.push(server);
    const provider = createOpenAICompatible({
      name: 'local',
      baseURL: server.url,
      apiKey: 'k',
      includeUsage: true,
    });
    const model = aiSdkModel(
      provider.chatModel('llama-test'),
      stream === undefined ? {} : { stream },
    );
    return { model, bodies };
  }

  it('streams with stream: true: the deltas are the reply, usage and finish as doGenerate gives', async () => {
    const { model, bodies } = await setup(true);
    const { response, deltas, lateDeltas } = await callWithDeltas(model);
    const plain = await (await setup(undefined)).model.doGenerate(request, {});
    expect({
      joined: deltas.join(''),
      pieces: deltas.length > 1,
      lateDeltas,
      streamed: bodies[0]?.stream,
      content: response.content,
      usage: response.usage,
      finishReason: response.finishReason,
    }).toEqual({
      joined: TEXT,
      pieces: true,
      lateDeltas: 0,
      streamed: true,
      content: plain.content,
      usage: { ...plain.usage, cacheReadTokens: 0, reasoningTokens: 0 },
      finishReason: plain.finishReason,
    });
  });

  it('calls doGenerate by default, a listener or not', async () => {
    const { model, bodies } = await setup(undefined);
    const { deltas } = await callWithDeltas(model);
    expect({ streamed: bodies[0]?.stream ?? false, deltas }).toEqual({
      streamed: false,
      deltas: [],
    });
  });
});

describe('simulator text deltas', () => {
  it('sends each text turn in pieces of streamChunkChars, and the same response', async () => {
    const model = simulator({ script: [{ text: TEXT }], streamChunkChars: 10 });
    const { response, deltas } = await callWithDeltas(model);
    const quiet = await simulator({ script: [{ text: TEXT }] }).doGenerate(request, {});
    expect({ deltas, response }).toEqual({
      deltas: [
        TEXT.slice(0, 10),
        TEXT.slice(10, 20),
        TEXT.slice(20, 30),
        TEXT.slice(30, 40),
        TEXT.slice(40),
      ],
      response: quiet,
    });
  });

  it('fails at definition naming the field for a bad chunk size or delay', () => {
    expect(() => simulator({ script: [], streamChunkChars: 0 })).toThrow(/"streamChunkChars"/);
    expect(() => simulator({ script: [], streamChunkDelayMs: -1 })).toThrow(/"streamChunkDelayMs"/);
  });
});
