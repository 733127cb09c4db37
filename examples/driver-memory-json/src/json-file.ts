import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { CacheEntry } from '@imgcache/core';

/** Version of the file layout below; bump it when the layout changes. */
const FILE_FORMAT = 1;

interface MetadataFile {
  format: typeof FILE_FORMAT;
  entries: CacheEntry[];
}

/** The metadata file exists but cannot be read as ours. Not a configuration problem: core must not fall back. */
export class MetadataFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${path} is not a readable memory-json metadata file (${reason}). Move it away to start with empty metadata; ` +
        'core adopts the cached image files again on the next open.',
      options,
    );
    this.name = 'MetadataFileError';
  }
}

/**
 * Reads the entries saved at `path`; a missing file means no entries yet.
 * @throws {MetadataFileError} when the file is not valid metadata.
 */
export async function readEntries(path: string): Promise<CacheEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MetadataFileError(path, 'invalid JSON', { cause: error });
  }
  const file = parsed as Partial<MetadataFile> | null;
  if (file?.format !== FILE_FORMAT) throw new MetadataFileError(path, `expected format ${FILE_FORMAT}`);
  if (!Array.isArray(file.entries) || !file.entries.every(isEntry)) throw new MetadataFileError(path, 'malformed entries');
  return file.entries;
}

let tempCounter = 0;

/**
 * Replaces the file at `path` atomically: readers (and a restart after a crash) see the old
 * or the new content, never half of it. Rename within one directory is atomic on POSIX.
 */
export async function writeEntries(path: string, entries: Iterable<CacheEntry>): Promise<void> {
  const content: MetadataFile = { format: FILE_FORMAT, entries: [...entries] };
  const tempPath = `${path}.${process.pid}-${++tempCounter}.tmp`;
  try {
    await writeFile(tempPath, JSON.stringify(content));
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
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
