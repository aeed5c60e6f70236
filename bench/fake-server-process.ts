// A child process that serves the fake OpenAI API, so the server's CPU time is not charged to
// the process being measured. Usage: node fake-server-process.js <latencyMs> <toolCallsPerRun>
// Prints the base URL on the first line of stdout; stops on SIGTERM or when stdin closes (the
// parent died), so it never outlives the bench.
import { startFakeOpenAIServer } from '../src/testing.js';
import { serveUntilParentGoes } from './child-server.js';

const latencyMs = Number(process.argv[2] ?? '0');
const toolCallsPerRun = Number(process.argv[3] ?? '5');
const server = await startFakeOpenAIServer({ latencyMs, toolCallsPerRun });
serveUntilParentGoes(server);
