// Adapter overhead per call: Keel's provider adapter (`doGenerate`: request translation,
// deadline, response validation, usage normalisation) against the same SDK client called
// directly with the same parameters, both against a fake provider server in a child process.
// The raw clients are given Keel's transport (`modelFetch`), as the adapters' clients are, so
// the rows measure the adapter's own work; one more row measures the transport against Node's
// `fetch`, the raw SDK call both ways. Calls run in back-to-back pairs so machine noise hits
// both alike.
import { spawn } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { TRUSTED_TASK } from '../src/core/index.js';
import { modelFetch } from '../src/model/index.js';
import {
  anthropicMessages,
  openaiChat,
  type ModelAdapterV1,
  type ModelRequest,
} from '../src/index.js';
import { benchScript } from './child-processes.js';
import { median, round } from './stats.js';

export interface AdapterOverheadCase {
  readonly name: string;
  /** Median per-call time of the raw SDK call (for the transport row: over Node's fetch). */
  readonly rawMsPerCall: number;
  /** Median per-call time of the adapter's `doGenerate` (the transport row: over Keel's). */
  readonly adapterMsPerCall: number;
  /** Median over pairs of (adapter − raw). */
  readonly overheadMsPerCall: number;
  readonly calls: number;
  /** What the two sides are called in the printed line: the adapter's, then the raw one's. */
  readonly sides: readonly [string, string];
}

export interface AdapterOverheadOptions {
  /** Raw and adapter calls measured back to back. */
  readonly pairs: number;
  readonly warmupCalls: number;
}

const REQUEST: ModelRequest = {
  system: 'You answer order questions. Quote the order id.',
  messages: [
    {
      role: 'user',
      parts: [
        { type: 'text', text: 'Where is order A-1? It was due Tuesday.', provenance: TRUSTED_TASK },
      ],
    },
  ],
  tools: [
    {
      name: 'lookup',
      description: 'Look an order up by id.',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    },
  ],
  maxOutputTokens: 256,
};

async function spawnProvider(
  provider: 'openai' | 'anthropic',
): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, [benchScript('provider-server-process.js'), provider], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline !== -1) resolve(text.slice(0, newline).trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`provider server exited early (code ${String(code)})`));
    });
  });
  return {
    url,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const startedAt = performance.now();
  await call();
  return performance.now() - startedAt;
}

async function compare(
  name: string,
  raw: () => Promise<unknown>,
  adapter: ModelAdapterV1 | (() => Promise<unknown>),
  { pairs, warmupCalls }: AdapterOverheadOptions,
  sides: readonly [string, string] = ['adapter', 'raw SDK'],
): Promise<AdapterOverheadCase> {
  const viaAdapter =
    typeof adapter === 'function' ? adapter : () => adapter.doGenerate(REQUEST, {});
  for (let index = 0; index < warmupCalls; index += 1) {
    await raw();
    await viaAdapter();
  }
  const rawTimes: number[] = [];
  const adapterTimes: number[] = [];
  const differences: number[] = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    // Calls are paired and the order alternates, so a slow moment on a shared machine hits
    // both sides of a pair and neither side more often.
    const rawFirst = pair % 2 === 0;
    const first = await timed(rawFirst ? raw : viaAdapter);
    const second = await timed(rawFirst ? viaAdapter : raw);
    const [rawMs, adapterMs] = rawFirst ? [first, second] : [second, first];
    rawTimes.push(rawMs);
    adapterTimes.push(adapterMs);
    differences.push(adapterMs - rawMs);
  }
  return {
    name,
    rawMsPerCall: round(median(rawTimes)),
    adapterMsPerCall: round(median(adapterTimes)),
    overheadMsPerCall: round(median(differences)),
    calls: pairs * 2,
    sides,
  };
}

/**
 * Measures the four adapter paths (OpenAI and Anthropic, each JSON and SSE), then the raw
 * OpenAI JSON call over Keel's transport against the same call over Node's fetch.
 */
