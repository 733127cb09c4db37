import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChecksumAlgorithm } from './checksum.js';
import { withLock } from './claims.js';
import type { CacheEntry, Driver } from './driver.js';
import { isValidImageId } from './image-id.js';
import { errnoCode } from './io/fs-errors.js';
import { hashFile } from './io/hash-file.js';
import type { CacheLayout } from './layout.js';
import type { Logger } from './logger.js';
import { quarantineFile } from './quarantine.js';
import { RepairLog } from './repairs.js';

export interface VerifyResult {
  /** Cached images re-hashed. */
  checked: number;
  /** Images that failed, and files in `images/` without metadata (full runs only). */
  failed: VerifyFailure[];
}

export interface VerifyFailure {
  imageId: string;
  reason: string;
  /** Where the file was moved, relative to the cache root; null when it was missing or could only be deleted. Absent when nothing was moved. */
  movedTo?: string | null;
}

export interface VerifyContext {
  layout: CacheLayout;
  driver: Driver;
  logger: Logger;
  /** True while this process is caching the image (its file in images/ may not have metadata yet). */
  isBeingCachedHere: (imageId: string) => boolean;
  /** Called before a cached image's file is moved aside or its entry dropped. */
  onDropped?: (imageId: string) => void;
}

/**
 * Re-hashes cached files against their recorded size and checksum. A file that is missing,
 * resized or corrupt is moved to `invalid/` and its entry dropped; a full run (no ids) also
 * moves aside files in `images/` that have no metadata. Every such change is made under
 * the image's lock after a re-check (claims.ts), so a file another process is committing
 * right now is never touched, and each is logged naming the image and the cause.
 */
export async function verifyImages(context: VerifyContext, imageIds?: readonly string[]): Promise<VerifyResult> {
  const { driver } = context;
  const log = new RepairLog(context.logger, 'verify');
  const entries = imageIds ? await Promise.all(imageIds.map((imageId) => driver.get(imageId))) : await driver.list();
  const result: VerifyResult = { checked: 0, failed: [] };
  for (const [index, entry] of entries.entries()) {
    if (!entry) {
      result.failed.push({ imageId: imageIds![index]!, reason: 'not cached' });
      continue;
    }
    result.checked++;
    const failure = await verifyEntry(context, log, entry);
    if (failure) result.failed.push(failure);
  }
  if (!imageIds) await quarantineOrphans(context, log, new Set(entries.map((entry) => entry!.imageId)), result);
  log.summarise();
  return result;
}

async function verifyEntry(context: VerifyContext, log: RepairLog, entry: CacheEntry): Promise<VerifyFailure | null> {
  const { layout, driver } = context;
  const { imageId } = entry;
  const reason = await problemWith(layout.imagePath(imageId), entry);
  if (!reason) return null;
  const unchanged = async () => {
    // The entry may have been removed or replaced since it was listed (a prune, a delete, a
    // new commit in another process): then this was no failure of what is cached now.
    const current = await driver.get(imageId);
    return current !== null && current.lastModified === entry.lastModified && current.checksum === entry.checksum;
  };
  const outcome = await withLockSoon(layout, imageId, unchanged, async () => {
    if (!(await unchanged())) return null;
    context.onDropped?.(imageId);
    // File first, then metadata: a crash in between leaves an entry without a file (dropped
    // at the next start), never a bad file without metadata (which would be adopted).
    const moved =
      reason === 'file is missing' ? null : await quarantineFile(layout, layout.imagePath(imageId), imageId, 'corrupt');
    await driver.remove([imageId]);
    if (moved) log.record({ action: 'quarantined', imageId, cause: 'corrupt', reason, movedTo: moved.movedTo });
    else log.record({ action: 'dropped', imageId, cause: 'missing', reason });
    return { imageId, reason, movedTo: moved?.movedTo ?? null };
  });
  if (!outcome) return { imageId, reason: `${reason}; left in place: another process holds this image now` };
  return outcome.value;
}

/** Lock attempts while another process holds the image, and the pause between them (ms): maintenance holds locks for a few system calls. */
const LOCK_ATTEMPTS = 10;
const LOCK_RETRY_MS = 10;

/**
 * Runs `task` under the image's lock, retrying briefly while another process holds it.
 * @returns `{ value: null }` without running it once `stillNeeded` says the work is moot; null when the lock stayed taken.
 */
async function withLockSoon<T>(
  layout: CacheLayout,
  imageId: string,
  stillNeeded: () => Promise<boolean>,
  task: () => Promise<T | null>,
): Promise<{ value: T | null } | null> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await withLock(layout, imageId, task);
    if (outcome) return outcome;
    if (!(await stillNeeded())) return { value: null };
    if (attempt === LOCK_ATTEMPTS) return null;
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
}

/** A file without metadata cannot be checked against anything: it is not served, so move it aside. */
async function quarantineOrphans(
  context: VerifyContext,
  log: RepairLog,
  known: Set<string>,
  result: VerifyResult,
): Promise<void> {
  const { layout, driver } = context;
  for (const name of await readdir(layout.imagesDir)) {
    if (known.has(name) || context.isBeingCachedHere(name)) continue;
    const path = join(layout.imagesDir, name);
    if (!isValidImageId(name)) {
      // No writer ever places a name that is not an image id: no lock to honour.
      const moved = await quarantineFile(layout, path, name, 'foreign');
      if (!moved) continue;
      const reason = 'file name is not an image id';
      log.record({ action: 'quarantined', imageId: name, cause: 'foreign', reason, movedTo: moved.movedTo });
      result.failed.push({ imageId: name, reason, movedTo: moved.movedTo });
      continue;
    }
    // Under the lock no writer can be between placing this file and committing its
    // metadata, so metadata missing now stays missing.
    const outcome = await withLock(layout, name, async () =>
      (await driver.get(name)) ? null : quarantineFile(layout, path, name, 'orphan'),
    );
    const moved = outcome?.value;
    if (!moved) continue;
    const reason = 'file has no metadata';
    log.record({ action: 'quarantined', imageId: name, cause: 'orphan', reason, movedTo: moved.movedTo });
    result.failed.push({ imageId: name, reason, movedTo: moved.movedTo });
  }
}

/** What is wrong with a cached file, or null when it matches its entry. */
async function problemWith(path: string, entry: CacheEntry): Promise<string | null> {
  const algorithm = entry.checksum.slice(0, entry.checksum.indexOf(':')) as ChecksumAlgorithm;
  try {
    const { hex, size } = await hashFile(path, algorithm);
    if (size !== entry.size) return `size is ${size} bytes, expected ${entry.size}`;
    if (`${algorithm}:${hex}` !== entry.checksum) return `checksum is ${algorithm}:${hex}, expected ${entry.checksum}`;
    return null;
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    return 'file is missing';
  }
}
