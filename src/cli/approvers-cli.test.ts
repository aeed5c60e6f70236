import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argumentsHash } from '../exports/approval.js';
import { openStore } from '../index.js';
import { runKeel as keel, type CliResult } from './__tests__/keel-process.js';

/*
 * `keel approvers list|revoke|rotate`, `--expires-in`, and `keel approvals [show]` scoped to
 * the token's groups, as real processes.
 */

const directory = mkdtempSync(join(tmpdir(), 'keel-approvers-cli-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

function failure(result: CliResult, code: number): string {
  expect(result.stdout).toBe('');
  expect(result.code).toBe(code);
  expect(result.stderr).toMatch(/^keel: [^\n]+\n$/);
  return result.stderr.trim();
}

async function added(storeUrl: string, args: string[]): Promise<{ id: string; token: string }> {
  const result = await keel(storeUrl, ['approvers', 'add', ...args, '--json']);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { id: string; token: string };
}

async function park(storeUrl: string, id: string, approverGroup: string): Promise<void> {
  const store = await openStore(storeUrl);
  const args = { orderId: id };
  await store.approvals.create({
    id,
    runId: `run_${id}`,
    agent: 'refunds',
    step: 0,
    callIndex: 0,
    callId: 'call_0',
    toolName: 'issue_refund',
    args,
    argsHash: argumentsHash(args),
    gateReason: { type: 'effect', effect: 'irreversible' },
    approverGroup,
    createdAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
    onExpiry: { type: 'deny' },
  });
  await store.close();
}

describe('keel approvers', () => {
  it('lists, rotates and revokes approvers; a rotated or revoked token stops working', async () => {
    const storeUrl = `sqlite:${join(directory, 'lifecycle.db')}`;
    const ana = await added(storeUrl, ['ana', '--group', 'finance', '--expires-in', '30d']);
    expect(failure(await keel(storeUrl, ['approvers', 'add', 'ana', '--group', 'ops']), 2)).toMatch(
      /an approver named ana exists/,
    );
    expect(
      failure(
        await keel(storeUrl, ['approvers', 'add', 'bob', '--group', 'g', '--expires-in', 'soon']),
        2,
      ),
    ).toMatch(/--expires-in must be a positive duration/);
    const listed = JSON.parse((await keel(storeUrl, ['approvers', 'list', '--json'])).stdout) as {
      approvers: { id: string; name: string; expiresAt: string | null; revokedAt: null }[];
    };
    expect(listed.approvers.map(({ id, name }) => ({ id, name }))).toEqual([
      { id: ana.id, name: 'ana' },
    ]);
    expect(listed.approvers[0]?.expiresAt).not.toBeNull();
    expect(JSON.stringify(listed)).not.toContain(ana.token);

    const rotated = await keel(storeUrl, ['approvers', 'rotate', 'ana', '--json']);
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { id: string; token: string; expiresAt: null };
    expect([fresh.id, fresh.expiresAt]).toEqual([ana.id, null]);
    expect(failure(await keel(storeUrl, ['approvals'], ana.token), 2)).toBe(
      'keel: the approver token is not valid',
    );
    expect((await keel(storeUrl, ['approvals'], fresh.token)).code).toBe(0);

    expect((await keel(storeUrl, ['approvers', 'revoke', 'ana'])).code).toBe(0);
    expect(failure(await keel(storeUrl, ['approvals'], fresh.token), 2)).toBe(
      'keel: approver ana is revoked',
    );
    expect(failure(await keel(storeUrl, ['approvers', 'revoke', 'nobody']), 2)).toBe(
      'keel: no approver named nobody',
    );
    expect((await keel(storeUrl, ['approvers', 'list'])).stdout).toMatch(
      /^ana {2}apv_\w+ {2}approver {2}finance {2}revoked /,
    );
  }, 120_000);

  it("lists and shows only the token's groups' approvals; an admin sees all", async () => {
    const storeUrl = `sqlite:${join(directory, 'scoped.db')}`;
    await park(storeUrl, 'apr_fin', 'finance');
    await park(storeUrl, 'apr_sec', 'security');
    const ana = await added(storeUrl, ['ana', '--group', 'finance', '--role', 'viewer']);
    const root = await added(storeUrl, ['root', '--role', 'admin']);
    const ids = async (token: string | undefined) =>
      (
        JSON.parse((await keel(storeUrl, ['approvals', '--json'], token)).stdout) as {
          approvals: { id: string }[];
        }
      ).approvals
        .map(({ id }) => id)
        .sort();
    expect([await ids(ana.token), await ids(root.token), await ids(undefined)]).toEqual([
      ['apr_fin'],
      ['apr_fin', 'apr_sec'],
      ['apr_fin', 'apr_sec'],
    ]);
    expect(failure(await keel(storeUrl, ['approvals', 'show', 'apr_sec'], ana.token), 2)).toMatch(
      /ana is not in group "security"/,
    );
    const shown = await keel(storeUrl, ['approvals', 'show', 'apr_fin', '--json'], ana.token);
    expect(shown.code).toBe(0);
    expect((JSON.parse(shown.stdout) as { approval: { id: string } }).approval.id).toBe('apr_fin');
    expect((await keel(storeUrl, ['approvals', 'show', 'apr_sec'], root.token)).code).toBe(0);
  }, 120_000);
});
