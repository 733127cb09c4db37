import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Read size per chunk, as core's `cacheImageFile` uses. */
const READ_CHUNK = 1024 * 1024;

/**
 * Opens a file of a Glance cache for reading without updating its access time: Glance's
 * xattr driver evicts by atime, so reading an image to import it must not make it look
 * recently used. O_NOATIME is Linux's and needs the file's owner or CAP_FOWNER; elsewhere,
 * or when refused (EPERM), the file is opened plainly and the mount's atime policy applies.
 * @returns a stream that closes the file when it ends or is destroyed, and the file's size.
 * @throws the error of `open` (e.g. `ENOENT`, `EACCES`).
 */
export async function openGlanceFile(path: string): Promise<{ stream: Readable; size: number }> {
  const noAtime = constants.O_NOATIME ?? 0;
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | noAtime);
  } catch (error) {
    if (noAtime === 0 || (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    handle = await open(path, constants.O_RDONLY);
  }
  try {
    const { size } = await handle.stat();
    return { stream: handle.createReadStream({ highWaterMark: READ_CHUNK }), size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
