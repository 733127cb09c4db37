import { basename, join } from 'node:path';
import {
  DRIVER_CONTRACT_VERSION,
  InvalidOptionError,
  isCoreDirectoryName,
  type CacheEntry,
  type Driver,
  type DriverCapabilities,
  type DriverFactory,
  type DriverStats,
  type HitBatch,
  type LruEntry,
  type NewCacheEntry,
} from '@imgcache/core';
import { SharedStore } from './shared-store.js';

/** Options of {@link createMemoryJsonDriver} (`ImageCache.open({ driverOptions })` when loaded by name). */
export interface MemoryJsonDriverOptions {
  /** Name of the metadata file in the cache root. Default `imgcache-metadata.json`. */
  fileName?: string;
}

export const DEFAULT_FILE_NAME = 'imgcache-metadata.json';

/**
 * Metadata in memory, saved to one JSON file in the cache root after every change (written
 * to a temporary file, then renamed over the old one). One process per cache root: two
 * processes would overwrite each other's file.
 */
export class MemoryJsonDriver implements Driver {
  readonly name = 'memory-json';
  readonly contractVersion = DRIVER_CONTRACT_VERSION;
  readonly capabilities: DriverCapabilities = { multiProcess: false, multiProcessHits: false };
  private closed = false;

  constructor(private readonly store: SharedStore) {}

  async get(imageId: string): Promise<CacheEntry | null> {
    const entry = this.store.entries.get(imageId);
    return entry ? { ...entry } : null;
  }

  async list(): Promise<CacheEntry[]> {
    return [...this.store.entries.values()]
      .sort((a, b) => compareIds(a.imageId, b.imageId))
      .map((entry) => ({ ...entry }));
  }

  async stats(): Promise<DriverStats> {
    let totalSize = 0;
    let totalHits = 0;
    for (const entry of this.store.entries.values()) {
      totalSize += entry.size;
      totalHits += entry.hits;
    }
    return { count: this.store.entries.size, totalSize, totalHits };
  }

  async commit(entry: NewCacheEntry): Promise<void> {
    const { imageId, size, checksum, lastModified } = entry;
    this.store.entries.set(imageId, { imageId, size, checksum, hits: 0, lastAccessed: lastModified, lastModified });
    await this.store.save();
  }

  async recordHit(imageId: string, accessedAt: number): Promise<boolean> {
    if (!this.addHits(imageId, 1, accessedAt)) return false;
    await this.store.save();
    return true;
  }

  /** One save for the whole batch: core flushes its hits this way about once a second. */
  async recordHits(batch: readonly HitBatch[]): Promise<void> {
    let changed = false;
    for (const { imageId, hits, accessedAt } of batch) changed = this.addHits(imageId, hits, accessedAt) || changed;
    if (changed) await this.store.save();
  }

  async remove(imageIds: readonly string[]): Promise<number> {
    let removed = 0;
    for (const imageId of imageIds) if (this.store.entries.delete(imageId)) removed++;
    if (removed > 0) await this.store.save();
    return removed;
  }

  async removeAll(): Promise<number> {
    const count = this.store.entries.size;
    this.store.entries.clear();
    await this.store.save();
    return count;
  }

  async *leastRecentlyUsed(): AsyncIterable<LruEntry> {
    // One sorted snapshot: entries core removes during the scan are skipped, never re-read.
    const ordered = [...this.store.entries.values()].sort(
      (a, b) => a.lastAccessed - b.lastAccessed || compareIds(a.imageId, b.imageId),
    );
    for (const { imageId, size, lastAccessed } of ordered) {
      if (this.store.entries.has(imageId)) yield { imageId, size, lastAccessed };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.release();
  }

  /** Adds hits in memory; `lastAccessed` never moves back. @returns false when the image has no entry. */
  private addHits(imageId: string, hits: number, accessedAt: number): boolean {
    const entry = this.store.entries.get(imageId);
    if (!entry) return false;
    entry.hits += hits;
    entry.lastAccessed = Math.max(entry.lastAccessed, accessedAt);
    return true;
  }
}

/**
 * Makes the factory of the driver; the package's default export, which core's loader calls
 * with `driverOptions` when the driver is named `imgcache-driver-memory-json`.
 * @throws {InvalidOptionError} when `fileName` is not a plain, non-hidden file name other than
 *   core's directories (checked at once, before any file is touched).
 * The factory throws `DriverStoreError` when the metadata file exists but is not valid
 * metadata, and the filesystem's error when it cannot be read.
 */
export function createMemoryJsonDriver(options: MemoryJsonDriverOptions = {}): DriverFactory<MemoryJsonDriver> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const plain =
    typeof fileName === 'string' && fileName.length > 0 && basename(fileName) === fileName && !fileName.startsWith('.');
  if (!plain || isCoreDirectoryName(fileName)) {
    throw new InvalidOptionError(
      'driverOptions.fileName',
      `${JSON.stringify(fileName)} must be a plain file name in the cache root, not hidden and not images, incomplete, invalid or queue`,
    );
  }
  return async (context) => new MemoryJsonDriver(await SharedStore.acquire(join(context.root, fileName)));
}

/** Code-unit order, as the contract asks for `list()`. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
