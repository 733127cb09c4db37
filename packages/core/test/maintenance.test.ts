import { open, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheClosedError } from '../src/index.js';
import { bytes, listDir, openCache } from './helpers.js';

describe('queue', () => {
  it('queues once, lists oldest first, and deletes', async () => {
    const cache = await openCache();
    expect(await cache.queueImage('b')).toBe(true);
    expect(await cache.queueImage('a')).toBe(true);
    expect(await cache.queueImage('b')).toBe(false);
    const now = Date.now() / 1000;
    await utimes(cache.layout.queuePath('b'), now - 20, now - 20);
    await utimes(cache.layout.queuePath('a'), now - 10, now - 10);
    expect(await cache.getQueuedImages()).toEqual(['b', 'a']);
    expect(await cache.isQueued('a')).toBe(true);
    expect(await cache.deleteQueuedImage('a')).toBe(true);
    expect(await cache.deleteQueuedImage('a')).toBe(false);
    expect(await cache.queueImage('c')).toBe(true);
    expect(await cache.deleteAllQueuedImages()).toBe(2);
    expect(await cache.getQueuedImages()).toEqual([]);
  });

  it('drops the marker of an image found cached at startup', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(10)]);
    await writeFile(cache.layout.queuePath('img'), '');
    await cache.close();
    const reopened = await openCache({ dir: cache.layout.root });
    expect(await reopened.getQueuedImages()).toEqual([]);
  });

  it('does not queue a cached image', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(10)]);
    expect(await cache.queueImage('img')).toBe(false);
  });
});

describe('delete', () => {
  it('deletes one image, then all, and reports what it removed', async () => {
    const cache = await openCache();
    for (const id of ['a', 'b', 'c']) await cache.cacheImageIter(id, [bytes(100)]);
    expect(await cache.deleteCachedImage('a')).toBe(true);
    expect(await cache.deleteCachedImage('a')).toBe(false);
    expect(await cache.deleteAllCachedImages()).toBe(2);
    expect(await cache.getCachedImages()).toEqual([]);
    expect(await listDir(cache.layout.imagesDir)).toEqual([]);
  });

  it('never reaches the driver database or work directories through an id', async () => {
    const cache = await openCache();
    await writeFile(join(cache.layout.root, 'cache.db'), 'precious');
    expect(await cache.deleteCachedImage('cache.db')).toBe(false);
    expect(await cache.deleteCachedImage('incomplete')).toBe(false);
    expect(await readFile(join(cache.layout.root, 'cache.db'), 'utf8')).toBe('precious');
    // The memory driver serves one process: its directory lock sits beside the work directories.
    expect(await listDir(cache.layout.root)).toEqual([
      'cache.db',
      'images',
      'incomplete',
      'invalid',
      'queue',
      'single-process.lock',
    ]);
  });
});

describe('clean', () => {
  it('removes invalid files and stalled writes but never a live write of this process', async () => {
    const cache = await openCache({ stallTime: 60 });
    await cache.cacheImageIter('bad', [bytes(10)], `md5:${'0'.repeat(32)}`).catch(() => undefined);
    const stalled = join(cache.layout.incompleteDir, 'old~999999999-aaaa');
    await writeFile(stalled, 'x');
    const long = Date.now() / 1000 - 3600;
    await utimes(stalled, long, long);
    const fresh = join(cache.layout.incompleteDir, 'fresh-foreign-file');
    await writeFile(fresh, 'y');
    // The origin holds the rest back until the cleaning is done: the write stays live meanwhile.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const source = (async function* () {
      yield bytes(10);
      yield bytes(10, 2);
      await held;
      yield bytes(10, 3);
    })();
    const iterator = cache.getCachingIter('live', source)[Symbol.asyncIterator]();
    await iterator.next();
    expect(await cache.clean()).toEqual({ incomplete: 1, invalid: 1 });
    expect((await listDir(cache.layout.incompleteDir)).filter((name) => name.startsWith('live~'))).toHaveLength(1);
    expect(await cache.clean(0)).toEqual({ incomplete: 1, invalid: 0 });
    release();
    while (!(await iterator.next()).done);
    expect(await cache.isCached('live')).toBe(true);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });
});

describe('verify', () => {
  it('quarantines a flipped byte, a truncation and a missing file', async () => {
    const cache = await openCache();
    for (const id of ['good', 'flipped', 'truncated', 'missing'])
      await cache.cacheImageIter(id, [bytes(4096, id.length)]);
    const handle = await open(cache.layout.imagePath('flipped'), 'r+');
    await handle.write(Buffer.from([0xff ^ bytes(4096, 7)[100]!]), 0, 1, 100);
    await handle.close();
    await writeFile(cache.layout.imagePath('truncated'), bytes(4000, 9));
    await (await import('node:fs/promises')).unlink(cache.layout.imagePath('missing'));
    const result = await cache.verify();
    expect(result.checked).toBe(4);
    expect(result.failed.map((failure) => failure.imageId).sort()).toEqual(['flipped', 'missing', 'truncated']);
    expect(result.failed.find((failure) => failure.imageId === 'flipped')?.reason).toMatch(/checksum/);
    expect((await cache.getCachedImages()).map((image) => image.imageId)).toEqual(['good']);
    await expect(cache.openForRead('flipped')).rejects.toMatchObject({ code: 'ERR_IMGCACHE_NOT_CACHED' });
    expect(await cache.verify(['good', 'nothing'])).toEqual({
      checked: 1,
      failed: [{ imageId: 'nothing', reason: 'not cached' }],
    });
    await writeFile(cache.layout.imagePath('stray'), 'no metadata');
    expect(await cache.verify()).toEqual({
      checked: 1,
      failed: [
        {
          imageId: 'stray',
          reason: 'file has no metadata',
          movedTo: expect.stringMatching(/^invalid\/stray~orphan-[0-9a-f]{12}$/),
        },
      ],
    });
    expect(await listDir(cache.layout.imagesDir)).toEqual(['good']);
  });
});

describe('close', () => {
  it('refuses use after close', async () => {
    const cache = await openCache();
    await cache.close();
    await expect(cache.isCached('a')).rejects.toThrow(CacheClosedError);
    await expect(cache.getCacheSize()).rejects.toThrow(CacheClosedError);
    await cache.close();
  });

  it('validates options', async () => {
    await expect(openCache({ maxSize: -1 })).rejects.toMatchObject({ code: 'ERR_IMGCACHE_INVALID_OPTION' });
    await expect(openCache({ stallTime: Number.NaN })).rejects.toMatchObject({ code: 'ERR_IMGCACHE_INVALID_OPTION' });
    await expect(openCache({ checksumAlgorithm: 'sha1' as 'md5' })).rejects.toMatchObject({
      code: 'ERR_IMGCACHE_INVALID_OPTION',
    });
  });
});
