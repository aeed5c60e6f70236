import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small tmpfs of its own: a disk a test can fill and free. */
export interface TinyDisk {
  readonly directory: string;
  /** Write a filler file until the disk has no room left. */
  fill(): void;
  /** Empty the filler: room again (nothing to do on a disk never filled). */
  free(): void;
  unmount(): void;
}

/**
 * Mount a tmpfs of `sizeKb` on a fresh directory, or `undefined` where mounting is not allowed
 * (not root, no CAP_SYS_ADMIN): tests on a really full disk skip there.
 */
export function mountTinyDisk(sizeKb: number): TinyDisk | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const directory = mkdtempSync(join(tmpdir(), 'keel-tiny-disk-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', directory]);
  if (mounted.status !== 0) {
    rmSync(directory, { recursive: true, force: true });
    return undefined;
  }
  const filler = join(directory, 'filler');
  return {
    directory,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(4_096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      try {
        truncateSync(filler, 0);
      } catch (error) {
        // Never filled: nothing to free.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
    unmount() {
      spawnSync('umount', ['--lazy', directory]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
