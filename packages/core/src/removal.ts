import { stat } from 'node:fs/promises';
import { withLock } from './claims.js';
import type { Driver } from './driver.js';
import type { FillRegistry } from './fill-registry.js';
import type { HitRecorder } from './hit-recorder.js';
import { removeFile } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';
import type { Logger } from './logger.js';
import type { OpenFiles } from './open-files.js';
import { evict, planPrune, type PruneResult } from './prune.js';
import { quarantineFile } from './quarantine.js';
import { describeRepair, type Repair } from './repairs.js';

/** What taking images out of the cache touches. */
export interface RemovalContext {
  layout: CacheLayout;
  driver: Driver;
  logger: Logger;
  fills: FillRegistry;
  openFiles: OpenFiles;
  hits: HitRecorder;
}

/**
 * Every way an image leaves the cache: delete, delete all, prune, and dropping a damaged
 * entry found by a read. Each also forgets what this process holds of the image (open
 * descriptors, pending hits) and, for deletes, cancels its running fill so that a deleted
 * image is not committed again by a download already under way.
 */
export class Removal {
  /** Serialises prunes so two of them never pick the same victims. */
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(private readonly context: RemovalContext) {}

  /**
   * Removes one image (file and entry) under its lock. An image that another process is
   * writing right now is left to it: its commit would otherwise record a file that is gone.
   * @returns true when a file or an entry was removed.
   */
  async deleteImage(imageId: string): Promise<boolean> {
    const { layout, driver, fills } = this.context;
    await fills.cancel(imageId);
    this.forget(imageId);
    const outcome = await withLock(layout, imageId, async () => {
      const removedFile = await removeFile(layout.imagePath(imageId));
      const removedEntry = (await driver.remove([imageId])) > 0;
      return removedFile || removedEntry;
    });
    return outcome?.value ?? false;
  }

  /**
   * Removes every image cached when it starts and cancels in-flight fills. Images that
   * other processes commit meanwhile, or are writing at that moment, stay.
   * @returns how many image files were removed.
   */
  async deleteAll(): Promise<number> {
    const { layout, driver, fills } = this.context;
    await fills.cancelAll();
    const entries = await driver.list();
    const result = await evict(layout, driver, entries);
    for (const { imageId } of entries) this.context.openFiles.retire(imageId);
    return result.files;
  }

  /**
   * Evicts least-recently-used images until the cache fits in `maxSize` bytes (pending hits
   * are written first, so the order is current). Images open for reading go last; their
   * readers keep their bytes.
   */
  async prune(maxSize: number): Promise<PruneResult> {
    const run = this.pruning.then(async () => {
      const victims = await this.victims(maxSize);
      const result = await evict(this.context.layout, this.context.driver, victims);
      for (const { imageId } of victims) this.context.openFiles.retire(imageId);
      return result;
    });
    this.pruning = run.catch(() => undefined);
    return run;
  }

  /** The images {@link prune} would evict now, without evicting them. */
  async planPrune(maxSize: number): Promise<{ imageId: string; size: number }[]> {
    return (await this.victims(maxSize)).map(({ imageId, size }) => ({ imageId, size }));
  }

  /**
   * Drops the metadata of an image whose file is gone or damaged, moving a damaged file
   * aside. Done under the image's lock after a re-check: a writer in another process may be
   * replacing the file right now, and its commit puts the metadata right.
   */
  async dropDamaged(imageId: string, reason: string): Promise<void> {
    const { layout, driver, logger } = this.context;
    this.forget(imageId);
    await withLock(layout, imageId, async () => {
      const entry = await driver.get(imageId);
      const info = await stat(layout.imagePath(imageId)).catch(() => null);
      if (!entry || info?.size === entry.size) return;
      const moved = info ? await quarantineFile(layout, layout.imagePath(imageId), imageId, 'resized') : null;
      await driver.remove([imageId]);
      const repair: Repair = info
        ? { action: 'quarantined', imageId, cause: 'resized', reason, movedTo: moved?.movedTo ?? null }
        : { action: 'dropped', imageId, cause: 'missing', reason };
      logger.warn({ ...repair }, `read: ${describeRepair(repair)}`);
    });
  }

  /** Closes this process's descriptors of an image and drops its pending hits: its file is going away. */
  forget(imageId: string): void {
    this.context.openFiles.retire(imageId);
    this.context.hits.forget(imageId);
  }

  private async victims(maxSize: number) {
    const { driver, openFiles, hits } = this.context;
    await hits.flush();
    return planPrune({ driver, maxSize, inUse: (imageId) => openFiles.inUse(imageId) });
  }
}
