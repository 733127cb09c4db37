import type { CacheEntry } from '@imgcache/core';
import { readEntries, writeEntries } from './json-file.js';

/**
 * The entries of one metadata file, shared by every driver instance of this process that
 * opens it, so two instances on one root see each other. Loaded from the file when the
 * first instance opens it and dropped when the last one closes.
 */
export class SharedStore {
  private static readonly open = new Map<string, Promise<SharedStore>>();

  readonly entries: Map<string, CacheEntry>;
  private users = 0;
  /** The write every change made so far will be part of, while it has not started. */
  private queuedWrite: Promise<void> | null = null;
  /** Settles after the last scheduled write; the next write starts after it. */
  private lastWrite: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    entries: CacheEntry[],
  ) {
    this.entries = new Map(entries.map((entry) => [entry.imageId, entry]));
  }

  /**
   * The store of `path`, loading the file if no instance of this process has it open.
   * @throws {DriverStoreError} when the file exists but is not valid metadata.
   */
  static async acquire(path: string): Promise<SharedStore> {
    let opening = SharedStore.open.get(path);
    if (!opening) {
      opening = readEntries(path).then((entries) => new SharedStore(path, entries));
      SharedStore.open.set(path, opening);
      opening.catch(() => SharedStore.open.delete(path));
    }
    const store = await opening;
    store.users++;
    return store;
  }

  /**
   * Saves the current entries. Writes run one at a time; changes made while a write runs
   * share the next one, so a burst of N changes costs about two file writes, not N.
   */
  save(): Promise<void> {
    if (!this.queuedWrite) {
      this.queuedWrite = this.lastWrite.then(() => {
        // From here on, later changes need a new write: this one snapshots the entries now.
        this.queuedWrite = null;
        return writeEntries(this.path, this.entries.values());
      });
      this.lastWrite = this.queuedWrite.catch(() => undefined);
    }
    return this.queuedWrite;
  }

  /** Gives up one user; the last one waits for pending writes and unloads the store. */
  async release(): Promise<void> {
    if (--this.users > 0) return;
    await this.lastWrite;
    // Someone may have opened the file again while the last write finished: keep it then.
    if (this.users === 0) SharedStore.open.delete(this.path);
  }
}
