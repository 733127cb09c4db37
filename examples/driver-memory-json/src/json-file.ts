import { readFile, rename, writeFile } from 'node:fs/promises';
import { DriverStoreError, errnoCode, removeFile, type CacheEntry } from '@imgcache/core';

/** Version of the file layout below; bump it when the layout changes. */
const FILE_FORMAT = 1;

interface MetadataFile {
  format: typeof FILE_FORMAT;
  entries: CacheEntry[];
}

/** The store exists but is not ours to read: never a fallback (core would start an empty cache beside it). */
function unreadable(path: string, reason: string, cause?: unknown): DriverStoreError {
  return new DriverStoreError(
    'memory-json',
    path,
    `${reason}. Move the file out of the cache directory to start with empty metadata; core adopts the cached image files again on the next open.`,
    { cause },
  );
}

/**
 * Reads the entries saved at `path`; a missing file means no entries yet.
 * @throws {DriverStoreError} when the file is not valid metadata of this format.
 * @throws the filesystem error when it cannot be read (permissions, I/O).
 */
export async function readEntries(path: string): Promise<CacheEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw unreadable(path, 'invalid JSON', error);
  }
  const file = parsed as Partial<MetadataFile> | null;
  if (file?.format !== FILE_FORMAT)
    throw unreadable(path, `expected format ${FILE_FORMAT}, found ${JSON.stringify(file?.format)}`);
  if (!Array.isArray(file.entries) || !file.entries.every(isEntry)) throw unreadable(path, 'malformed entries');
  return file.entries;
}

let tempCounter = 0;

/**
 * Replaces the file at `path` atomically: readers (and a restart after a crash) see the old
 * or the new content, never half of it. Rename within one directory is atomic on POSIX.
 * @throws the filesystem error; the temporary file is removed then.
 */
export async function writeEntries(path: string, entries: Iterable<CacheEntry>): Promise<void> {
  const content: MetadataFile = { format: FILE_FORMAT, entries: [...entries] };
  const tempPath = `${path}.${process.pid}-${++tempCounter}.tmp`;
  try {
    await writeFile(tempPath, JSON.stringify(content));
    await rename(tempPath, path);
  } catch (error) {
    await removeFile(tempPath).catch(() => undefined);
    throw error;
  }
}

function isEntry(value: unknown): value is CacheEntry {
  const entry = value as Record<string, unknown> | null;
  return (
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.imageId === 'string' &&
    typeof entry.checksum === 'string' &&
    ['size', 'hits', 'lastAccessed', 'lastModified'].every((key) => Number.isSafeInteger(entry[key]))
  );
}
