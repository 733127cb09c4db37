import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Mounts a real tmpfs of `size` (e.g. `4m`), root only. Returns the reason instead where
 * this host does not allow it, so the caller can skip with that reason printed.
 */
export async function mountTmpfs(
  size: string,
): Promise<{ dir: string; unmount: () => Promise<void> } | { skipReason: string }> {
  if (process.platform !== 'linux') return { skipReason: 'tmpfs mounts are a Linux feature' };
  if (process.getuid?.() !== 0) return { skipReason: 'mounting tmpfs needs root (CI runs .ci/run as root)' };
  const dir = await mkdtemp(join(tmpdir(), 'imgcache-server-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return {
      skipReason: `mount -t tmpfs is not permitted here: ${(error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message}`,
    };
  }
  return {
    dir,
    unmount: async () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
