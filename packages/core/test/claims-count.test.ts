import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Driver } from '../src/driver.js';
import { EVICT_BATCH } from '../src/prune.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { listDir, openCache } from './helpers.js';

/**
 * Claim files each bulk operation creates in `incomplete/`, counted by wrapping the real
 * `node:fs/promises` calls that can create one (every call still reaches the filesystem).
 */
const created: string[] = [];
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const creates = (flags: unknown) => typeof flags === 'string' && flags.includes('x');
  return {
    ...real,
    open: (async (path: string, flags?: string, mode?: number) => {
      if (creates(flags)) created.push(String(path));
      return real.open(path, flags, mode);
    }) as typeof real.open,
    writeFile: (async (path: string, data: string, options?: { flag?: string }) => {
      if (creates(options?.flag)) created.push(String(path));
      return real.writeFile(path, data, options);
    }) as typeof real.writeFile,
    link: (async (existing: string, path: string) => {
      created.push(String(path));
      return real.link(existing, path);
    }) as typeof real.link,
  };
});

beforeEach(() => {
  created.length = 0;
});

/** A cache holding `count` one-byte images (files and entries laid down directly, like bench/drivers.mjs). */
async function cacheOf(count: number) {
  let driver: Driver | undefined;
  const factory = createMemoryDriver();
  const cache = await openCache({ driver: async (context) => (driver = await factory(context)), maxSize: 1 });
  const { writeFile } = await import('node:fs/promises');
  const base = Date.now() - count;
  for (let n = 0; n < count; n++) {
    await writeFile(cache.layout.imagePath(`img-${n}`), 'x');
    await driver!.commit({ imageId: `img-${n}`, size: 1, checksum: 'sha256:00', lastModified: base + n });
  }
  return { cache, driver: driver! };
}

const lockFilesIn = (dir: string) => created.filter((path) => path.startsWith(join(dir, '/')));

describe('bulk maintenance takes one lock file per batch, not one per image', () => {
  const count = 2 * EVICT_BATCH + 50;
  const batches = Math.ceil(count / EVICT_BATCH);

  it(`prune of ${count} images creates ${batches} lock files`, async () => {
    const { cache } = await cacheOf(count + 1);
    created.length = 0;
    expect(await cache.prune()).toEqual({ files: count, bytes: count });
    expect(lockFilesIn(cache.layout.incompleteDir)).toHaveLength(batches);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it(`deleteAllCachedImages of ${count} images creates ${batches} lock files`, async () => {
    const { cache } = await cacheOf(count);
    created.length = 0;
    expect(await cache.deleteAllCachedImages()).toBe(count);
    expect(lockFilesIn(cache.layout.incompleteDir)).toHaveLength(batches);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('reconcile drops entries whose files are gone under one lock file', async () => {
    const { cache } = await cacheOf(300);
    const { unlink } = await import('node:fs/promises');
    for (let n = 0; n < 200; n++) await unlink(cache.layout.imagePath(`img-${n}`));
    await cache.close();
    created.length = 0;
    const reopened = await openCache({ dir: cache.layout.root, driver: createMemoryDriver() });
    expect(reopened.reconcileReport.droppedEntries).toBe(200);
    expect(lockFilesIn(cache.layout.incompleteDir)).toHaveLength(1);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });
});
