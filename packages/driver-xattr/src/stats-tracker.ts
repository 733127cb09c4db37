import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachLimited, isValidImageId, type DriverStats } from '@imgcache/core';
import { readDirectoryStamp, sameStamp, type DirectoryStamp } from './directory-stamp.js';
import { readCacheEntry } from './entry-scan.js';
import { KeyLock } from './key-lock.js';

/** What one entry adds to the totals; null when there is no entry. */
export interface EntryWeight {
  size: number;
  hits: number;
}

/** Totals together with what each id contributes to them, so a change replaces exactly what was counted. */
class Tally {
  readonly totals: DriverStats = { count: 0, totalSize: 0, totalHits: 0 };
  private readonly weights = new Map<string, EntryWeight>();

  set(imageId: string, weight: EntryWeight | null): void {
    const counted = this.weights.get(imageId);
    this.totals.count += (weight ? 1 : 0) - (counted ? 1 : 0);
    this.totals.totalSize += (weight?.size ?? 0) - (counted?.size ?? 0);
    this.totals.totalHits += (weight?.hits ?? 0) - (counted?.hits ?? 0);
    if (weight) this.weights.set(imageId, { size: weight.size, hits: weight.hits });
    else this.weights.delete(imageId);
  }
}

/** Attribute reads in flight at once during a scan, as in `scanEntries`. */
const SCAN_CONCURRENCY = 32;

/** Bookkeeping of one running scan, so changes made while it runs are counted exactly once. */
interface RunningScan {
  /** Names the scan listed: false until their attributes are read, then true. Null before readdir returns. */
  listed: Map<string, boolean> | null;
  /** Latest weight of ids changed while readdir was running. */
  early: Map<string, EntryWeight | null>;
  tally: Tally;
}

/**
 * In-memory `stats()` totals of one index directory, shared by every driver instance of this
 * process on that directory. One full scan builds them; this process's commits, hits and
 * removals update them through {@link StatsTracker.applyChange}; a rescan happens only when
 * the directory's stamp shows a change this process did not make, or when the last scan
 * finished longer ago than the caller's maximum age (for attribute-only changes of other
 * processes, such as their hits, and directory changes hidden by coarse timestamps).
 *
 * Entry changes and scan reads of one id run under {@link StatsTracker.locks}, so for every
 * id a scan knows whether it read the value before or after a change, and counts each
 * change once, without blocking writers for the length of a scan.
 */
export class StatsTracker {
  /** Per-id lock shared by every instance on this directory (and by scans). */
  readonly locks = new KeyLock();
  /** Full scans done so far (a diagnostic, and what tests count). */
  scans = 0;

  private tally: Tally | null = null;
  /** When the last scan finished. Ages count from the end, or a scan longer than the maximum age would repeat at every call. */
  private scannedAt = 0;
  /** The directory stamp that matches {@link tally}; null when unknown. */
  private expected: DirectoryStamp | null = null;
  /** Set when the directory changed behind this process's back, or a change of ours failed midway. */
  private outdated = false;
  /** Directory-changing operations of this process in flight. */
  private busy = 0;
  private batchCheck: Promise<void> = Promise.resolve();
  /** Stamp reads run one after another, so a batch's closing stat never overtakes the next batch's opening one. */
  private stampQueue: Promise<unknown> = Promise.resolve();
  private scanning: Promise<void> | null = null;
  private readonly runningScans = new Set<RunningScan>();

