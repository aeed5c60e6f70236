import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { listen, type Listening } from './listen.js';

const servers: Listening[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

describe('listen', () => {
  it('reports a port in use as a one-line configuration error naming it', async () => {
    const first = await listen(() => new Response('ok'), { port: 0, host: '127.0.0.1' });
    servers.push(first);
    const port = Number(new URL(first.url).port);
    const error = await listen(() => new Response('ok'), { port, host: '127.0.0.1' }).catch(
      (caught: unknown) => caught,
    );
    expect(KeelError.isInstance(error) && error.code).toBe('invalid_config');
    expect((error as Error).message).toBe(
      `127.0.0.1:${port} is already in use by another process; choose another --port`,
    );
  });
});
