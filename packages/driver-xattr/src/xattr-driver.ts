import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DRIVER_CONTRACT_VERSION,
  InvalidOptionError,
  isValidImageId,
  parseWorkFileName,
  type CacheEntry,
  type Driver,
  type DriverContext,
  type DriverStats,
  type LruEntry,
  type NewCacheEntry,
} from '@imgcache/core';
import { errorCode, readAccess, readEntry, stripAttributes, writeAccess, writeEntry } from './attributes.js';
import { compareIds, readCacheEntry, scanEntries } from './entry-scan.js';
import { KeyLock } from './key-lock.js';
import { probeXattrSupport } from './support-probe.js';

export interface XattrDriverOptions {
  /**
   * Directory, inside the cache root, that holds one hard link per committed image
   * (the entry index). Default `xattr-entries`. It must be on the same filesystem as
   * `images/`.
   */
  indexDir?: string;
}

export const DEFAULT_INDEX_DIR = 'xattr-entries';
const CORE_DIRECTORIES = new Set(['images', 'incomplete', 'invalid', 'queue']);
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

  private readonly locks = new KeyLock();
  /** Ids removed while each running LRU scan is in progress, so the scan skips them. */
  private readonly activeScans = new Set<Set<string>>();

  constructor(
    private readonly indexDir: string,
    private readonly imagePath: (imageId: string) => string,
  ) {}

  async get(imageId: string): Promise<CacheEntry | null> {
    if (!isValidImageId(imageId)) return null;
    return readCacheEntry(this.linkPath(imageId), imageId);
  }

  async list(): Promise<CacheEntry[]> {
    return (await scanEntries(this.indexDir)).sort((a, b) => compareIds(a.imageId, b.imageId));
  }

  async stats(): Promise<DriverStats> {
    // Always from disk: another process may have committed or removed entries since.
    const totals: DriverStats = { count: 0, totalSize: 0, totalHits: 0 };
    for (const entry of await scanEntries(this.indexDir)) {
      totals.count++;
      totals.totalSize += entry.size;
      totals.totalHits += entry.hits;
    }
    return totals;
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
    await this.locks.run(imageId, async () => {
      const stored = { size: entry.size, checksum: entry.checksum, lastModified: entry.lastModified };
      await writeEntry(imageFile, stored);
      await writeAccess(imageFile, stored, { hits: 0, lastAccessed: entry.lastModified });
      const temporary = join(this.indexDir, `${imageId}~${process.pid}-${randomBytes(6).toString('hex')}`);
      await link(imageFile, temporary);
      try {
        await rename(temporary, this.linkPath(imageId));
      } finally {
        // rename() between two links of one inode leaves both in place; drop ours.
        await unlinkIfPresent(temporary);
      }
    });
  }

  async recordHit(imageId: string, accessedAt: number): Promise<boolean> {
    if (!isValidImageId(imageId)) return false;
    const path = this.linkPath(imageId);
    return this.locks.run(imageId, async () => {
      const stored = await readEntry(path);
      if (!stored) return false;
      const access = await readAccess(path, stored);
      await writeAccess(path, stored, { hits: access.hits + 1, lastAccessed: Math.max(access.lastAccessed, accessedAt) });
      return true;
    });
  }

  async remove(imageIds: readonly string[]): Promise<number> {
    const unique = [...new Set(imageIds)].filter((imageId) => isValidImageId(imageId));
    let removed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) {
        if (await this.removeOne(unique[next++]!)) removed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(REMOVE_CONCURRENCY, unique.length) }, worker));
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
    await this.locks.drain();
  }

  /**
   * Strips the attributes (from `images/<id>` too when it is still the same file), then
   * unlinks the index link. A crash in between leaves a link without attributes, which
   * scans ignore and the next open sweeps.
   */
  private removeOne(imageId: string): Promise<boolean> {
    const path = this.linkPath(imageId);
    return this.locks.run(imageId, async () => {
      for (const scan of this.activeScans) scan.add(imageId);
      try {
        const wasEntry = await stripAttributes(path);
        await unlink(path);
        return wasEntry;
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return false;
        throw error;
      }
    });
  }

  private linkPath(imageId: string): string {
    return join(this.indexDir, imageId);
  }
}

/**
 * Opens the xattr driver on a cache directory: checks that its filesystem supports user
 * extended attributes and hard links, creates the index directory and sweeps what a
 * crashed process left behind.
 * @throws {DriverConfigError} when the filesystem has no user xattrs (core then falls back to SQLite).
 * @throws {InvalidOptionError} when `indexDir` is not a plain directory name of the driver's own.
 */
export async function createXattrDriver(context: DriverContext): Promise<XattrDriver> {
  const options = context.options as XattrDriverOptions;
  const indexName = options.indexDir ?? DEFAULT_INDEX_DIR;
  if (typeof indexName !== 'string' || !isValidImageId(indexName) || CORE_DIRECTORIES.has(indexName)) {
    throw new InvalidOptionError('driverOptions.indexDir', `${JSON.stringify(indexName)} must be a plain directory name other than images, incomplete, invalid or queue`);
  }
  const indexDir = join(context.root, indexName);
  await mkdir(indexDir, { recursive: true });
  await probeXattrSupport({ root: context.root, imagesDir: context.imagesDir, entriesDir: indexDir });
  await sweepLeftovers(context.root, indexDir);
  return new XattrDriver(indexDir, (imageId) => context.imagePath(imageId));
}

/** Removes temporary links and probe files of processes that died before cleaning up. */
async function sweepLeftovers(root: string, indexDir: string): Promise<void> {
  for (const name of await readdir(indexDir)) {
    const owner = parseWorkFileName(name);
    if (owner && !isAlive(owner.pid)) await unlinkIfPresent(join(indexDir, name));
  }
  for (const name of await readdir(root)) {
    const match = /^\.imgcache-xattr-probe-(\d+)-[0-9a-f]+$/.exec(name);
    if (match && !isAlive(Number(match[1]))) await unlinkIfPresent(join(root, name));
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}
