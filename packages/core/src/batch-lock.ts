import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from './io/fs-errors.js';
import { workFileName } from './names.js';

/**
 * The file of a batch lock (claims.ts): one lock that claims many images, so bulk
 * maintenance creates one file per batch instead of one per image. Its name is
 * `#batch~<pid>-<rand>.lock`, a claim name whose key part starts with `#`, which no key
 * does; its text is the keys it claims, one per line, then an `#end` line.
 */

/** The key part of a batch lock's name. */
export const BATCH_KEY = '#batch';
/** Last line of a complete batch lock. */
const BATCH_END = '#end';

/** A fresh batch lock file name for process `pid`. */
export function batchLockName(pid: number): string {
  return workFileName(BATCH_KEY, pid, undefined, true);
}

/** The text of a batch lock claiming `keys`. */
export function batchLockText(keys: Iterable<string>): string {
  return `${[...keys, BATCH_END].join('\n')}\n`;
}

/** Keys of complete batch files already read, by name: a batch file never changes once written, and its name is never reused. */
const known = new Map<string, readonly string[]>();

/**
 * The keys a batch lock in `dir` names, as far as its owner has written them: only whole
 * lines count, since a line cut short by a write in progress could name another key.
 * Missing keys at the end are safe (claims.ts). A file that is gone names none.
 * @throws the filesystem error of a failed read other than ENOENT.
 */
export async function readBatchLock(dir: string, name: string): Promise<readonly string[]> {
  const cached = known.get(name);
  if (cached) return cached;
  let text: string;
  try {
    text = await readFile(join(dir, name), 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const lines = text.split('\n').slice(0, -1);
  if (lines.at(-1) !== BATCH_END) return lines;
  const keys = lines.slice(0, -1);
  known.set(name, keys);
  return keys;
}

/** Forgets the batch files read before that are no longer among `present` (a listing of their directory). */
export function forgetGoneBatchLocks(present: readonly string[]): void {
  if (known.size === 0) return;
  const names = new Set(present);
  for (const name of known.keys()) if (!names.has(name)) known.delete(name);
}
