import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type Store } from './index.js';

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A stand-in for a PostgreSQL server in the middle of a restart, on its own port: first it
 * answers every connection as PostgreSQL does while it starts up (FATAL 57P03), then — once
 * `up()` is called — it passes connections through to the real server.
 */
async function restartingServer(): Promise<{
  url: string;
  up: () => void;
  refused: () => number;
  close: () => Promise<void>;
}> {
  const target = new URL(POSTGRES_URL);
  let isUp = false;
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (isUp) {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      upstream.on('error', () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
      sockets.add(upstream);
      return;
    }
    socket.once('data', () => {
      refused += 1;
      socket.end(startingUp());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const url = new URL(POSTGRES_URL);
  url.host = `127.0.0.1:${address.port}`;
  return {
    url: url.toString(),
    up: () => {
      isUp = true;
    },
    refused: () => refused,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The ErrorResponse PostgreSQL sends to a connection while it starts up. */
function startingUp(): Buffer {
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P03'),
    field('M', 'the database system is starting up'),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type), Buffer.from(value), Buffer.from([0])]);
}

async function faultOf(promise: Promise<unknown>): Promise<KeelError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!KeelError.isInstance(error)) throw new Error(`expected a KeelError, got ${String(error)}`);
  return error;
}

/** How many connections one attempt to open makes (and has refused) with no waiting. */
async function connectionsOfOneAttempt(): Promise<number> {
  const server = await restartingServer();
  try {
    await faultOf(openStore(server.url));
    return server.refused();
  } finally {
    await server.close();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('openStore({ waitMs }) on PostgreSQL', () => {
  it('waits for a server that is starting up and opens once it is up', async () => {
    const once = await connectionsOfOneAttempt();
    const server = await restartingServer();
    cleanups.push(server.close);
    const opening = openStore(server.url, { waitMs: 20_000, poolSize: 2 });
    // Up only after more refusals than one attempt makes: the store must have tried again.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (server.refused() > once) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    server.up();
    const store: Store = await opening;
    cleanups.push(() => store.close());
    expect(await store.listRuns({ limit: 1 })).toBeInstanceOf(Array);
  });

  it('fails at once without waitMs, naming the server starting up', async () => {
    const server = await restartingServer();
    cleanups.push(server.close);
    const error = await faultOf(openStore(server.url));
    expect(error.code).toBe('store_unavailable');
    expect(error.message).toContain('starting up');
    expect(error.message).not.toContain('\n');
  });

  it('gives up when the wait runs out, with the last fault', async () => {
    const once = await connectionsOfOneAttempt();
    const server = await restartingServer();
    cleanups.push(server.close);
    const error = await faultOf(openStore(server.url, { waitMs: 300 }));
    expect(error.code).toBe('store_unavailable');
    expect(error.message).toContain('starting up');
    expect(server.refused()).toBeGreaterThan(once);
  });

  it('does not wait for a fault that waiting cannot cure (a missing database)', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/keel_no_such_db';
    // A minute of waitMs: were it to wait, this test would time out.
    const error = await faultOf(openStore(url.toString(), { waitMs: 60_000 }));
    expect(error.code).toBe('store_unavailable');
    expect(error.message).toContain('keel_no_such_db');
  });

  it('rejects a negative or non-finite waitMs as invalid_config, for either store', async () => {
    const errors = await Promise.all(
      [
        openStore(POSTGRES_URL, { waitMs: -1 }),
        openStore('sqlite::memory:', { waitMs: Number.NaN }),
      ].map(faultOf),
    );
    expect(errors.map((error) => [error.code, error.message.includes('waitMs')])).toEqual([
      ['invalid_config', true],
      ['invalid_config', true],
    ]);
  });
});
