/**
 * How many runs execute in this process now, across runtimes: they share its thread, its disk
 * and its group commits.
 */
let executing = 0;

/** A run starts executing here; call the function returned once it stops. */
export function enterExecution(): () => void {
  executing += 1;
  return () => {
    executing -= 1;
  };
}

export function executingRuns(): number {
  return executing;
}
