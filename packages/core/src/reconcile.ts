import type { Stats } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChecksumAlgorithm } from './checksum.js';
import { claimOwner, releaseClaims, takeLocks, withLock } from './claims.js';
import { nextTimestamp } from './clock.js';
import type { Driver } from './driver.js';
import { isValidImageId } from './image-id.js';
import { errnoCode, ignoreMissing } from './io/fs-errors.js';
import { hashFile } from './io/hash-file.js';
import type { CacheLayout } from './layout.js';
import type { Logger } from './logger.js';
import { quarantineFile } from './quarantine.js';
import { RepairLog, type Repair } from './repairs.js';

/** What startup reconcile changed. */
export interface ReconcileReport {
  /** Work files of writers that are gone, moved to `invalid/`. */
  abandonedWrites: number;
  /** Metadata entries whose file was gone, dropped. */
  droppedEntries: number;
  /** Complete files without metadata (a crash between rename and commit), adopted. */
  adoptedFiles: number;
  /** Other files that could not be trusted (size differs from metadata, foreign names), moved to `invalid/`. */
  quarantinedFiles: number;
  /** Every change above, in the order made, naming the image and the cause. */
  repairs: Repair[];
}

/**
 * Brings metadata and disk back into agreement after a crash or a change behind the
 * cache's back, so that the size accounting equals the bytes on disk and nothing partial
 * or altered is ever served. Each repair is logged as a warning that names the image and
 * the cause. Images that a live process holds a claim on are left to it (claims.ts): other
 * processes may share the directory and be committing them right now.
 */
export async function reconcile(
  layout: CacheLayout,
  driver: Driver,
  algorithm: ChecksumAlgorithm,
  logger: Logger,
): Promise<ReconcileReport> {
  const log = new RepairLog(logger, 'startup reconcile');

  for (const name of await readdir(layout.incompleteDir)) {
    const owner = claimOwner(layout, name);
    if (owner?.live) continue;
    const path = join(layout.incompleteDir, name);
    // A lock holds no data of its own: its file was placed in images/ (checked below) or
    // its work file is still here (quarantined in this loop).
    if (owner?.lock) {
      await ignoreMissing(unlink(path));
      continue;
    }
    const subject = owner?.key ?? name;
    const cause = owner ? 'abandoned' : 'foreign';
    const moved = await quarantineFile(layout, path, subject, cause);
    const reason = owner
      ? `unfinished write of process ${owner.pid}, which is gone`
      : 'a file the cache did not create, in incomplete/';
    if (moved) log.record({ action: 'quarantined', imageId: subject, cause, reason, movedTo: moved.movedTo });
  }

  const entries = new Map((await driver.list()).map((entry) => [entry.imageId, entry]));
  // Files present, and among them those that are cached once this pass is done.
  const seen = new Set<string>();
  const cached = new Set<string>();
  for (const name of await readdir(layout.imagesDir)) {
    const path = join(layout.imagesDir, name);
    if (!isValidImageId(name)) {
      const moved = await quarantineFile(layout, path, name, 'foreign');
      if (moved)
        log.record({
          action: 'quarantined',
          imageId: name,
          cause: 'foreign',
          reason: 'a file name that is not an image id, in images/',
          movedTo: moved.movedTo,
        });
      continue;
    }
    const info = await statIfPresent(path);
    if (!info) continue;
    if (!info.isFile()) {
      logger.warn({ path }, `ignoring ${path}: not a regular file, in the images directory`);
      continue;
    }
    seen.add(name);
    const listed = entries.get(name);
    if (listed && listed.size === info.size) {
      cached.add(name);
      continue;
    }
    // Re-checked under a lock: the listing may predate another process's commit, and a
    // live writer committing this image right now holds a claim (then it is left to it).
    const kept = await withLock(layout, name, () => settleFile(layout, driver, algorithm, log, name));
    if (kept?.value) cached.add(name);
  }

  await dropMissing(
    layout,
    driver,
    log,
    [...entries.keys()].filter((imageId) => !seen.has(imageId)),
  );

  // A crash between commit and dequeue leaves a marker for a cached image.
  for (const name of await readdir(layout.queueDir)) {
    if (cached.has(name)) await ignoreMissing(unlink(join(layout.queueDir, name)));
  }

  log.summarise();
  const count = (test: (repair: Repair) => boolean) => log.repairs.filter(test).length;
  return {
    abandonedWrites: count((repair) => repair.cause === 'abandoned'),
    droppedEntries: count((repair) => repair.action === 'dropped'),
    adoptedFiles: count((repair) => repair.action === 'adopted'),
    quarantinedFiles: count((repair) => repair.action === 'quarantined' && repair.cause !== 'abandoned'),
    repairs: log.repairs,
  };
}

/**
 * Decides, under the image's lock, about a file whose metadata is missing or disagrees.
 * @returns whether the file stays in images/.
 */
async function settleFile(
  layout: CacheLayout,
  driver: Driver,
  algorithm: ChecksumAlgorithm,
  log: RepairLog,
  imageId: string,
): Promise<boolean> {
  const path = layout.imagePath(imageId);
  const info = await statIfPresent(path);
  if (!info) return false;
  const entry = await driver.get(imageId);
  if (entry && entry.size === info.size) return true;
  if (entry) {
    // The file is not the one that was committed: never serve it. File first, then
    // metadata: a crash in between leaves an entry without a file, which is dropped, never
    // an altered file without metadata, which would be adopted.
    const moved = await quarantineFile(layout, path, imageId, 'resized');
    await driver.remove([imageId]);
    const reason = `file is ${info.size} bytes, its metadata says ${entry.size}`;
    log.record({ action: 'quarantined', imageId, cause: 'resized', reason, movedTo: moved?.movedTo ?? null });
    return false;
  }
  // Only a verified, fsynced file is ever renamed into images/, so one without metadata
  // (and without a live claim) is a commit interrupted after its rename: adopt it.
  let hashed: { hex: string; size: number };
  try {
    hashed = await hashFile(path, algorithm);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
  await driver.commit({
    imageId,
    size: hashed.size,
    checksum: `${algorithm}:${hashed.hex}`,
    lastModified: nextTimestamp(),
  });
  const reason =
    'complete file without metadata (a commit interrupted after the file was placed): re-hashed and recorded';
  log.record({ action: 'adopted', imageId, cause: 'unrecorded', reason });
  return true;
}

/**
 * Drops entries whose file is gone, each under its lock and only if the entry is still
 * there and its file still gone: a prune or delete in another process removes the file
 * first and the entry next, and that is no repair.
 */
async function dropMissing(layout: CacheLayout, driver: Driver, log: RepairLog, candidates: string[]): Promise<void> {
  if (candidates.length === 0) return;
  const locks = await takeLocks(layout, candidates);
  try {
    const gone: string[] = [];
    for (const { imageId } of locks) {
      if ((await driver.get(imageId)) && !(await statIfPresent(layout.imagePath(imageId)))) gone.push(imageId);
    }
    if (gone.length === 0) return;
    await driver.remove(gone);
    for (const imageId of gone) {
      log.record({
        action: 'dropped',
        imageId,
        cause: 'missing',
        reason: 'metadata without a file (deleted behind the cache, or a removal interrupted)',
      });
    }
  } finally {
    await releaseClaims(locks);
  }
}

async function statIfPresent(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
}
