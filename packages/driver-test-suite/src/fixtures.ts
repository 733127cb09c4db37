import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Driver, NewCacheEntry } from '@imgcache/core';

const BASE_TIME = Date.UTC(2026, 0, 1);

/** A distinct entry; `n` picks its size (1000 + n bytes), checksum and commit time (ms). */
export function entry(imageId: string, n: number, overrides: Partial<NewCacheEntry> = {}): NewCacheEntry {
  return {
    imageId,
    size: 1000 + n,
    checksum: `sha256:${n.toString(16).padStart(64, '0')}`,
    lastModified: BASE_TIME + n,
    ...overrides,
  };
}

/** Commits entries and writes a file of the entry's size for each, as core would (file first). */
export async function commitWithFiles(
  driver: Driver,
  imagePath: (imageId: string) => string,
  entries: NewCacheEntry[],
): Promise<void> {
  for (const item of entries) {
    await writeFile(imagePath(item.imageId), Buffer.alloc(item.size, 7));
    await driver.commit(item);
  }
}

/** Drains an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** The pid of a process that has exited, to stand for a writer that crashed. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}
