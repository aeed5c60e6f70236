import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent, type Agent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { openStore } from '../store/index.js';
import { storeLocations } from '../store/__tests__/store-locations.js';
import { approverGroups, runDoctor, type DoctorCheck, type DoctorInputs } from './doctor-checks.js';
import { inspectStore, type StoreInspection } from './doctor-store.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-doctor-'));
const storeUrl = `sqlite:${join(directory, 'keel.db')}`;
let otlp: Server;
let otlpPort = 0;

beforeAll(async () => {
  const store = await openStore(storeUrl);
  await store.approvals.addApprover({
    id: 'apv_1',
    tokenHash: 'hash-1',
    name: 'fiona',
    groups: ['finance'],
    createdAt: 1,
  });
  await store.approvals.addApprover({
    id: 'apv_2',
    tokenHash: 'hash-2',
    name: 'victor',
    groups: ['finance-leads'],
    role: 'viewer',
    createdAt: 1,
  });
  await store.close();
  otlp = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => otlp.listen(0, '127.0.0.1', resolve));
  otlpPort = (otlp.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => otlp.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

const script = { script: [{ text: 'done' }] };

function agent(overrides: Partial<Parameters<typeof defineAgent>[0]> = {}): Agent {
  return defineAgent({
    name: 'refunds',
    model: simulator(script),
    instructions: 'Refund.',
    ...overrides,
  });
}

async function doctor(overrides: Partial<DoctorInputs> = {}): Promise<Record<string, DoctorCheck>> {
  const checks = await runDoctor({
    storeUrl,
    inspectStore,
    loadAgents: () => Promise.resolve({ agents: [agent()], source: 'test' }),
    env: {},
    ...overrides,
  });
  return Object.fromEntries(checks.map((check) => [check.check, check]));
}

describe('keel doctor', () => {
  it('passes a migrated store with simulator agents, and skips what is not configured', async () => {
    const checks = await doctor();
    expect(Object.values(checks).map((check) => [check.check, check.status])).toEqual([
      ['store', 'ok'],
      ['agents', 'ok'],
      ['keys', 'ok'],
      ['prices', 'ok'],
      ['otlp', 'skipped'],
      ['approvers', 'ok'],
      ['clock', 'skipped'],
    ]);
  });

  it('fails the store check when the store does not exist, and does not create it', async () => {
    const missing = `sqlite:${join(directory, 'nowhere', 'keel.db')}`;
    const checks = await doctor({ storeUrl: missing });
    expect(checks.store?.status).toBe('failed');
    expect(checks.store?.detail).toContain('no SQLite store');
    await expect(inspectStore(missing)).rejects.toMatchObject({ code: 'not_found' });
    expect(existsSync(join(directory, 'nowhere'))).toBe(false);
  });

  it('fails the store check when migrations are missing, naming them', async () => {
    const inspection = await inspectStore(storeUrl);
    const behind: StoreInspection = { ...inspection, applied: inspection.applied.slice(0, -1) };
    const checks = await doctor({ inspectStore: () => Promise.resolve(behind) });
    expect(checks.store?.status).toBe('failed');
    expect(checks.store?.detail).toContain(inspection.applied.at(-1));
  });

  it('fails when the agents cannot be loaded, and skips what needs them', async () => {
    const checks = await doctor({
      loadAgents: () => Promise.reject(new Error('keel.config.ts: boom')),
    });
    expect(checks.agents).toEqual({
      check: 'agents',
      status: 'failed',
      detail: 'keel.config.ts: boom',
    });
    expect(checks.keys?.status).toBe('skipped');
  });

  it('fails the key check for KEEL_MODEL without its key, and passes with it', async () => {
    const without = await doctor({ env: { KEEL_MODEL: 'anthropic:claude-sonnet-4-6' } });
    expect(without.keys?.status).toBe('failed');
    expect(without.keys?.detail).toContain('ANTHROPIC_API_KEY');
    const withKey = await doctor({
      env: { KEEL_MODEL: 'anthropic:claude-sonnet-4-6', ANTHROPIC_API_KEY: 'sk-test' },
    });
    expect(withKey.keys).toMatchObject({
      status: 'ok',
      detail: 'present for anthropic:claude-sonnet-4-6',
    });
    expect(withKey.prices?.status).toBe('ok');
  });

  it('fails the price check for a model with no known price', async () => {
    const unpriced = agent({ model: simulator({ ...script, modelId: 'house', price: null }) });
    const checks = await doctor({
      loadAgents: () => Promise.resolve({ agents: [unpriced], source: 'test' }),
    });
    expect(checks.prices?.status).toBe('failed');
    expect(checks.prices?.detail).toContain('simulator:house');
  });

  it('reaches the OTLP endpoint when one is configured, and fails when nothing listens', async () => {
    const up = await doctor({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}` },
    });
    expect(up.otlp?.status).toBe('ok');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await doctor({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } });
    expect(down.otlp?.status).toBe('failed');
  });

  it('needs an approver (not a viewer) for every group the gates name, escalations included', async () => {
    const gated = agent({
      tools: [],
      gates: {
        approverGroup: 'finance',
        onExpiry: { escalateTo: 'finance-leads', then: 'end_run' },
      },
    });
    expect(approverGroups([gated])).toEqual(['finance', 'finance-leads']);
    const checks = await doctor({
      loadAgents: () => Promise.resolve({ agents: [gated], source: 'test' }),
    });
    expect(checks.approvers?.status).toBe('failed');
    expect(checks.approvers?.detail).toContain('"finance-leads"');
    expect(checks.approvers?.detail).not.toContain('"finance",');

    const financeOnly = agent({ gates: { approverGroup: 'finance' } });
    const passing = await doctor({
      loadAgents: () => Promise.resolve({ agents: [financeOnly], source: 'test' }),
    });
    expect(passing.approvers?.status).toBe('ok');
  });

  it('fails the clock check past the allowed skew', async () => {
    const inspection = await inspectStore(storeUrl);
    const skewed = (clockSkewMs: number) => () => Promise.resolve({ ...inspection, clockSkewMs });
    expect((await doctor({ inspectStore: skewed(150) })).clock?.status).toBe('ok');
    expect((await doctor({ inspectStore: skewed(-5_000) })).clock).toMatchObject({
      status: 'failed',
      detail: expect.stringContaining('5000 ms ahead of PostgreSQL') as unknown,
    });
  });

  it('measures the clock against PostgreSQL', async () => {
    const locations = storeLocations();
    try {
      const url = locations.postgres('doctor');
      const store = await openStore(url);
      await store.close();
      const checks = await doctor({ storeUrl: url });
      expect(checks.store?.status).toBe('ok');
      expect(checks.clock?.status).toBe('ok');
      expect(checks.clock?.detail).toContain('PostgreSQL');
    } finally {
      await locations.cleanup();
    }
  });
});