export async function measureAdapterOverhead(
  options: AdapterOverheadOptions,
): Promise<AdapterOverheadCase[]> {
  const openaiServer = await spawnProvider('openai');
  const anthropicServer = await spawnProvider('anthropic');
  try {
    const openaiClient = new OpenAI({
      baseURL: openaiServer.url,
      apiKey: 'bench',
      maxRetries: 0,
      fetch: modelFetch,
    });
    const openaiFetchClient = new OpenAI({
      baseURL: openaiServer.url,
      apiKey: 'bench',
      maxRetries: 0,
    });
    const openaiParams = {
      model: 'gpt-bench',
      messages: [
        { role: 'system' as const, content: REQUEST.system },
        { role: 'user' as const, content: 'Where is order A-1? It was due Tuesday.' },
      ],
      tools: REQUEST.tools.map((tool) => ({
        type: 'function' as const,
        function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
      })),
      max_completion_tokens: 256,
    };
    const anthropicClient = new Anthropic({
      baseURL: anthropicServer.url,
      apiKey: 'bench',
      maxRetries: 0,
      fetch: modelFetch,
      openTelemetry: false,
    });
    const anthropicParams = {
      model: 'claude-bench',
      max_tokens: 256,
      system: [
        {
          type: 'text' as const,
          text: REQUEST.system,
          cache_control: { type: 'ephemeral' as const },
        },
      ],
      messages: [{ role: 'user' as const, content: 'Where is order A-1? It was due Tuesday.' }],
      tools: REQUEST.tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        input_schema: { type: 'object' as const, ...tool.inputSchema },
      })),
    };
    const results: AdapterOverheadCase[] = [];
    results.push(
      await compare(
        'openai chat completions (JSON)',
        () => openaiClient.chat.completions.create(openaiParams),
        openaiChat({ model: 'gpt-bench', baseURL: openaiServer.url, apiKey: 'bench' }),
        options,
      ),
    );
    results.push(
      await compare(
        'openai chat completions (SSE)',
        async () => {
          const stream = await openaiClient.chat.completions.create({
            ...openaiParams,
            stream: true,
            stream_options: { include_usage: true },
          });
          let chunks = 0;
          for await (const chunk of stream) if (chunk.choices.length > 0) chunks += 1;
          return chunks;
        },
        openaiChat({
          model: 'gpt-bench',
          baseURL: openaiServer.url,
          apiKey: 'bench',
          stream: true,
        }),
        options,
      ),
    );
    results.push(
      await compare(
        'anthropic messages (JSON)',
        () => anthropicClient.messages.create(anthropicParams),
        anthropicMessages({ model: 'claude-bench', baseURL: anthropicServer.url, apiKey: 'bench' }),
        options,
      ),
    );
    results.push(
      await compare(
        'anthropic messages (SSE)',
        async () => {
          const stream = await anthropicClient.messages.create({
            ...anthropicParams,
            stream: true,
          });
          let events = 0;
          for await (const event of stream) if (event.type !== 'message_stop') events += 1;
          return events;
        },
        anthropicMessages({
          model: 'claude-bench',
          baseURL: anthropicServer.url,
          apiKey: 'bench',
          stream: true,
        }),
        options,
      ),
    );
    results.push(
      await compare(
        "Keel's transport over Node's fetch",
        () => openaiFetchClient.chat.completions.create(openaiParams),
        () => openaiClient.chat.completions.create(openaiParams),
        options,
        ["Keel's", 'fetch'],
      ),
    );
    return results;
  } finally {
    openaiServer.stop();
    anthropicServer.stop();
  }
}

/** The human-readable lines. */
export function renderAdapterOverhead(cases: readonly AdapterOverheadCase[]): string {
  const lines = [
    "Adapter overhead per call over the raw SDK call, both on Keel's transport (fake provider server in a child process)",
  ];
  for (const entry of cases) {
    lines.push(
      `  ${entry.name.padEnd(34)} overhead ${entry.overheadMsPerCall.toFixed(3)} ms/call  (${entry.sides[0]} ${entry.adapterMsPerCall.toFixed(3)} ms, ${entry.sides[1]} ${entry.rawMsPerCall.toFixed(3)} ms; ${entry.calls} calls)`,
    );
  }
  return lines.join('\n');
}
