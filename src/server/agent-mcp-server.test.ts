import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore } from '../store/index.js';
import { serveAgentsOverHttp } from './index.js';
import { DEFAULT_MAX_BODY_BYTES, MAX_TASK_CHARS } from './request-limits.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served() {
  const store = await openStore('sqlite::memory:');
  const agent = defineAgent({
    name: 'echoer',
    model: simulator({ script: ({ task }) => ({ text: `echoed: ${task.length}` }) }),
    instructions: 'Echo the task.',
  });
  const runtime = createRuntime({ store, agents: [agent] });
  const server = await serveAgentsOverHttp({ runtime, port: 0 });
  cleanups.push(async () => {
    await server.close();
    await runtime.close();
    await store.close();
  });
  const client = new Client({ name: 'test-client', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  cleanups.push(() => client.close());
  return { store, url: server.url, client };
}

/** The text of a call's error result, or of the error the call was refused with. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const outcome = await call.then(
    (result) => result as { isError?: boolean; content?: { text?: string }[] },
    (error: unknown) => ({ isError: true, content: [{ text: String(error) }] }),
  );
  expect(outcome.isError).toBe(true);
  return outcome.content?.map((part) => part.text ?? '').join('\n') ?? '';
}

/** A POST on a connection of its own, closed after the answer (the body is not read to its end). */
function post(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        connection: 'close',
      },
    });
    let status: number | undefined;
    const chunks: Buffer[] = [];
    const answered = (): void => {
      resolve({ status: status ?? 0, text: Buffer.concat(chunks).toString() });
    };
    request.on('response', (response) => {
      status = response.statusCode ?? 0;
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', answered);
      response.on('error', answered);
    });
    // The server answers before it has read the whole body and may then close the connection
    // while the rest is still being sent: once the status is in, that reset is the expected end.
    request.on('error', (error) => {
      if (status === undefined) reject(error);
      else answered();
    });
    request.end(body);
  });
}

describe('agents as MCP tools over HTTP', () => {
  it('takes the task as POST /runs does: bounded, with no other argument', async () => {
    const { store, client } = await served();
    const unknown = await refusal(
      client.callTool({ name: 'echoer', arguments: { task: 'x', bogus: 1 } }),
    );
    expect(unknown).toContain('bogus');
    const long = await refusal(
      client.callTool({ name: 'echoer', arguments: { task: 'x'.repeat(MAX_TASK_CHARS + 1) } }),
    );
    expect(long).toContain(String(MAX_TASK_CHARS));
    expect(await store.listRuns()).toEqual([]);

    const longest = await client.callTool({
      name: 'echoer',
      arguments: { task: 'x'.repeat(MAX_TASK_CHARS) },
    });
    expect(longest.structuredContent).toMatchObject({
      status: 'succeeded',
      output: `echoed: ${MAX_TASK_CHARS}`,
    });
  });

  it('answers a body over the request size limit 413 without reading it, and runs nothing', async () => {
    const { store, url } = await served();
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echoer', arguments: { task: 'x'.repeat(3 * 1024 * 1024) } },
    };
    const response = await post(url, JSON.stringify(call));
    expect(response.status).toBe(413);
    expect(response.text).toContain(String(DEFAULT_MAX_BODY_BYTES));
    expect(await store.listRuns()).toEqual([]);
  });
});
