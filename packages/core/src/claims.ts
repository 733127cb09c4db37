import { link, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, ignoreMissing, isProcessAlive } from './io/fs-errors.js';
import { forEachLimited } from './limited.js';
import type { CacheLayout } from './layout.js';
import { nameKey, parseWorkFileName, workFileName, type ClaimName, type QuarantineCause } from './names.js';
import { moveAside } from './quarantine.js';

/**
 * Claims: which process may change the files of an image, agreed between every process
 * that shares a cache directory.
 *
 * A claim is a file in `incomplete/` whose name carries the image's key (names.ts) and the
 * pid of the process holding it: a writer's work file `<key>~<pid>-<rand>`, or a lock
 * `<key>~<pid>-<rand>.lock` that holds no data of its own. It is live while its process
 * lives (for this process: while it is registered here, so leftovers of an earlier process
 * that had the same pid, as in a restarted container, count as dead).
 *
 * Taking a claim creates its file first, then lists `incomplete/`: if another live claim on
 * the same key is there, the new one is dropped. Of two processes that race, at least one
 * sees the other's file, so at most one holds a claim on an image at a time.
 *
 * Who holds claims:
 * - a writer, from its first byte until its metadata is committed (see {@link lockForCommit});
 * - every maintenance step that moves or removes an image's file or entry (verify,
 *   reconcile, prune, delete), for the few system calls of its re-check and its change.
 *
 * Maintenance never touches a file under another live claim, so nothing moves a file that a
 * writer is committing. Clean may reap a stalled work file of a live writer, but never a lock.
 */

/** A claim this process holds. */
export interface Claim {
  readonly imageId: string;
  /** Its file name in `incomplete/`. */
  readonly name: string;
  readonly path: string;
}

/** A writer's claim: its work file, open for writing. */
export interface WriteClaim extends Claim {
  readonly handle: FileHandle;
}

/** Paths of the claim files this process holds, shared by every copy of this module. */
const held: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('imgcache.claims')] ??= new Set<string>()) as Set<string>;

/**
 * Whose claim a name in `incomplete/` is.
 * @returns the parsed name and whether its holder is alive, or null for a name the cache did not make.
 */
export function claimOwner(layout: CacheLayout, name: string): (ClaimName & { live: boolean }) | null {
  const parsed = parseWorkFileName(name);
  if (!parsed) return null;
  const live = parsed.pid === process.pid ? held.has(join(layout.incompleteDir, name)) : isProcessAlive(parsed.pid);
  return { ...parsed, live };
}

/**
 * Creates a work file for `imageId` and keeps it as this writer's claim, unless another live
 * claim on the image exists.
 * @returns the claim with its file open for writing, or null when another claim holds the image.
 * @throws the filesystem error when the file cannot be created.
 */
export async function takeWriteClaim(layout: CacheLayout, imageId: string): Promise<WriteClaim | null> {
  const name = workFileName(imageId, process.pid);
  const path = join(layout.incompleteDir, name);
  // Registered before the file exists, so no step of this process ever sees it as dead.
  held.add(path);
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx+');
  } catch (error) {
    held.delete(path);
    throw error;
  }
  const claim = { imageId, name, path, handle };
  for (let attempt = 1; ; attempt++) {
    const holders = await otherHolders(layout, claim);
    if (holders === 'none') return claim;
    // A lock of this process is a maintenance step of a few system calls (a delete that
    // just cancelled this image's fill, a verify): wait for it rather than give up the fill.
    if (holders !== 'own locks' || attempt === OWN_LOCK_ATTEMPTS) break;
    await new Promise((resolve) => setTimeout(resolve, OWN_LOCK_RETRY_MS));
  }
  await handle.close();
  await releaseClaim(claim);
  return null;
}

/** Checks, and the pause between them (ms), while only locks of this process hold the image. */
const OWN_LOCK_ATTEMPTS = 20;
const OWN_LOCK_RETRY_MS = 5;

/** Who else holds a live claim on the image of `claim`: nobody, only locks of this process, or anyone else. */
async function otherHolders(layout: CacheLayout, claim: Claim): Promise<'none' | 'own locks' | 'others'> {
  const key = nameKey(claim.imageId);
  let holders: 'none' | 'own locks' | 'others' = 'none';
  for (const name of await listClaims(layout)) {
    if (name === claim.name) continue;
    const owner = claimOwner(layout, name);
    if (owner?.key !== key || !owner.live) continue;
    if (owner.pid !== process.pid || !owner.lock) return 'others';
    holders = 'own locks';
  }
  return holders;
}

/** Lock files {@link takeLocks} creates at once: a prune locks thousands, one by one it waits on each. */
const LOCK_CONCURRENCY = 16;

