import { unlink } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { NotCachedError } from '../src/index.js';
import { bytes, collect, digest, openCache, settle } from './helpers.js';

describe('openForRead', () => {
  it('streams the image and counts a hit when read to the end', async () => {
    const cache = await openCache();
    const data = bytes(3 * 1024 * 1024 + 1);
    await cache.cacheImageIter('img', [data]);
    const before = (await cache.getCachedImage('img'))!.lastAccessed.getTime();
    expect(digest('sha256', await collect(await cache.openForRead('img')))).toBe(digest('sha256', data));
    await settle();
    const after = await cache.getCachedImage('img');
    expect(after?.hits).toBe(1);
    expect(after!.lastAccessed.getTime()).toBeGreaterThan(before);
    expect(after!.lastModified.getTime()).toBe(before);
  });

  it('does not count a read abandoned part-way', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(5 * 1024 * 1024)]);
    const stream = await cache.openForRead('img');
    for await (const _chunk of stream) break;
    await settle();
    expect(await cache.getHitCount('img')).toBe(0);
  });

  it('reads a byte range', async () => {
    const cache = await openCache();
    const data = bytes(10_000);
    await cache.cacheImageIter('img', [data]);
    const part = await collect(await cache.openForRead('img', { start: 100, end: 199 }));
    expect(part.equals(data.subarray(100, 200))).toBe(true);
  });

  it('raises NotCachedError for an image that is not cached', async () => {
    const cache = await openCache();
    await expect(cache.openForRead('nothing')).rejects.toThrow(NotCachedError);
    expect(await cache.getHitCount('nothing')).toBe(0);
    expect(await cache.getImageSize('nothing')).toBeNull();
  });

  it('drops the entry of a file deleted behind its back', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(100)]);
    await unlink(cache.layout.imagePath('img'));
    await expect(cache.openForRead('img')).rejects.toMatchObject({ code: 'ERR_IMGCACHE_NOT_CACHED' });
    expect(await cache.isCached('img')).toBe(false);
    expect(await cache.getCacheSize()).toBe(0);
  });

  it('counts concurrent readers exactly', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(200_000)]);
    await Promise.all(Array.from({ length: 25 }, async () => collect(await cache.openForRead('img'))));
    await settle();
    expect(await cache.getHitCount('img')).toBe(25);
  });
});
