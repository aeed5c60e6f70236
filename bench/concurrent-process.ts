// Runs one concurrency burst in a fresh process and prints its result as JSON on stdout.
// Usage: node --expose-gc concurrent-process.js '<BurstOptions as JSON>'
import { measureBurst, type BurstOptions } from './concurrent-burst.js';

const options = JSON.parse(process.argv[2] ?? '{}') as BurstOptions;
const result = await measureBurst(options);
process.stdout.write(`${JSON.stringify(result)}\n`);
