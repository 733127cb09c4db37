import { describe, expect, it } from 'vitest';
import { bytes, collect, digest, listDir, openCache, settle } from './helpers.js';

async function cacheSeveral(cache: Awaited<ReturnType<typeof openCache>>, count: number, size: number) {
  for (let n = 0; n < count; n++) await cache.cacheImageIter(`img-${n}`, [bytes(size, n + 1)]);
}

describe('prune', () => {
  it('evicts least recently used images until the cache fits', async () => {
    const cache = await openCache({ maxSize: 5 * 1024 });
    await cacheSeveral(cache, 11, 1024);
    // Reading img-0 and img-1 makes them the most recently used.
    for (const id of ['img-0', 'img-1']) await collect(await cache.openForRead(id));
    await settle();
    expect(await cache.prune()).toEqual({ files: 6, bytes: 6 * 1024 });
    expect((await cache.getCachedImages()).map((image) => image.imageId)).toEqual(
      ['img-0', 'img-1', 'img-8', 'img-9', 'img-10'].sort(),
    );
    expect(await cache.getCacheSize()).toBe(5 * 1024);
    expect((await listDir(cache.layout.imagesDir)).length).toBe(5);
  });

  it('does nothing under the budget and empties the cache at max size 0', async () => {
    const cache = await openCache({ maxSize: 10_000 });
    await cacheSeveral(cache, 3, 1000);
    expect(await cache.prune()).toEqual({ files: 0, bytes: 0 });
    expect(await cache.prune(0)).toEqual({ files: 3, bytes: 3000 });
    expect(await cache.getCacheSize()).toBe(0);
  });

  it('orders accesses a few milliseconds apart correctly', async () => {
    const cache = await openCache({ maxSize: 2000 });
    await cacheSeveral(cache, 4, 1000);
    for (const id of ['img-3', 'img-0', 'img-2', 'img-1']) {
      await collect(await cache.openForRead(id));
      await settle();
    }
    expect((await cache.planPrune()).map((victim) => victim.imageId)).toEqual(['img-3', 'img-0']);
  });

  it('takes an image that is being read last, and its reader keeps every byte', async () => {
    const cache = await openCache({ maxSize: 1_000_000 });
    const data = bytes(3 * 1024 * 1024, 7);
    await cache.cacheImageIter('busy', [data]);
    await cache.cacheImageIter('idle', [bytes(10_000)]);
    await collect(await cache.openForRead('idle'));
    await settle();
    const reader = await cache.openForRead('busy');
    expect((await cache.planPrune(3 * 1024 * 1024 + 5000)).map((victim) => victim.imageId)).toEqual(['idle']);
    expect(await cache.prune()).toEqual({ files: 2, bytes: data.length + 10_000 });
    expect(await cache.isCached('busy')).toBe(false);
    expect(digest('sha256', await collect(reader))).toBe(digest('sha256', data));
  });

  it('concurrent prunes never evict more than needed or count twice', async () => {
    const cache = await openCache({ maxSize: 4000 });
    await cacheSeveral(cache, 10, 1000);
    const results = await Promise.all([cache.prune(), cache.prune(), cache.prune()]);
    expect(results.reduce((sum, r) => sum + r.files, 0)).toBe(6);
    expect(await cache.getCacheSize()).toBe(4000);
  });
});
