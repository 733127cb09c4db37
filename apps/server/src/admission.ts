import { statfs } from 'node:fs/promises';
import type { ImageCache } from '@imgcache/core';
import type { MinFree } from './config.js';

/** Why an image was not admitted into the cache. */
export type RefusalReason = 'budget' | 'min_free' | 'unknown_size';

export type AdmissionResult = { admitted: true; release: () => void } | { admitted: false; reason: RefusalReason };

/**
 * Decides whether a new image may be cached: after pruning, the committed images plus the
 * fills in progress plus the new one must fit in the budget, and the disk must keep its
 * free-space floor. Decisions are taken one at a time so two fills cannot both claim the
 * last free room.
 */
export class Admission {
  private inFlightBytes = 0;
  private inFlightFills = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly cache: ImageCache,
    private readonly maxSize: number,
    private readonly minFree: MinFree,
    private readonly onEvict: (files: number, bytes: number) => void,
  ) {}

  get inFlight(): { fills: number; bytes: number } {
    return { fills: this.inFlightFills, bytes: this.inFlightBytes };
  }

  /**
   * Reserves room for `size` bytes; call `release()` when the fill ends either way.
   * @throws the cache's or the filesystem's error when the decision cannot be taken.
   */
  admit(size: number | undefined): Promise<AdmissionResult> {
    const decision = this.queue.then(() => this.decide(size));
    this.queue = decision.catch(() => undefined);
    return decision;
  }

  private async decide(size: number | undefined): Promise<AdmissionResult> {
    if (size === undefined) return { admitted: false, reason: 'unknown_size' };
    const room = this.maxSize - this.inFlightBytes - size;
    if (room < 0) return { admitted: false, reason: 'budget' };
    const pruned = await this.cache.prune(room);
    if (pruned.files > 0) this.onEvict(pruned.files, pruned.bytes);
    if ((await this.cache.getCacheSize()) + this.inFlightBytes + size > this.maxSize)
      return { admitted: false, reason: 'budget' };
    if ((await this.freeBytesAfter(size)) < 0) return { admitted: false, reason: 'min_free' };
    this.inFlightBytes += size;
    this.inFlightFills += 1;
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlightBytes -= size;
        this.inFlightFills -= 1;
      },
    };
  }

  /**
   * The cache filesystem in bytes: its size, the space an unprivileged writer may still
   * use, and the free-space floor (`--min-free`) that admission keeps.
   * @throws the filesystem's error when it cannot be queried.
   */
  async disk(): Promise<{ totalBytes: number; availableBytes: number; floorBytes: number }> {
    const stats = await statfs(this.cache.layout.root);
    const totalBytes = stats.blocks * stats.bsize;
    const floorBytes =
      'bytes' in this.minFree ? this.minFree.bytes : Math.ceil((totalBytes * this.minFree.percent) / 100);
    return { totalBytes, availableBytes: stats.bavail * stats.bsize, floorBytes };
  }

  /**
   * A warning when the free-space floor is the whole filesystem or more (`--min-free 2T` on
   * a 1 TB disk): every fill would then be refused as if the disk were full.
   * @returns the message, or null when the floor leaves room.
   * @throws the filesystem's error when it cannot be queried.
   */
  async floorWarning(): Promise<string | null> {
    const { totalBytes, floorBytes } = await this.disk();
    if (floorBytes < totalBytes) return null;
    return `--min-free asks to keep ${floorBytes} bytes free on a filesystem of ${totalBytes} bytes (${this.cache.layout.root}): no image can be cached; lower --min-free`;
  }

  /** Free bytes left above the floor once this image and the running fills are written. */
  private async freeBytesAfter(size: number): Promise<number> {
    const { availableBytes, floorBytes } = await this.disk();
    return availableBytes - this.inFlightBytes - size - floorBytes;
  }
}
