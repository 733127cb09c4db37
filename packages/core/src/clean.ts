import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { claimOwner } from './claims.js';
import { removeFile } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

export interface CleanResult {
  /** Files removed from `incomplete/`: leftovers of processes that are gone, and stalled writes. */
  incomplete: number;
  /** Files removed from `invalid/`. */
  invalid: number;
}

/**
 * Deletes everything in `invalid/`, and in `incomplete/`: claims of processes that are gone
 * (whatever their age), foreign files and work files of other live writers unchanged for
 * `stallTime` seconds. Never touched: any claim of this process, and any lock of a live
 * process, whatever the stall time, because a lock is held by a writer that is committing
 * or by a maintenance step (claims.ts). A live writer whose stalled work file is removed
 * fails when it tries to commit; it never commits a file that is gone.
 * @param stallTime seconds, 0 or more.
 */
export async function cleanDirectories(layout: CacheLayout, stallTime: number): Promise<CleanResult> {
  let invalid = 0;
  for (const name of await readdir(layout.invalidDir)) {
    if (await removeFile(join(layout.invalidDir, name)).catch(() => false)) invalid++;
  }
  const cutoff = Date.now() - stallTime * 1000;
  let incomplete = 0;
  for (const name of await readdir(layout.incompleteDir)) {
    const owner = claimOwner(layout, name);
    if (owner?.live && (owner.pid === process.pid || owner.lock)) continue;
    const path = join(layout.incompleteDir, name);
    const info = await stat(path).catch(() => null);
    if (!info) continue;
    const dead = owner !== null && !owner.live;
    if ((dead || info.mtimeMs <= cutoff) && (await removeFile(path).catch(() => false))) incomplete++;
  }
  return { incomplete, invalid };
}
