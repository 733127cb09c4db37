import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Mount = { dir: string; unmount: () => Promise<void> };

/**
 * Mounts a real read-only tmpfs (root only), so EROFS comes from the kernel rather than a
 * mock. Returns the reason instead when this host does not allow the mount, so the caller
 * can skip with that reason printed.
 */
export function mountReadOnly(): Promise<Mount | { skipReason: string }> {
  return mountTmpfs('ro,size=1m');
}

/**
 * Mounts a real tmpfs of `size` (mount's syntax: `1m`), root only, so ENOSPC comes from the
 * kernel. Returns the reason instead when the mount is not allowed here.
 */
export function mountSmallTmpfs(size: string): Promise<Mount | { skipReason: string }> {
  return mountTmpfs(`size=${size}`);
}

async function mountTmpfs(options: string): Promise<Mount | { skipReason: string }> {
  if (process.platform !== 'linux') return { skipReason: 'tmpfs mounts are a Linux feature' };
  if (process.getuid?.() !== 0) return { skipReason: `mounting a tmpfs (${options}) needs root` };
  const dir = await mkdtemp(join(tmpdir(), 'imgcache-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    return { skipReason: `mount -t tmpfs -o ${options} is not permitted here: ${detail}` };
  }
  return {
    dir,
    unmount: async () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
