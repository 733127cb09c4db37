import { rename, unlink } from 'node:fs/promises';
import { lockForCommit, releaseClaim, type Claim, type WriteClaim } from './claims.js';
import type { CacheEntry, Driver } from './driver.js';
import { fsyncDirectory } from './io/fsync.js';
import { ignoreMissing } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

/** The entry a verified fill commits (its temporary file is already flushed to disk). */
export interface VerifiedImage {
  imageId: string;
  /** Bytes. */
  size: number;
  /** `algorithm:hex` in the cache's algorithm. */
  checksum: string;
  /** Epoch milliseconds. */
  lastModified: number;
}

/**
 * Moves a verified, flushed temporary file into `images/` and records it: a lock linked to
 * the temporary file (the writer's claim must outlive the rename, see claims.ts), rename,
 * directory fsync, the driver's commit, removal of a queue entry, then the claims' release.
 * A crash before the rename leaves only claim files, which reconcile quarantines; after it,
 * a complete verified file without metadata, which reconcile adopts.
 * @returns the committed entry (0 hits, last accessed = last modified)
 * @throws the error of any step; a file already renamed into place is removed again first,
 *   so nothing unrecorded stays where it would be served.
 */
export async function commitVerified(
  layout: CacheLayout,
  driver: Driver,
  claim: WriteClaim,
  image: VerifiedImage,
): Promise<CacheEntry> {
  let placed = false;
  let lock: Claim | null = null;
  try {
    // Fails with ENOENT when clean reaped the temporary file as stalled: nothing is placed.
    lock = await lockForCommit(layout, claim);
    await rename(claim.path, layout.imagePath(image.imageId));
    placed = true;
    await fsyncDirectory(layout.imagesDir);
    await driver.commit(image);
    await ignoreMissing(unlink(layout.queuePath(image.imageId)));
    // The temporary file's name is gone since the rename; the lock goes once the metadata
    // is in. A lock that cannot be removed is no longer held here: clean reaps it later.
    await releaseClaim(claim).catch(() => undefined);
    await releaseClaim(lock).catch(() => undefined);
    return { ...image, hits: 0, lastAccessed: image.lastModified };
  } catch (error) {
    if (placed) await ignoreMissing(unlink(layout.imagePath(image.imageId))).catch(() => undefined);
    if (lock) await releaseClaim(lock).catch(() => undefined);
    throw error;
  }
}
