// A child process that serves a fake provider API (openai or anthropic) with a fixed reply, so
// the server's CPU time is not charged to the process being measured.
// Usage: node provider-server-process.js <openai|anthropic>. Prints the base URL on the first
// line of stdout; stops on SIGTERM or when stdin closes (the parent died).
import { startFakeAnthropicServer, startFakeOpenAIServer } from '../src/testing.js';
import { serveUntilParentGoes } from './child-server.js';

const provider = process.argv[2];
const server =
  provider === 'anthropic'
    ? await startFakeAnthropicServer({
        respond: () => ({
          text: 'Order A-1 shipped yesterday.',
          toolUses: [{ name: 'lookup', input: { id: 'A-1' } }],
          usage: { inputTokens: 120, outputTokens: 30, cacheReadInputTokens: 400 },
        }),
      })
    : await startFakeOpenAIServer({ toolCallsPerRun: 1 });
serveUntilParentGoes(server);
