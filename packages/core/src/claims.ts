import { link, open, readdir, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BATCH_KEY, batchLockName, batchLockText, forgetGoneBatchLocks, readBatchLock } from './batch-lock.js';
import { errnoCode, ignoreMissing, isProcessAlive } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';
import { sharedOnGlobal } from './shared-on-global.js';
import { nameKey, parseWorkFileName, workFileName, type ClaimName, type QuarantineCause } from './names.js';
import { quarantineFile } from './quarantine.js';

/**
 * Claims: which process may change the files of an image, agreed between every process
 * that shares a cache directory. (One file, about 300 lines, on purpose: taking, checking
 * and releasing a claim must read the same rules; the batch file format is in batch-lock.ts.)
 *
 * A claim is a file in `incomplete/` whose name carries the pid of the process holding it
 * and names the images it claims: a writer's work file `<key>~<pid>-<rand>` or a lock
 * `<key>~<pid>-<rand>.lock` claims the image whose key (names.ts) it carries; a batch lock
 * `#batch~<pid>-<rand>.lock` claims every key it lists (batch-lock.ts). Locks hold no data
 * of their own. A claim is live while its
 * process lives (for this process: while it is registered here, so leftovers of an earlier
 * process that had the same pid, as in a restarted container, count as dead).
 *
 * Taking a claim creates its file (a batch lock with its whole list written) first, then
 * lists `incomplete/`: if another live claim on the same key is there, the new one is
 * dropped. Of two processes that race, at least one sees the other's file, so at most one
 * holds a claim on an image at a time. A reader that finds a batch lock still being written
 * can miss keys at its end; that is safe, because the lock's owner lists `incomplete/` only
 * after writing, and so sees the reader's own claim.
 *
 * A batch lock makes bulk maintenance (prune, delete-all, reconcile) cost one file per
 * batch, not one per image: creating and removing a file per victim cost 130–190 µs each
 * and made a prune of 50 000 images take over a minute.
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
const held = sharedOnGlobal('imgcache.claims', () => new Set<string>());

/** A batch lock this process holds: the keys its file names, and the images still claimed through it. */
interface HeldBatch {
  readonly keys: ReadonlySet<string>;
  readonly open: Set<string>;
}

/** This process's batch locks by path, shared like {@link held}. */
const heldBatches = sharedOnGlobal('imgcache.claims.batches', () => new Map<string, HeldBatch>());

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
  for (const live of await liveClaims(layout)) {
    if (live.name === claim.name || !live.keys.includes(key)) continue;
    if (live.pid !== process.pid || !live.lock) return 'others';
    holders = 'own locks';
  }
  return holders;
}

/**
 * Takes a lock on each image that no other live claim holds: for one image its own lock
 * file, for several one batch lock naming them all, so a batch costs one create, one
 * listing and one removal however many images it has.
 * @returns the locks taken, one per image (a batch's share one file, removed when the last
 *   of them is released); an image claimed elsewhere has none. Until the batch's file goes,
 *   it also turns away new claims on the images it could not take.
 * @throws the filesystem error when the lock file cannot be created or written (nothing is left behind).
 */
export async function takeLocks(layout: CacheLayout, imageIds: readonly string[]): Promise<Claim[]> {
  const ids = [...new Set(imageIds)];
  if (ids.length === 0) return [];
  const batch = ids.length > 1;
  const name = batch ? batchLockName(process.pid) : workFileName(ids[0]!, process.pid, undefined, true);
  const path = join(layout.incompleteDir, name);
  const keys = new Set(ids.map(nameKey));
  held.add(path);
  if (batch) heldBatches.set(path, { keys, open: new Set(ids) });
  try {
    await writeFile(path, batch ? batchLockText(keys) : '', { flag: 'wx' });
  } catch (error) {
    // A write that failed (a full disk) may have left the file created but short.
    await forget(path);
    throw error;
  }
  const contested = await keysHeldElsewhere(layout, name);
  const taken: Claim[] = [];
  for (const imageId of ids) {
    if (!contested.has(nameKey(imageId))) taken.push({ imageId, name, path });
    else heldBatches.get(path)?.open.delete(imageId);
  }
  if (taken.length === 0) await forget(path);
  return taken;
}

