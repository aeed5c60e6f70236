/**
 * How many runs execute in this process now, across runtimes: they share its thread, its disk
 * and its group commits.
 */
let executing = 0;

/** A run starts executing here; the function returned says it stopped. */
export function enterExecution(): () => void {
  executing += 1;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    executing -= 1;
  };
}

export function executingRuns(): number {
  return executing;
}
