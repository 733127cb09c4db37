import { link, mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DRIVER_CONTRACT_VERSION,
  InvalidOptionError,
  errnoCode,
  forEachLimited,
  isCoreDirectoryName,
  isValidImageId,
  removeFile,
  type CacheEntry,
  type Driver,
  type DriverCapabilities,
  type DriverFactory,
  type DriverStats,
  type LruEntry,
  type NewCacheEntry,
  workFileName,
} from '@imgcache/core';
import { readAccess, readEntry, stripAttributes, writeAccess, writeEntry } from './attributes.js';
import { compareIds, readCacheEntry, scanEntries } from './entry-scan.js';
import { acquireStatsTracker, type StatsTracker } from './stats-tracker.js';
import { sweepLeftovers } from './leftovers.js';
import { probeXattrSupport } from './support-probe.js';

/** Options of {@link createXattrDriver} (`ImageCache.open({ driverOptions })` when loaded by name). */
export interface XattrDriverOptions {
  /**
   * Directory, inside the cache root, that holds one hard link per committed image
   * (the entry index). Default `xattr-entries`. It must be on the same filesystem as
   * `images/`.
   */
  indexDir?: string;
  /**
   * Longest time, in milliseconds, `stats()` reuses its in-memory totals before it rescans
   * the index regardless. Default 1000. Changes of this process are always counted at once;
   * this bounds how long other processes' hits (and directory changes that coarse
   * timestamps hide) stay invisible. 0 rescans on every call.
   */
  statsMaxAge?: number;
}

export const DEFAULT_INDEX_DIR = 'xattr-entries';
export const DEFAULT_STATS_MAX_AGE = 1000;
const REMOVE_CONCURRENCY = 16;

/**
 * Metadata in `user.imgcache.*` extended attributes of the cached files themselves.
 *
 * Every committed image also has a hard link `<root>/<indexDir>/<id>`: the same inode as
 * `images/<id>`, so the attributes are visible on both names. The link is what makes an
 * entry exist. Core unlinks `images/<id>` before it removes the entry, and an image file
 * may vanish behind the cache's back; the link keeps the entry (and its attributes) until
 * {@link XattrDriver.remove}, as the contract expects, and lets scans read one directory
 * that holds entries only.
 */
export class XattrDriver implements Driver {
  readonly name = 'xattr';
  readonly contractVersion = DRIVER_CONTRACT_VERSION;
  /** Links and attributes are safe across processes; a hit is a read-modify-write of an attribute, last writer wins (README). */
  readonly capabilities: DriverCapabilities = { multiProcess: true, multiProcessHits: false };

  /** Ids removed while each running LRU scan is in progress, so the scan skips them. */
  private readonly activeScans = new Set<Set<string>>();
  /** Work of this instance still queued or running, which close() waits for. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly indexDir: string,
    private readonly imagePath: (imageId: string) => string,
    private readonly tracker: StatsTracker,
    private readonly statsMaxAge: number = DEFAULT_STATS_MAX_AGE,
    private readonly releaseTracker: () => void = () => undefined,
  ) {}

  /** Full index scans `stats()` has done for this directory in this process (a diagnostic). */
  get statsScans(): number {
    return this.tracker.scans;
  }

  async get(imageId: string): Promise<CacheEntry | null> {
    if (!isValidImageId(imageId)) return null;
    return readCacheEntry(this.linkPath(imageId), imageId);
  }

  async list(): Promise<CacheEntry[]> {
    return (await scanEntries(this.indexDir)).sort((a, b) => compareIds(a.imageId, b.imageId));
  }

  /**
   * Totals kept in memory: exact for every change made through this process, other
   * processes' changes included once the index directory's timestamps show them, and in
   * any case within `statsMaxAge` (see the README).
   * @throws the filesystem error when a needed rescan fails.
   */
  async stats(): Promise<DriverStats> {
    return this.tracker.stats(this.statsMaxAge);
  }

  /**
   * Writes the attributes on `images/<id>` (which core has already renamed into place),
   * then atomically points the index link at that file. Readers therefore never see an
   * entry without complete attributes.
   * @throws the filesystem error when the image file is missing or attributes cannot be written.
   */
  async commit(entry: NewCacheEntry): Promise<void> {
    const { imageId } = entry;
    const imageFile = this.imagePath(imageId);
    const linkPath = this.linkPath(imageId);
    await this.changeEntry(imageId, async () => {
      const stored = { size: entry.size, checksum: entry.checksum, lastModified: entry.lastModified };
      await writeEntry(imageFile, stored);
      await writeAccess(imageFile, stored, { hits: 0, lastAccessed: entry.lastModified });
      // Named like core's work files: the pid lets a later open sweep a dead process's link,
      // and the id is shortened when it would not fit the 255-byte name limit.
      const temporary = join(this.indexDir, workFileName(imageId, process.pid));
      await link(imageFile, temporary);
      try {
        await rename(temporary, linkPath);
      } finally {
        // rename() between two links of one inode leaves both in place; drop ours.
        await removeFile(temporary);
      }
      this.tracker.applyChange(imageId, { size: entry.size, hits: 0 });
    });
  }

