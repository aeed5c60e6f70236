/** A gate that holds its first caller until it is released (or failed); later callers pass. */
export interface HoldOnce {
  /** Waits for `release` the first time it is called; resolves at once after that. */
  pass(): Promise<void>;
  /** Lets the held caller go on, or fails it with `error`. */
  release(error?: Error): void;
  /** True once a caller is being held (or was). */
  held(): boolean;
}

export function holdOnce(): HoldOnce {
  let settle: { resolve(): void; reject(error: Error): void } | undefined;
  const gate = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A gate failed with nobody at it is not an unhandled rejection.
  gate.catch(() => undefined);
  let reached = false;
  return {
    pass: () => {
      if (reached) return Promise.resolve();
      reached = true;
      return gate;
    },
    release: (error) => {
      if (error) settle?.reject(error);
      else settle?.resolve();
    },
    held: () => reached,
  };
}
