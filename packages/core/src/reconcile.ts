import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChecksumAlgorithm } from './checksum.js';
import { nextTimestamp } from './clock.js';
import type { Driver } from './driver.js';
import { isValidImageId } from './image-id.js';
import { errnoCode, ignoreMissing, isProcessAlive } from './io/fs-errors.js';
import { hashFile } from './io/hash-file.js';
import { parseWorkFileName, type CacheLayout } from './layout.js';
import type { Logger } from './logger.js';

/** What startup reconcile changed. */
export interface ReconcileReport {
  /** Temporary files of dead writers moved to `invalid/`. */
  abandonedWrites: number;
  /** Metadata entries whose file was gone, dropped. */
  droppedEntries: number;
  /** Complete files without metadata (a crash between rename and commit), adopted. */
  adoptedFiles: number;
  /** Files that could not be trusted (size differs from metadata, foreign names), moved to `invalid/`. */
  quarantinedFiles: number;
}

/**
 * Brings metadata and disk back into agreement after a crash, so that the size accounting
 * equals the bytes on disk and nothing partial is ever served.
 */
export async function reconcile(
  layout: CacheLayout,
  driver: Driver,
  algorithm: ChecksumAlgorithm,
  logger: Logger,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { abandonedWrites: 0, droppedEntries: 0, adoptedFiles: 0, quarantinedFiles: 0 };

  for (const name of await readdir(layout.incompleteDir)) {
    const owner = parseWorkFileName(name);
    // A live writer in another process sharing this directory keeps its file.
    if (owner && owner.pid !== process.pid && isProcessAlive(owner.pid)) continue;
    if (await quarantine(join(layout.incompleteDir, name), layout, name)) report.abandonedWrites++;
  }

  const entries = new Map((await driver.list()).map((entry) => [entry.imageId, entry]));
  const seen = new Set<string>();
  for (const name of await readdir(layout.imagesDir)) {
    const path = join(layout.imagesDir, name);
    if (!isValidImageId(name)) {
      if (await quarantine(path, layout, `foreign~${name.replace(/[^A-Za-z0-9._-]/g, '_')}`)) report.quarantinedFiles++;
      continue;
    }
    const info = await stat(path).catch((error: unknown) => (errnoCode(error) === 'ENOENT' ? null : Promise.reject(error)));
    if (!info) continue;
    if (!info.isFile()) {
      logger.warn({ path }, 'ignoring a non-file in the images directory');
      continue;
    }
    seen.add(name);
    let entry = entries.get(name);
    if (entry && entry.size === info.size) continue;
    // The snapshot may predate a commit by another process sharing the directory.
    entry = (await driver.get(name)) ?? undefined;
    if (entry && entry.size === info.size) continue;
    if (entry) {
      // The file is not the one that was committed: never serve it.
      await driver.remove([name]);
      if (await quarantine(path, layout, `${name}~0-resized`)) report.quarantinedFiles++;
      seen.delete(name);
      continue;
    }
    // Only a verified, fsynced file is ever renamed into images/, so one without metadata
    // is a commit interrupted after its rename: adopt it with a fresh checksum.
    let hashed;
    try {
      hashed = await hashFile(path, algorithm);
    } catch (error) {
      // Another process sharing the directory removed it meanwhile: nothing to adopt.
      if (errnoCode(error) === 'ENOENT') continue;
      throw error;
    }
    await driver.commit({ imageId: name, size: hashed.size, checksum: `${algorithm}:${hashed.hex}`, lastModified: nextTimestamp() });
    report.adoptedFiles++;
  }

  const missing = [...entries.keys()].filter((imageId) => !seen.has(imageId));
  if (missing.length > 0) report.droppedEntries = await driver.remove(missing);

  // A crash between commit and dequeue leaves a marker for a cached image.
  for (const name of await readdir(layout.queueDir)) {
    if (seen.has(name)) await ignoreMissing(unlink(join(layout.queueDir, name)));
  }

  if (report.abandonedWrites + report.droppedEntries + report.adoptedFiles + report.quarantinedFiles > 0) {
    logger.warn({ ...report }, 'reconciled the cache directory after an unclean shutdown');
  }
  return report;
}

async function quarantine(path: string, layout: CacheLayout, name: string): Promise<boolean> {
  try {
    await rename(path, join(layout.invalidDir, name));
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    await ignoreMissing(unlink(path));
    return true;
  }
}
