import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { parseServerSpec, serverName } from './index.js';

describe('parseServerSpec', () => {
  it('reads a stdio command line with quotes and escapes', () => {
    const address = parseServerSpec(`stdio:node "my server.mjs" --name 'a b' c\\ d`, 'server');
    expect(address).toEqual({
      kind: 'stdio',
      command: 'node',
      args: ['my server.mjs', '--name', 'a b', 'c d'],
      env: undefined,
      cwd: undefined,
    });
    expect(serverName(address)).toBe('stdio:node "my server.mjs" --name "a b" "c d"');
  });

  it('reads an HTTP URL with headers and names it without its query', () => {
    const address = parseServerSpec('https://mcp.example.com/v1?key=secret', 'server', {
      Authorization: 'Bearer t',
    });
    expect(address).toEqual({
      kind: 'http',
      url: new URL('https://mcp.example.com/v1?key=secret'),
      headers: { Authorization: 'Bearer t' },
    });
    expect(serverName(address)).toBe('https://mcp.example.com/v1');
  });

  it('reads the object forms', () => {
    expect(
      parseServerSpec({ command: 'node', args: ['s.mjs'], env: { A: '1' } }, 'server'),
    ).toEqual({
      kind: 'stdio',
      command: 'node',
      args: ['s.mjs'],
      env: { A: '1' },
      cwd: undefined,
    });
    expect(
      parseServerSpec({ url: 'http://127.0.0.1:9/mcp', headers: { B: '2' } }, 'server', { A: '1' }),
    ).toEqual({
      kind: 'http',
      url: new URL('http://127.0.0.1:9/mcp'),
      headers: { A: '1', B: '2' },
    });
  });

  it.each([
    ['node server.mjs'],
    ['stdio:'],
    ['stdio:node "unclosed'],
    ['ftp://example.com'],
    ['http://'],
  ])('rejects %j as an invalid definition naming the field', (spec) => {
    let caught: unknown;
    try {
      parseServerSpec(spec, 'server');
    } catch (error) {
      caught = error;
    }
    expect(
      KeelError.isInstance(caught) && {
        code: caught.code,
        named: caught.message.startsWith('"server"'),
      },
    ).toEqual({
      code: 'invalid_definition',
      named: true,
    });
  });
});
