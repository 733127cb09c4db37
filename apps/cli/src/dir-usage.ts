import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Files directly in a directory and their total bytes. */
export interface DirUsage {
  files: number;
  bytes: number;
}

/** Counts the regular files directly in `dir` (files that vanish meanwhile are skipped). */
export async function dirUsage(dir: string): Promise<DirUsage> {
  const usage: DirUsage = { files: 0, bytes: 0 };
  for (const name of await readdir(dir)) {
    const info = await stat(join(dir, name)).catch(() => null);
    if (!info?.isFile()) continue;
    usage.files++;
    usage.bytes += info.size;
  }
  return usage;
}
