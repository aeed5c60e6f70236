// Writes src/store/sqlite-schema.ts: the schema Keel's migrations make on a new SQLite
// database, which a new SQLite store is given in one commit. Run after adding a migration
// (`npm run sqlite-schema`); src/store/sqlite-new-store.test.ts fails until it is.
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { migratedWithMigrator } from '../src/store/sqlite-new-store.js';

const target = 'src/store/sqlite-schema.ts';
const schema = await migratedWithMigrator();
writeFileSync(
  target,
  [
    '// Written by `npm run sqlite-schema` (scripts/sqlite-schema.ts) from the migrations in',
    '// schema.ts: do not edit. What `sqlite_master` holds after every migration ran on a new',
    '// database, in order, and the migrations that made it.',
    'export const SQLITE_SCHEMA: {',
    '  readonly migrations: readonly string[];',
    '  readonly statements: readonly string[];',
    `} = ${JSON.stringify(schema, null, 2)};`,
    '',
  ].join('\n'),
);
execFileSync('npx', ['prettier', '--write', target], { stdio: 'inherit' });
