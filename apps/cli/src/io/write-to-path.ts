import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
import { UsageError } from '../errors.js';

/** Linux's limit on symbolic links followed while resolving one path (MAXSYMLINKS, 40 since Linux 4.2). */
const MAX_LINK_HOPS = 40;

/** Where bytes for a user-named path end up, and how they get there. */
export interface WriteTarget {
  /** The path as the user named it. */
  requested: string;
  /**
   * The path written, absolute: `requested`; for a link to a regular file, that file's real
   * path; for a dangling link, the missing path it ends at. A special file behind a link is
   * opened through the link.
   */
  path: string;
  /**
   * `replace`: a regular file or nothing there; the bytes go to a temporary file beside
   * `path` that is renamed over it once complete. `in-place`: a device, FIFO or other
   * special file, opened and written as it is (renaming over it would destroy it).
   */
  strategy: 'replace' | 'in-place';
  /** What is at `path` now (null when nothing is). */
  existing: Stats | null;
}

/**
 * Decides how to write to a path the user named (e.g. `get -o FILE`; relative to `cwd`),
 * without touching it.
 * Symbolic links are followed, never replaced: a link to a regular file (or a dangling
 * link) means the file it leads to is written, with its temporary name in that file's
 * directory; a link to a special file (`/dev/stdout`, `/dev/fd/3`) is opened through the link.
 * @throws {UsageError} when the path is a directory or a socket.
 * @throws the `ELOOP` error for a cycle of links, or the error of a `stat` that fails other
 * than with `ENOENT`.
 */
export async function resolveWriteTarget(requested: string, cwd: string = process.cwd()): Promise<WriteTarget> {
  const path = resolve(cwd, requested);
  const own = await statOrNull(path, lstat);
  if (own === null) return { requested, path, strategy: 'replace', existing: null };
  if (!own.isSymbolicLink()) return classify(requested, path, own);
  // The kernel follows the link (also /proc's links to pipes, which name no path).
  const followed = await statOrNull(path, stat);
  if (followed === null)
    return { requested, path: await danglingLinkTarget(path), strategy: 'replace', existing: null };
  return classify(requested, followed.isFile() ? await realpath(path) : path, followed);
}

function classify(requested: string, path: string, existing: Stats): WriteTarget {
  if (existing.isDirectory()) throw new UsageError(`${requested} is a directory; name a file to write.`);
  // open(2) of a socket fails with ENXIO: say what to do instead.
  if (existing.isSocket())
    throw new UsageError(
      `${requested} is a socket, which cannot be opened by name; write to stdout (-o -) and redirect it.`,
    );
  return { requested, path, strategy: existing.isFile() ? 'replace' : 'in-place', existing };
}

/** The missing path a chain of symbolic links ends at. */
async function danglingLinkTarget(link: string): Promise<string> {
  let path = link;
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    const own = await statOrNull(path, lstat);
    if (!own?.isSymbolicLink()) return path;
    path = resolve(dirname(path), await readlink(path));
  }
  throw Object.assign(new Error(`ELOOP: too many symbolic links, open '${link}'`), { code: 'ELOOP' });
}

async function statOrNull(path: string, how: typeof lstat): Promise<Stats | null> {
  try {
    return await how(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Writes `source` to a path the user named, so that nothing there is destroyed: a regular
 * file (or a new one) is replaced only once every byte has arrived and reached the disk,
 * keeping the old file's permission bits (and owner, when running as root); a failure
 * leaves the old file, or no file, and no temporary file. A device or FIFO is written in
 * place, so a failure leaves whatever was written before it. `source` is destroyed when
 * anything fails.
 * @throws {UsageError} when the target is a directory or a terminal.
 * @throws the source's error, or the file system's (e.g. `EACCES`, `ENOSPC`).
 */
export async function writeToPath(target: WriteTarget, source: Readable): Promise<void> {
  try {
    if (target.strategy === 'in-place') await writeInPlace(target, source);
    else await replaceFile(target, source);
  } catch (error) {
    source.destroy();
    throw error;
  }
}

async function writeInPlace(target: WriteTarget, source: Readable): Promise<void> {
  // No O_CREAT or O_TRUNC: the special file must already be there, and stays what it is.
  const handle = await open(target.path, constants.O_WRONLY | constants.O_NOCTTY);
  try {
    if (isatty(handle.fd)) throw new UsageError(`Refusing to write image bytes to the terminal ${target.requested}.`);
    await writeFile(handle, source);
  } finally {
    await handle.close();
  }
}

async function replaceFile(target: WriteTarget, source: Readable): Promise<void> {
  // Beside the target, so the rename stays within one directory of one file system.
  const partial = `${target.path}.imgcache-partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  let handle: FileHandle | undefined;
  try {
    // A new file gets the usual 0666 less umask; a replacement starts private and takes the old file's access below.
    handle = await open(partial, 'wx', target.existing ? 0o600 : 0o666);
    await writeFile(handle, source);
    if (target.existing) await keepAccess(handle, target.existing);
    // Data first, then the rename: a crash must not leave an empty file under the target's name.
    await handle.datasync();
    await handle.close();
    handle = undefined;
    await rename(partial, target.path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}

/** The replacement keeps the replaced file's owner (when root can give it) and permission bits. */
async function keepAccess(handle: FileHandle, existing: Stats): Promise<void> {
  if (process.getuid?.() === 0) await handle.chown(existing.uid, existing.gid);
  // After chown, which clears set-user-ID and set-group-ID bits.
  await handle.chmod(existing.mode & 0o7777);
}
