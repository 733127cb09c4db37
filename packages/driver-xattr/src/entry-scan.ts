import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachLimited, isValidImageId, type CacheEntry } from '@imgcache/core';
import { readAccess, readEntry } from './attributes.js';

/** Attribute reads in flight at once: enough to keep the thread pool busy, few enough for the fd limit. */
const SCAN_CONCURRENCY = 32;

/**
 * Reads every entry of the index directory in one pass: one `readdir`, then the attributes
 * of each link. Names that are not image ids (temporary links) and links without our
 * attributes (a removal interrupted by a crash) are skipped. Unordered.
 */
export async function scanEntries(entriesDir: string): Promise<CacheEntry[]> {
  const names = (await readdir(entriesDir)).filter((name) => isValidImageId(name));
  const found: CacheEntry[] = [];
  await forEachLimited(names, SCAN_CONCURRENCY, async (imageId) => {
    const entry = await readCacheEntry(join(entriesDir, imageId), imageId);
    if (entry) found.push(entry);
  });
  return found;
}

/** The full entry stored on `path`, or null when it is not (or no longer) an entry. */
export async function readCacheEntry(path: string, imageId: string): Promise<CacheEntry | null> {
  const stored = await readEntry(path);
  if (!stored) return null;
  const access = await readAccess(path, stored);
  return {
    imageId,
    size: stored.size,
    checksum: stored.checksum,
    hits: access.hits,
    lastAccessed: access.lastAccessed,
    lastModified: stored.lastModified,
  };
}

/** Code-unit order, the order the contract asks `list()` for. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
