import { basename, join } from 'node:path';
import {
  DRIVER_CONTRACT_VERSION,
  DriverConfigError,
  type CacheEntry,
  type Driver,
  type DriverContext,
  type DriverStats,
  type LruEntry,
  type NewCacheEntry,
} from '@imgcache/core';
import { SharedStore } from './shared-store.js';

/** Options read from `ImageCache.open({ driverOptions })`. */
export interface MemoryJsonDriverOptions {
  /** Name of the metadata file in the cache root. Default `imgcache-metadata.json`. */
  fileName?: string;
}

export const DEFAULT_FILE_NAME = 'imgcache-metadata.json';

/** Directories of the cache root that core owns; the metadata file must not take their names. */
const CORE_NAMES = new Set(['images', 'incomplete', 'invalid', 'queue']);

/**
 * Metadata in memory, saved to one JSON file in the cache root after every change (written
 * to a temporary file, then renamed over the old one). Single-process: two processes on one
 * cache root would overwrite each other's file, so use it for one server or CLI at a time.
 */
export class MemoryJsonDriver implements Driver {
  readonly name = 'memory-json';
  readonly contractVersion = DRIVER_CONTRACT_VERSION;
  private closed = false;

  constructor(private readonly store: SharedStore) {}

  async get(imageId: string): Promise<CacheEntry | null> {
    const entry = this.store.entries.get(imageId);
    return entry ? { ...entry } : null;
  }

  async list(): Promise<CacheEntry[]> {
    return [...this.store.entries.values()].sort((a, b) => compareIds(a.imageId, b.imageId)).map((entry) => ({ ...entry }));
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
    const entry = this.store.entries.get(imageId);
    if (!entry) return false;
    entry.hits++;
    entry.lastAccessed = Math.max(entry.lastAccessed, accessedAt);
    await this.store.save();
    return true;
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
}

/**
 * Opens the driver on `context.root`. This is the package's default export, which core's
 * loader calls when the driver is named `imgcache-driver-memory-json`.
 * @throws {DriverConfigError} when `fileName` is not a plain file name of its own.
 * @throws {MetadataFileError} when the metadata file exists but is unreadable.
 */
export async function createMemoryJsonDriver(context: DriverContext): Promise<MemoryJsonDriver> {
  const fileName = metadataFileName(context.options);
  const store = await SharedStore.acquire(join(context.root, fileName));
  return new MemoryJsonDriver(store);
}

function metadataFileName(options: Readonly<Record<string, unknown>>): string {
  const { fileName = DEFAULT_FILE_NAME } = options as MemoryJsonDriverOptions;
  const plain = typeof fileName === 'string' && fileName.length > 0 && basename(fileName) === fileName && !fileName.startsWith('.');
  if (!plain || CORE_NAMES.has(fileName)) {
    throw new DriverConfigError(
      'memory-json',
      `fileName ${JSON.stringify(fileName)} must be a plain file name in the cache root, not hidden and not one of ${[...CORE_NAMES].join(', ')}`,
    );
  }
  return fileName;
}

/** Code-unit order, as the contract asks for `list()`. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
