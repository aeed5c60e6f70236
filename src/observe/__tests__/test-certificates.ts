import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A throwaway certificate authority, a server certificate for 127.0.0.1 and a client
 * certificate, made with openssl for one test run and removed by `cleanup`. Test support only:
 * the published build leaves `__tests__` folders out, and no key is ever kept.
 */

export interface TestCertificates {
  readonly directory: string;
  /** Paths of the PEM files. */
  readonly files: {
    readonly ca: string;
    readonly serverCert: string;
    readonly serverKey: string;
    readonly clientCert: string;
    readonly clientKey: string;
    /** A certificate authority nobody signed anything with. */
    readonly otherCa: string;
  };
  readonly pem: { readonly ca: Buffer; readonly serverCert: Buffer; readonly serverKey: Buffer };
  /** The client certificate's subject common name. */
  readonly clientName: string;
  cleanup(): void;
}

export function makeTestCertificates(): TestCertificates {
  const directory = mkdtempSync(join(tmpdir(), 'keel-tls-'));
  const path = (name: string): string => join(directory, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: directory, stdio: 'pipe' });
  };
  const authority = (name: string, subject: string): void => {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    );
  };
  const signed = (name: string, subject: string, extensions: string): void => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    writeFileSync(path(`${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  };
  authority('ca', '/CN=keel-test-ca');
  authority('other-ca', '/CN=keel-other-ca');
  signed(
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  signed('client', '/CN=keel-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    directory,
    files: {
      ca: path('ca.pem'),
      serverCert: path('server.pem'),
      serverKey: path('server.key'),
      clientCert: path('client.pem'),
      clientKey: path('client.key'),
      otherCa: path('other-ca.pem'),
    },
    pem: {
      ca: readFileSync(path('ca.pem')),
      serverCert: readFileSync(path('server.pem')),
      serverKey: readFileSync(path('server.key')),
    },
    clientName: 'keel-test-client',
    cleanup: () => {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