/** Takes a lock on one image. @returns it, or null when another live claim holds the image. */
export async function takeLock(layout: CacheLayout, imageId: string): Promise<Claim | null> {
  return (await takeLocks(layout, [imageId]))[0] ?? null;
}

/**
 * Runs `task` under a lock on the image.
 * @returns `{ value }` with the task's result, or null (the task not run) when another live claim holds the image.
 */
export async function withLock<T>(
  layout: CacheLayout,
  imageId: string,
  task: () => Promise<T>,
): Promise<{ value: T } | null> {
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

/**
 * Ends a claim: removes its file (if still there) and forgets it; a batch lock's file goes
 * with the last of its claims. Idempotent.
 */
export async function releaseClaim(claim: Claim): Promise<void> {
  const batch = heldBatches.get(claim.path);
  if (batch) {
    batch.open.delete(claim.imageId);
    if (batch.open.size > 0) return;
  }
  await forget(claim.path);
}

/** Ends every claim in `claims`, like {@link releaseClaim}: one file removal per batch lock. */
export async function releaseClaims(claims: readonly Claim[]): Promise<void> {
  const ended = new Set<string>();
  for (const claim of claims) {
    const batch = heldBatches.get(claim.path);
    batch?.open.delete(claim.imageId);
    if (!batch || batch.open.size === 0) ended.add(claim.path);
  }
  await Promise.all([...ended].map(forget));
}

/** Removes a claim file (if still there), then stops counting it as held. */
async function forget(path: string): Promise<void> {
  try {
    await ignoreMissing(unlink(path));
  } finally {
    held.delete(path);
    heldBatches.delete(path);
  }
}

/** Ends a writer's claim by moving its work file to `invalid/` (a failed write kept for inspection). */
export async function quarantineClaim(layout: CacheLayout, claim: Claim, cause: QuarantineCause): Promise<void> {
  try {
    await quarantineFile(layout, claim.path, claim.imageId, cause);
  } finally {
    held.delete(claim.path);
  }
}

/** True when any live claim, of this process or another, holds the image. */
export async function isClaimed(layout: CacheLayout, imageId: string): Promise<boolean> {
  const key = nameKey(imageId);
  return (await liveClaims(layout)).some((live) => live.keys.includes(key));
}

/** The ids, among `imageIds`, that no live claim holds at this moment. One listing for all. */
export async function unclaimed(layout: CacheLayout, imageIds: readonly string[]): Promise<string[]> {
  const claimed = await keysHeldElsewhere(layout, null);
  return imageIds.filter((imageId) => !claimed.has(nameKey(imageId)));
}

/** Keys that live claims hold, other than the claim file named `except`. One listing. */
async function keysHeldElsewhere(layout: CacheLayout, except: string | null): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const live of await liveClaims(layout)) {
    if (live.name !== except) for (const key of live.keys) keys.add(key);
  }
  return keys;
}

/** A live claim found in `incomplete/`, with the keys it names. */
interface LiveClaim {
  readonly name: string;
  readonly pid: number;
  readonly lock: boolean;
  readonly keys: readonly string[];
}

/** Every live claim in `incomplete/` now: one listing, plus a read of each other process's batch lock not read before. */
async function liveClaims(layout: CacheLayout): Promise<LiveClaim[]> {
  const names = await listClaims(layout);
  const claims: LiveClaim[] = [];
  for (const name of names) {
    const owner = claimOwner(layout, name);
    if (!owner?.live) continue;
    const keys = owner.lock && owner.key === BATCH_KEY ? await batchKeys(layout, name) : [owner.key];
    claims.push({ name, pid: owner.pid, lock: owner.lock, keys });
  }
  forgetGoneBatchLocks(names);
  return claims;
}

/** The keys a batch lock names: this process's from memory, another's from its file. */
async function batchKeys(layout: CacheLayout, name: string): Promise<readonly string[]> {
  const own = heldBatches.get(join(layout.incompleteDir, name));
  return own ? [...own.keys] : readBatchLock(layout.incompleteDir, name);
}

async function listClaims(layout: CacheLayout): Promise<string[]> {
  try {
    return await readdir(layout.incompleteDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}
