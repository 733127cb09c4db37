import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryInUseError } from './errors.js';
import { errnoCode, ignoreMissing, isProcessAlive } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';
import { sharedOnGlobal } from './shared-on-global.js';

/** The lock file, in the cache root, of a cache opened with a single-process driver. */
export const PROCESS_LOCK_FILE = 'single-process.lock';

/** What the lock file holds: who opened the cache, with which driver, since when. */
interface LockOwner {
  pid: number;
  driver: string;
  since: string;
}

/** Lock files this process holds, shared by every copy of this module (two ImageCache instances in one process). */
const held = sharedOnGlobal('imgcache.processLocks', () => new Set<string>());

/** A cache root held for one process; {@link release} it when the cache closes. */
export interface ProcessLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Holds a cache root for this process and this cache alone, for a driver that declares
 * `capabilities.multiProcess === false` (its metadata lives in one process's memory or
 * is not safe to share): a second opener, in another process or in this one, would
 * silently keep metadata of its own beside the first. The lock is a file created with
 * `O_EXCL` holding the owner's pid; a lock whose owner is no longer alive (a crash, a
 * SIGKILL) is taken over.
 * @throws {DirectoryInUseError} (`ERR_IMGCACHE_DIRECTORY_IN_USE`) when a live process, or
 * another open cache of this process, holds the root.
 */
export async function takeProcessLock(layout: CacheLayout, driverName: string): Promise<ProcessLock> {
  const path = join(layout.root, PROCESS_LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, driver: driverName, since: new Date().toISOString() };
  // Two rounds: create; else take over a dead owner's lock and create again.
  for (let round = 0; round < 2; round++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(`${JSON.stringify(owner)}\n`);
      } finally {
        await handle.close();
      }
      held.add(path);
      return { path, release: () => releaseLock(path) };
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const current = await readOwner(path);
    if (current !== null && isLive(path, current))
      throw new DirectoryInUseError(layout.root, driverName, current.pid, current.since);
    await removeStale(path, current);
  }
  throw new DirectoryInUseError(layout.root, driverName, null, null);
}

/** Alive: this process's own lock while it holds it, or another process that still runs. */
function isLive(path: string, owner: LockOwner): boolean {
  // Our own pid without our record is a lock left by an earlier process that had this pid.
  return owner.pid === process.pid ? held.has(path) : isProcessAlive(owner.pid);
}

/**
 * Removes a dead owner's lock. Renamed aside first and read back, so that of two openers
 * taking over at once, the one that finds a live lock in its hands (the other's new one)
 * puts it back rather than delete it.
 */
async function removeStale(path: string, stale: LockOwner | null): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await readOwner(aside);
  if (moved !== null && stale !== null && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    await rename(aside, path);
    return;
  }
  await ignoreMissing(unlink(aside));
}

/** The lock's owner, or null for a file that is unreadable or half-written (its writer died mid-write). */
async function readOwner(path: string): Promise<LockOwner | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, driver: String(parsed.driver), since: String(parsed.since) }
      : null;
  } catch {
    return null;
  }
}

async function releaseLock(path: string): Promise<void> {
  if (!held.delete(path)) return;
  await ignoreMissing(unlink(path));
}
