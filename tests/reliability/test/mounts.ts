import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Mount = { dir: string; unmount: () => Promise<void> };

/**
 * Mounts a real filesystem of the given type (root only). Returns the reason instead when
 * this host does not allow it, so the caller can skip with that reason printed.
 */
export async function mountFilesystem(
  type: 'tmpfs' | 'ramfs',
  options: string[] = [],
): Promise<Mount | { skipReason: string }> {
  if (process.platform !== 'linux') return { skipReason: `${type} mounts are a Linux feature` };
  if (process.getuid?.() !== 0) return { skipReason: `mounting ${type} needs root (CI runs .ci/run as root)` };
  const dir = await mkdtemp(join(tmpdir(), `imgcache-${type}-`));
  try {
    execFileSync('mount', ['-t', type, ...(options.length ? ['-o', options.join(',')] : []), type, dir], {
      stdio: 'pipe',
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    return { skipReason: `mount -t ${type} is not permitted here: ${detail}` };
  }
  return {
    dir,
    unmount: async () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
