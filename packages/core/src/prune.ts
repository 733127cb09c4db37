import { releaseClaims, takeLocks, unclaimed, type Claim } from './claims.js';
import { forEachLimited } from './limited.js';
import type { Driver, LruEntry } from './driver.js';
import { errnoCode, removeFile } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

/** What a prune removed. */
export interface PruneResult {
  files: number;
  bytes: number;
}

export interface PrunePlanInput {
  driver: Driver;
  maxSize: number;
  /** Images with open readers in this process: evicted only if nothing else is left. */
  inUse: (imageId: string) => boolean;
}

/**
 * Picks victims in one ordered pass over the LRU scan until the cache fits in `maxSize`.
 * Images being read are passed over and taken last, only if the budget still is not met.
 */
export async function planPrune({ driver, maxSize, inUse }: PrunePlanInput): Promise<LruEntry[]> {
  let total = (await driver.stats()).totalSize;
  if (total <= maxSize) return [];
  const victims: LruEntry[] = [];
  const busy: LruEntry[] = [];
  for await (const entry of driver.leastRecentlyUsed()) {
    if (inUse(entry.imageId)) {
      busy.push(entry);
      continue;
    }
    victims.push(entry);
    total -= entry.size;
    if (total <= maxSize) return victims;
  }
  for (const entry of busy) {
    if (total <= maxSize) break;
    victims.push(entry);
    total -= entry.size;
  }
  return victims;
}

/** Victims per batch: one lock file, one driver call. */
export const EVICT_BATCH = 1000;
const UNLINK_CONCURRENCY = 16;

/**
 * Removes the victims' files, then their metadata, in batches. File first: a crash in
 * between leaves metadata without a file, which reconcile drops, never a file that is
 * served without metadata. A reader that already opened a victim keeps its bytes: the
 * kernel frees them when it closes. Each batch is locked first, with one batch lock
 * (claims.ts): a victim that another process is writing right now (re-caching it after a
 * delete) is skipped, so its fresh file is never removed under its commit, and a writer
 * that starts on a victim while its batch runs backs off.
 * @returns what was removed; skipped victims are not counted.
 */
export async function evict(layout: CacheLayout, driver: Driver, victims: readonly LruEntry[]): Promise<PruneResult> {
  const result: PruneResult = { files: 0, bytes: 0 };
  for (let start = 0; start < victims.length; start += EVICT_BATCH) {
    const batch = victims.slice(start, start + EVICT_BATCH);
    const { locks, free } = await lockVictims(
      layout,
      batch.map((entry) => entry.imageId),
    );
    try {
      const taken = batch.filter((entry) => free.has(entry.imageId));
      await forEachLimited(taken, UNLINK_CONCURRENCY, (entry) => removeFile(layout.imagePath(entry.imageId)));
      await driver.remove(taken.map((entry) => entry.imageId));
      for (const entry of taken) {
        result.files++;
        result.bytes += entry.size;
      }
    } finally {
      await releaseClaims(locks);
    }
  }
  return result;
}

/** Locks what it can of a batch; the ids in `free` may be removed. */
async function lockVictims(layout: CacheLayout, imageIds: string[]): Promise<{ locks: Claim[]; free: Set<string> }> {
  try {
    const locks = await takeLocks(layout, imageIds);
    return { locks, free: new Set(locks.map((lock) => lock.imageId)) };
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw error;
    // A full disk can refuse even an empty lock file, and evicting is what frees space: go
    // on with the weaker check of skipping images claimed at this moment.
    return { locks: [], free: new Set(await unclaimed(layout, imageIds)) };
  }
}
