// Loads libsql in a fresh process (libsql is loaded once per process), through `sqliteDriver`
// or, with `plain`, by requiring it directly, and prints how often the diagnostic report was
// asked for, whether the report function is the one it was before, and whether the driver works.
import { createRequire } from 'node:module';
import { sqliteDriver, type SqliteDatabaseClass } from '../sqlite-driver.js';

const report = process.report;
const original = report.getReport.bind(report);
let reportCalls = 0;
const counting: typeof report.getReport = (...args) => {
  reportCalls += 1;
  return original(...args);
};
report.getReport = counting;
const plain = process.argv.includes('plain');
const Database = plain
  ? (createRequire(import.meta.url)('libsql') as SqliteDatabaseClass)
  : sqliteDriver();
const database = new Database(':memory:');
const row = database.prepare('select 41 + 1 as answer').get() as { answer: number };
database.close();
process.stdout.write(
  JSON.stringify({
    reportCalls,
    restored: report.getReport === counting,
    sameClass: plain || sqliteDriver() === Database,
    answer: row.answer,
  }),
);