/**
 * Takes a lock on each image that no other live claim holds.
 * @returns the locks taken; an image claimed elsewhere has none.
 * @throws the filesystem error when a lock file cannot be created.
 */
export async function takeLocks(layout: CacheLayout, imageIds: readonly string[]): Promise<Claim[]> {
  const claims = [...new Set(imageIds)].map((imageId): Claim => {
    const name = workFileName(imageId, process.pid, undefined, true);
    const path = join(layout.incompleteDir, name);
    held.add(path);
    return { imageId, name, path };
  });
  try {
    await forEachLimited(claims, LOCK_CONCURRENCY, async (claim) => (await open(claim.path, 'wx')).close());
  } catch (error) {
    await Promise.all(claims.map(releaseClaim));
    throw error;
  }
  const refused = await othersHold(layout, claims);
  await Promise.all(claims.filter((claim) => refused.has(claim.name)).map(releaseClaim));
  return claims.filter((claim) => !refused.has(claim.name));
}

/** Takes a lock on one image. @returns it, or null when another live claim holds the image. */
export async function takeLock(layout: CacheLayout, imageId: string): Promise<Claim | null> {
  return (await takeLocks(layout, [imageId]))[0] ?? null;
}

/**
 * Runs `task` under a lock on the image.
 * @returns `{ value }` with the task's result, or null (the task not run) when another live claim holds the image.
 */
export async function withLock<T>(layout: CacheLayout, imageId: string, task: () => Promise<T>): Promise<{ value: T } | null> {
  const lock = await takeLock(layout, imageId);
  if (!lock) return null;
  try {
    return { value: await task() };
  } finally {
    await releaseClaim(lock);
  }
}

/**
 * Gives a writer's claim a second name, a lock, by hard-linking its work file. The writer
 * then renames the work file into `images/`; the lock keeps the claim (and, after a crash,
 * marks the file as placed by a commit) until the metadata is committed and the writer
 * releases it.
 * @throws ENOENT when the work file is gone (clean reaped it as stalled): the commit must fail.
 */
export async function lockForCommit(layout: CacheLayout, claim: WriteClaim): Promise<Claim> {
  const name = workFileName(claim.imageId, process.pid, undefined, true);
  const path = join(layout.incompleteDir, name);
  held.add(path);
  try {
    await link(claim.path, path);
  } catch (error) {
    held.delete(path);
    throw error;
  }
  return { imageId: claim.imageId, name, path };
}

/** Ends a claim: removes its file (if still there) and forgets it. Idempotent. */
export async function releaseClaim(claim: Claim): Promise<void> {
  try {
    await ignoreMissing(unlink(claim.path));
  } finally {
    held.delete(claim.path);
  }
}

/** Ends a writer's claim by moving its work file to `invalid/` (a failed write kept for inspection). */
export async function abandonClaim(layout: CacheLayout, claim: Claim, cause: QuarantineCause): Promise<void> {
  try {
    await moveAside(layout, claim.path, claim.imageId, cause);
  } finally {
    held.delete(claim.path);
  }
}

/** True when any live claim, of this process or another, holds the image. */
export async function isClaimed(layout: CacheLayout, imageId: string): Promise<boolean> {
  const key = nameKey(imageId);
  for (const name of await listClaims(layout)) {
    const owner = claimOwner(layout, name);
    if (owner?.key === key && owner.live) return true;
  }
  return false;
}

/** The ids, among `imageIds`, that no live claim holds at this moment. One listing for all. */
export async function unclaimed(layout: CacheLayout, imageIds: readonly string[]): Promise<string[]> {
  const claimed = new Set<string>();
  for (const name of await listClaims(layout)) {
    const owner = claimOwner(layout, name);
    if (owner?.live) claimed.add(owner.key);
  }
  return imageIds.filter((imageId) => !claimed.has(nameKey(imageId)));
}

/** Names, among `claims`, of those whose image another live claim also holds. One listing for all. */
async function othersHold(layout: CacheLayout, claims: readonly Claim[]): Promise<Set<string>> {
  const ours = new Map(claims.map((claim) => [claim.name, nameKey(claim.imageId)]));
  const contested = new Set<string>();
  for (const name of await listClaims(layout)) {
    if (ours.has(name)) continue;
    const owner = claimOwner(layout, name);
    if (owner?.live) contested.add(owner.key);
  }
  return new Set([...ours].filter(([, key]) => contested.has(key)).map(([name]) => name));
}

async function listClaims(layout: CacheLayout): Promise<string[]> {
  try {
    return await readdir(layout.incompleteDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}
