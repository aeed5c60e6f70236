/**
 * Run one bench module on its own (`node dist/bench/<file>.js [--json]`): measure, then print
 * the figures, or one JSON document with `--json`. Does nothing when the module is imported
 * (by `main.ts`).
 */
export async function runAlone<T>(
  moduleUrl: string,
  measure: () => Promise<T>,
  render: (result: T) => string,
): Promise<void> {
  if (moduleUrl !== `file://${process.argv[1] ?? ''}`) return;
  const result = await measure();
  process.stdout.write(
    process.argv.includes('--json')
      ? `${JSON.stringify(result, null, 2)}\n`
      : `${render(result)}\n`,
  );
}