  constructor(
    readonly directory: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Current totals: exact for this process's own changes; other processes' changes are
   * included once the directory stamp shows them, and always by the first scan that starts
   * `maxAgeMs` after the previous one finished.
   * @throws the filesystem error of a failed scan.
   */
  async stats(maxAgeMs: number): Promise<DriverStats> {
    if (this.scanning) await this.scanning;
    else if (await this.needsScan(maxAgeMs)) await this.rescan();
    const { count, totalSize, totalHits } = this.tally!.totals;
    return { count, totalSize, totalHits };
  }

  /**
   * Runs `work`, which adds or removes names in the directory. Before the first of a batch
   * of overlapping changes, checks that nobody else changed the directory since the last
   * known stamp; after the last, records the new stamp as ours.
   */
  async changeDirectory<T>(work: () => Promise<T>): Promise<T> {
    if (++this.busy === 1) {
      this.batchCheck = this.queueStampWork(async () => {
        if (!sameStamp(await readDirectoryStamp(this.directory), this.expected)) this.outdated = true;
      });
    }
    try {
      await this.batchCheck;
      return await work();
    } catch (error) {
      // What a failed change left behind is unknown: count again next time.
      this.outdated = true;
      throw error;
    } finally {
      if (--this.busy === 0) {
        await this.queueStampWork(async () => {
          this.expected = await readDirectoryStamp(this.directory);
        });
      }
    }
  }

  /**
   * Records that this process left the entry of `imageId` as `after` (null: no entry). Call
   * it under `locks` for that id, once the change is on disk. What was counted for the id
   * before is replaced, so a replaced entry's size and hits drop out, and removing an id that
   * was never counted subtracts nothing.
   */
  applyChange(imageId: string, after: EntryWeight | null): void {
    this.tally?.set(imageId, after);
    for (const scan of this.runningScans) {
      if (scan.listed === null) scan.early.set(imageId, after);
      // A listed id not read yet: the scan reads the new value itself.
      else if (scan.listed.get(imageId) !== false) scan.tally.set(imageId, after);
    }
  }

  private async needsScan(maxAgeMs: number): Promise<boolean> {
    if (this.tally === null || this.outdated || this.now() - this.scannedAt >= maxAgeMs) return true;
    let changed = false;
    await this.queueStampWork(async () => {
      // While changes of ours are in flight the stamp moves anyway; the closing stat settles it.
      if (this.busy === 0) changed = !sameStamp(await readDirectoryStamp(this.directory), this.expected);
    });
    return changed || this.outdated;
  }

  private rescan(): Promise<void> {
    this.scanning ??= this.scan().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private async scan(): Promise<void> {
    this.scans++;
    this.outdated = false;
    const scan: RunningScan = { listed: null, early: new Map(), tally: new Tally() };
    this.runningScans.add(scan);
    try {
      await this.queueStampWork(async () => {
        // With changes of ours in flight, the stamp is recorded when they finish.
        if (this.busy === 0) this.expected = await readDirectoryStamp(this.directory);
      });
      const listed = new Map<string, boolean>();
      for (const name of await readdir(this.directory)) if (isValidImageId(name)) listed.set(name, false);
      scan.listed = listed;
      // Unique names: a directory changing while it is read may list a name twice.
      const names = [...listed.keys()];
      for (const [imageId, after] of scan.early) {
        // Listed ids are read later and show the change; the scan never sees the others.
        if (!listed.has(imageId)) scan.tally.set(imageId, after);
      }
      await forEachLimited(names, SCAN_CONCURRENCY, (imageId) =>
        this.locks.run(imageId, async () => {
          const entry = await readCacheEntry(join(this.directory, imageId), imageId);
          scan.tally.set(imageId, entry && { size: entry.size, hits: entry.hits });
          listed.set(imageId, true);
        }),
      );
      this.tally = scan.tally;
      this.scannedAt = this.now();
    } catch (error) {
      this.outdated = true;
      throw error;
    } finally {
      this.runningScans.delete(scan);
    }
  }

  /** Queues `task` after earlier stamp work; a failed stamp read makes the totals unknown instead of failing the caller. */
  private queueStampWork(task: () => Promise<void>): Promise<void> {
    const run = this.stampQueue.then(task).catch(() => {
      this.outdated = true;
    });
    this.stampQueue = run;
    return run;
  }
}

const sharedTrackers = new Map<string, { tracker: StatsTracker; users: number }>();

/**
 * The tracker of `directory`, shared with the other driver instances of this process on the
 * same directory (same device and inode), so their changes keep one set of totals exact.
 * Call `release` when the instance closes.
 * @throws the filesystem error when the directory cannot be stat'ed.
 */
export async function acquireStatsTracker(directory: string): Promise<{ tracker: StatsTracker; release: () => void }> {
  const { dev, ino } = await stat(directory, { bigint: true });
  const key = `${dev}:${ino}`;
  let shared = sharedTrackers.get(key);
  if (!shared) {
    shared = { tracker: new StatsTracker(directory), users: 0 };
    sharedTrackers.set(key, shared);
  }
  shared.users++;
  const held = shared;
  let released = false;
  return {
    tracker: held.tracker,
    release: () => {
      if (released) return;
      released = true;
      if (--held.users === 0 && sharedTrackers.get(key) === held) sharedTrackers.delete(key);
    },
  };
}
