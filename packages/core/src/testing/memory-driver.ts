import {
  DRIVER_CONTRACT_VERSION,
  type CacheEntry,
  type Driver,
  type DriverCapabilities,
  type DriverFactory,
  type LruEntry,
} from '../driver.js';

/** Entries per cache root, kept for the life of the process so a reopen sees them. */
const stores = new Map<string, Map<string, CacheEntry>>();

/**
 * A driver that keeps metadata in memory. Entries survive `close()` and reopening the same
 * root within one process, never a restart. For tests and as the smallest example of the
 * driver contract.
 */
export class MemoryDriver implements Driver {
  readonly name = 'memory';
  readonly contractVersion = DRIVER_CONTRACT_VERSION;
  /** One process only: the entries live in this process's memory. */
  readonly capabilities: DriverCapabilities = { multiProcess: false, multiProcessHits: false };

  constructor(private readonly entries: Map<string, CacheEntry>) {}

  async get(imageId: string): Promise<CacheEntry | null> {
    const entry = this.entries.get(imageId);
    return entry ? { ...entry } : null;
  }

  async list(): Promise<CacheEntry[]> {
    return [...this.entries.values()].map((entry) => ({ ...entry })).sort((a, b) => compare(a.imageId, b.imageId));
  }

  async stats(): Promise<{ count: number; totalSize: number; totalHits: number }> {
    let totalSize = 0;
    let totalHits = 0;
    for (const entry of this.entries.values()) {
      totalSize += entry.size;
      totalHits += entry.hits;
    }
    return { count: this.entries.size, totalSize, totalHits };
  }

  async commit(entry: { imageId: string; size: number; checksum: string; lastModified: number }): Promise<void> {
    this.entries.set(entry.imageId, { ...entry, hits: 0, lastAccessed: entry.lastModified });
  }

  async recordHit(imageId: string, accessedAt: number): Promise<boolean> {
    const entry = this.entries.get(imageId);
    if (!entry) return false;
    entry.hits++;
    entry.lastAccessed = Math.max(entry.lastAccessed, accessedAt);
    return true;
  }

  async remove(imageIds: readonly string[]): Promise<number> {
    let removed = 0;
    for (const imageId of imageIds) if (this.entries.delete(imageId)) removed++;
    return removed;
  }

  async removeAll(): Promise<number> {
    const count = this.entries.size;
    this.entries.clear();
    return count;
  }

  async *leastRecentlyUsed(): AsyncIterable<LruEntry> {
    // A snapshot sorted once: removals during the scan cannot disturb it.
    const ordered = [...this.entries.values()].sort(
      (a, b) => a.lastAccessed - b.lastAccessed || compare(a.imageId, b.imageId),
    );
    for (const { imageId, size, lastAccessed } of ordered) {
      if (this.entries.has(imageId)) yield { imageId, size, lastAccessed };
    }
  }

  async close(): Promise<void> {}
}

/** Options of {@link createMemoryDriver}: none yet; the type keeps the one driver shape. */
export type MemoryDriverOptions = Record<string, never>;

/** A factory for {@link MemoryDriver}; pass it as `ImageCache.open({ driver: createMemoryDriver() })`. */
export function createMemoryDriver(_options: MemoryDriverOptions = {}): DriverFactory {
  return async ({ root }) => {
    let entries = stores.get(root);
    if (!entries) {
      entries = new Map();
      stores.set(root, entries);
    }
    return new MemoryDriver(entries);
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
