import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CacheDirectoryError } from '../errors.js';
import { errnoCode } from './fs-errors.js';

/** What to do about each system error, appended to the message. */
const ADVICE: Readonly<Record<string, string>> = {
  EROFS: 'the filesystem is mounted read-only; choose a directory on a writable filesystem or remount it read-write',
  EACCES: 'permission denied; give the user running imgcache write access, or choose another directory',
  EPERM: 'operation not permitted; give the user running imgcache write access, or choose another directory',
  ENOSPC: 'no space left on the device; free some space or choose another filesystem',
  EDQUOT: 'the disk quota is exhausted; raise the quota or choose another filesystem',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ELOOP: 'the path has a symbolic-link loop',
  ENAMETOOLONG: 'the path is too long',
};

/**
 * Makes sure `path` is a directory this process can write: creates it and any missing
 * parents, then checks write access, so every cause is reported with its path up front
 * rather than as a puzzling failure later.
 *
 * Parents are created one at a time, top-down, each with one `mkdir` call, so the work is
 * bounded by the number of path components. Node's `mkdir({ recursive: true })` is not
 * bounded: when `mkdir` fails with ENOENT although the parent exists (`/proc`, sysfs, some
 * FUSE filesystems) it retries forever, and on a read-only filesystem it reports ENOENT
 * instead of EROFS (measured with Node 20.20).
 * @throws {CacheDirectoryError} naming the directory that failed and the system's error code.
 */
export async function ensureWritableDirectory(path: string): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  for (let current = target; ; current = dirname(current)) {
    const info = await stat(current).catch((error: unknown) => {
      // ENOTDIR: an ancestor is a file; walking up finds it and names it.
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
      throw directoryError(current, error);
    });
    if (info && !info.isDirectory())
      throw new CacheDirectoryError(current, 'ENOTDIR', 'it exists and is not a directory');
    if (info) break;
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const directory of missing) {
    try {
      await mkdir(directory);
    } catch (error) {
      // Another process may create it at the same moment; anything else is a real failure.
      if (errnoCode(error) === 'EEXIST' && (await stat(directory)).isDirectory()) continue;
      throw directoryError(directory, error);
    }
  }
  try {
    await access(target, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw directoryError(target, error);
  }
}

function directoryError(path: string, error: unknown): CacheDirectoryError {
  const code = errnoCode(error) ?? 'EUNKNOWN';
  const message = error instanceof Error ? error.message : String(error);
  const advice =
    code === 'ENOENT'
      ? `the filesystem refused to create it although its parent ${dirname(path)} exists (a virtual filesystem such as /proc?); choose a directory on a disk filesystem`
      : ADVICE[code];
  return new CacheDirectoryError(path, code, advice ? `${advice} (${message})` : message, { cause: error });
}
