import { print, writeOut } from './terminal.js';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

const DEMO_STORE = '.keel/demo.db';

/** `keel demo`: the support-desk scenarios on a fresh store (unless `--store` names one). */
export async function runDemoCommand({
  json,
  store,
}: {
  json: boolean;
  store: string | undefined;
}): Promise<void> {
  const { runDemo } = (await import('../../examples/support-desk/demo.js')) as {
    runDemo: (options: {
      storeUrl: string;
      json: boolean;
      log: (line: string) => void;
      write?: ((text: string) => void) | undefined;
    }) => Promise<unknown>;
  };
  let storeUrl = store;
  if (storeUrl === undefined) {
    const path = resolve(DEMO_STORE);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    storeUrl = `sqlite:${DEMO_STORE}`;
  }
  const log = (line: string): void => {
    if (!json) print(line);
  };
  const report = await runDemo({ storeUrl, json, log, write: json ? undefined : writeOut });
  if (json) writeOut(`${JSON.stringify(report, null, 2)}\n`);
  else {
    print(`\nThe demo's runs are in ${storeUrl}: try \`keel runs --store ${storeUrl}\`.`);
    print(
      `To browse them: \`keel --store ${storeUrl} approvers add you --role admin\` prints a token; ` +
        `\`keel --store ${storeUrl} serve\` serves the dashboard at http://127.0.0.1:4600/.`,
    );
  }
}
