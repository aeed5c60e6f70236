// A child process that serves a fake provider API (openai or anthropic) with a fixed reply, so
// the server's CPU time is not charged to the process being measured.
// Usage: node provider-server-process.js <openai|anthropic>. Prints the base URL on the first
// line of stdout; stops on SIGTERM or when stdin closes (the parent died).
import { startFakeAnthropicServer, startFakeOpenAIServer } from '../src/testing.js';

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
process.stdout.write(`${server.url}\n`);

let stopping = false;
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