  async recordHit(imageId: string, accessedAt: number): Promise<boolean> {
    if (!isValidImageId(imageId)) return false;
    const path = this.linkPath(imageId);
    return this.locked(imageId, async () => {
      const stored = await readEntry(path);
      if (!stored) return false;
      const access = await readAccess(path, stored);
      await writeAccess(path, stored, {
        hits: access.hits + 1,
        lastAccessed: Math.max(access.lastAccessed, accessedAt),
      });
      this.tracker.applyChange(imageId, { size: stored.size, hits: access.hits + 1 });
      return true;
    });
  }

  async remove(imageIds: readonly string[]): Promise<number> {
    const unique = [...new Set(imageIds)].filter((imageId) => isValidImageId(imageId));
    let removed = 0;
    await forEachLimited(unique, REMOVE_CONCURRENCY, async (imageId) => {
      if (await this.removeOne(imageId)) removed++;
    });
    return removed;
  }

  async removeAll(): Promise<number> {
    return this.remove(await readdir(this.indexDir));
  }

  /**
   * One directory scan, one sort by `(lastAccessed, imageId)`, then yields in order,
   * skipping entries this driver removed after the scan: O(n log n) however many victims
   * the caller takes.
   */
  async *leastRecentlyUsed(): AsyncIterable<LruEntry> {
    const removed = new Set<string>();
    this.activeScans.add(removed);
    try {
      const ordered = await scanEntries(this.indexDir);
      ordered.sort((a, b) => a.lastAccessed - b.lastAccessed || compareIds(a.imageId, b.imageId));
      for (const { imageId, size, lastAccessed } of ordered) {
        if (!removed.has(imageId)) yield { imageId, size, lastAccessed };
      }
    } finally {
      this.activeScans.delete(removed);
    }
  }

  /** Waits for queued attribute writes (hits core recorded without awaiting), so a reopen sees them. */
  async close(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    this.releaseTracker();
  }

  /**
   * Strips the attributes (from `images/<id>` too when it is still the same file), then
   * unlinks the index link. A crash in between leaves a link without attributes, which
   * scans ignore and the next open sweeps.
   */
  private removeOne(imageId: string): Promise<boolean> {
    const path = this.linkPath(imageId);
    return this.changeEntry(imageId, async () => {
      for (const scan of this.activeScans) scan.add(imageId);
      // Once the link is gone, whoever removed it, the totals drop whatever they counted for
      // the id: the old entry, or nothing when it was never counted.
      try {
        const wasEntry = await stripAttributes(path);
        await unlink(path);
        this.tracker.applyChange(imageId, null);
        return wasEntry;
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
        this.tracker.applyChange(imageId, null);
        return false;
      }
    });
  }

  /** Runs a change that adds or removes an index link, under the id's lock, inside the tracker's directory-change window. */
  private changeEntry<T>(imageId: string, task: () => Promise<T>): Promise<T> {
    return this.tracker.changeDirectory(() => this.locked(imageId, task));
  }

  /** Runs `task` under the id's lock (shared with this process's other instances and with stats scans); close() waits for it. */
  private locked<T>(imageId: string, task: () => Promise<T>): Promise<T> {
    const result = this.tracker.locks.run(imageId, task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return result;
  }

  private linkPath(imageId: string): string {
    return join(this.indexDir, imageId);
  }
}

/**
 * Makes the factory of the xattr driver. Checks the options at once. The factory checks that
 * the cache directory's filesystem supports user extended attributes and hard links,
 * creates the index directory and sweeps what a crashed process left behind.
 * @throws {InvalidOptionError} when `indexDir` is not a plain directory name of the driver's
 *   own, or `statsMaxAge` is not a number of milliseconds, 0 or more.
 * The factory throws `DriverConfigError` when the filesystem has no user xattrs (core then
 * falls back to SQLite), and the filesystem's error for anything else.
 */
export function createXattrDriver(options: XattrDriverOptions = {}): DriverFactory<XattrDriver> {
  const indexName = options.indexDir ?? DEFAULT_INDEX_DIR;
  if (typeof indexName !== 'string' || !isValidImageId(indexName) || isCoreDirectoryName(indexName)) {
    throw new InvalidOptionError(
      'driverOptions.indexDir',
      `${JSON.stringify(indexName)} must be a plain directory name other than images, incomplete, invalid or queue`,
    );
  }
  const statsMaxAge = options.statsMaxAge ?? DEFAULT_STATS_MAX_AGE;
  if (typeof statsMaxAge !== 'number' || !Number.isFinite(statsMaxAge) || statsMaxAge < 0) {
    throw new InvalidOptionError(
      'driverOptions.statsMaxAge',
      `${JSON.stringify(statsMaxAge)} must be a number of milliseconds, 0 or more`,
    );
  }
  return async (context) => {
    const indexDir = join(context.root, indexName);
    await mkdir(indexDir, { recursive: true });
    await probeXattrSupport({ root: context.root, imagesDir: context.imagesDir, entriesDir: indexDir });
    await sweepLeftovers(context.root, indexDir);
    const { tracker, release } = await acquireStatsTracker(indexDir);
    return new XattrDriver(indexDir, (imageId) => context.imagePath(imageId), tracker, statsMaxAge, release);
  };
}
