// Shared tail of the bench's server child processes: print the base URL on the first line of
// stdout, then stop on SIGTERM/SIGINT or when stdin closes (the parent died), so a server never
// outlives the bench.
export function serveUntilParentGoes(server: { url: string; close(): Promise<void> }): void {
  process.stdout.write(`${server.url}\n`);
  let stopping = false;
  function shutdown(): void {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
