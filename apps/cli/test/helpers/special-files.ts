import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why a command failed: its stderr, else its message. */
function reason(error: unknown): string {
  return (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
}

/**
 * Makes a character device with /dev/null's numbers (1, 3) at `path` (root only). Returns
 * the reason instead when this host does not allow it, so the caller can skip saying why.
 */
export async function makeNullDevice(path: string): Promise<{ skipReason: string } | null> {
  try {
    await run('mknod', [path, 'c', '1', '3']);
    return null;
  } catch (error) {
    return {
      skipReason: `mknod ${path} c 1 3 failed (${reason(error)}), so the character device case cannot run here`,
    };
  }
}

/** Makes a FIFO at `path` with mkfifo(1). */
export async function makeFifo(path: string): Promise<void> {
  await run('mkfifo', [path]);
}

/**
 * Mounts a scratch filesystem (root only): a tmpfs of `size` (e.g. `1m`) to fill up, or a
 * ramfs (no extended attributes). Returns the reason instead when this host does not allow
 * it, so the caller can skip saying why.
 */
export async function mountScratch(
  type: 'tmpfs' | 'ramfs',
  size?: string,
): Promise<{ dir: string; unmount: () => Promise<void> } | { skipReason: string }> {
  const dir = await mkdtemp(join(tmpdir(), `imgcache-cli-${type}-`));
  try {
    await run('mount', ['-t', type, ...(size ? ['-o', `size=${size}`] : []), type, dir]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { skipReason: `mount -t ${type} failed (${reason(error)}), so this case cannot run here` };
  }
  return {
    dir,
    unmount: async () => {
      await run('umount', ['-l', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
