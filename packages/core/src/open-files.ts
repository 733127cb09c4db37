import { close, fstat, open, read, statSync } from 'node:fs';
import { promisify } from 'node:util';
import type { CacheEntry } from './driver.js';
import { errnoCode } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const readAsync = promisify(read);

/** Limits of the open-file cache. Defaults follow nginx's `open_file_cache` habits. */
export interface OpenFilesOptions {
  /** Descriptors kept open at most. Default 1000. */
  maxFiles?: number;
  /** Seconds a descriptor stays open unused. Default 30. */
  idleSeconds?: number;
  /** Bytes of small images kept whole in memory. Default 64 MiB; 0 disables. */
  memoryBytes?: number;
  /** Largest image kept in memory, in bytes. Default 4 MiB. */
  memoryMaxImage?: number;
}

/** A committed image open for reading. Release it with {@link OpenFiles.release}. */
export interface OpenImage {
  readonly imageId: string;
  /** Its metadata as committed. */
  readonly entry: CacheEntry;
  /** A read-only descriptor. Read it only with positional reads: it is shared. */
  readonly fd: number;
  /** The whole file, for small images kept in memory; null otherwise. */
  readonly bytes: Buffer | null;
}

interface Slot extends OpenImage {
  ino: number;
  users: number;
  lastUsed: number;
  /** Dropped from the cache: close once the last user releases it. */
  retired: boolean;
}

/** Why {@link OpenFiles.acquire} found no servable file although there was metadata. */
export type OpenProblem = 'missing' | 'resized';

/**
 * Keeps descriptors of recently served images open, and small ones whole in memory, so a
 * hit needs neither a metadata lookup nor an open(2).
 *
 * Exactness across processes: each hit stats the image's path and serves the cached
 * descriptor only if the path still names the same inode with the recorded size; a file
 * another process deleted, pruned, quarantined or replaced is opened afresh with fresh
 * metadata, or reported missing. Descriptors of files this process removes are closed as
 * soon as their last reader finishes; idle ones are closed after `idleSeconds`, so an
 * evicted file's disk space is not pinned for long.
 */
export class OpenFiles {
  private readonly slots = new Map<string, Slot>();
  private readonly maxFiles: number;
  private readonly idleMs: number;
  private readonly memoryBytes: number;
  private readonly memoryMaxImage: number;
  private memoryUsed = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly layout: CacheLayout,
    options: OpenFilesOptions = {},
  ) {
    this.maxFiles = options.maxFiles ?? 1000;
    this.idleMs = (options.idleSeconds ?? 30) * 1000;
    this.memoryBytes = options.memoryBytes ?? 64 * 1024 * 1024;
    this.memoryMaxImage = options.memoryMaxImage ?? 4 * 1024 * 1024;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.idleMs / 2)).unref();
  }

  /**
   * Opens a committed image, from the cache of descriptors when it is still valid.
   * @param load fetches the image's metadata when the descriptor must be (re)opened.
   * @returns the open image, null when it has no metadata, or the problem found on disk.
   */
  async acquire(imageId: string, load: () => Promise<CacheEntry | null>): Promise<OpenImage | null | OpenProblem> {
    const path = this.layout.imagePath(imageId);
    const cached = this.slots.get(imageId);
    if (cached) {
      // Synchronous on purpose: a stat of a cached dentry costs about a microsecond, while the
      // thread-pool hand-off of an async one costs five futex calls and two thread switches
      // per hit (measured with strace -c). The cache directory is local by design.
      const info = statSync(path, { throwIfNoEntry: false });
      if (info && info.ino === cached.ino && info.size === cached.entry.size && !cached.retired)
        return this.use(cached);
      this.retire(imageId);
    }
    const entry = await load();
    if (!entry) return null;
    let fd: number;
    try {
      fd = await openAsync(path, 'r');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return 'missing';
      throw error;
    }
    const info = await fstatAsync(fd);
    if (info.size !== entry.size) {
      close(fd, () => undefined);
      return 'resized';
    }
    const bytes = await this.loadIntoMemory(fd, entry.size);
    const slot: Slot = { imageId, entry, fd, bytes, ino: info.ino, users: 0, lastUsed: 0, retired: false };
    // A concurrent acquire may have opened it too: keep one.
    const raced = this.slots.get(imageId);
    if (raced && !raced.retired && raced.ino === slot.ino) {
      this.closeSlot(slot);
      return this.use(raced);
    }
    if (raced) this.retire(imageId);
    this.slots.set(imageId, slot);
    this.trimToLimit();
    return this.use(slot);
  }

  /** Ends one use of an image from {@link acquire}. */
  release(image: OpenImage): void {
    const slot = image as Slot;
    slot.users--;
    slot.lastUsed = Date.now();
    if (slot.retired && slot.users === 0) this.closeSlot(slot);
  }

  /** True while a reader holds the image. */
  inUse(imageId: string): boolean {
    return (this.slots.get(imageId)?.users ?? 0) > 0;
  }

  /** Forgets an image (deleted, pruned, replaced here): its descriptor closes after its last reader. */
  retire(imageId: string): void {
    const slot = this.slots.get(imageId);
    if (!slot) return;
    this.slots.delete(imageId);
    slot.retired = true;
    if (slot.users === 0) this.closeSlot(slot);
  }

  /** Closes everything; readers still streaming keep their descriptors until they release. */
  close(): void {
    clearInterval(this.sweeper);
    for (const imageId of [...this.slots.keys()]) this.retire(imageId);
  }

  private use(slot: Slot): Slot {
    slot.users++;
    // Map order is the LRU order: move to the back.
    this.slots.delete(slot.imageId);
    this.slots.set(slot.imageId, slot);
    return slot;
  }

  private async loadIntoMemory(fd: number, size: number): Promise<Buffer | null> {
    if (size > this.memoryMaxImage || this.memoryUsed + size > this.memoryBytes) return null;
    const buffer = Buffer.allocUnsafeSlow(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await readAsync(fd, buffer, done, size - done, done);
      if (bytesRead === 0) return null;
      done += bytesRead;
    }
    this.memoryUsed += size;
    return buffer;
  }

  private trimToLimit(): void {
    for (const slot of this.slots.values()) {
      if (this.slots.size <= this.maxFiles) return;
      if (slot.users === 0) this.retire(slot.imageId);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const slot of [...this.slots.values()]) {
      if (slot.users === 0 && slot.lastUsed <= cutoff) this.retire(slot.imageId);
    }
  }

  private closeSlot(slot: Slot): void {
    if (slot.bytes) this.memoryUsed -= slot.bytes.byteLength;
    close(slot.fd, () => undefined);
  }
}
