import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FillAbortedError, SizeMismatchError } from '../src/index.js';
import { bytes, chunked, collect, digest, failingAfter, listDir, openCache, tempDir } from './helpers.js';

describe('cacheImageIter and cacheImageFile', () => {
  it('caches a stream and returns true only when the image is cached afterwards', async () => {
    const cache = await openCache();
    const data = bytes(1_000_000);
    expect(await cache.cacheImageIter('img', chunked(data))).toBe(true);
    expect(await cache.isCached('img')).toBe(true);
    expect(digest('sha256', await readFile(cache.layout.imagePath('img')))).toBe(digest('sha256', data));
    expect(await cache.getImageSize('img')).toBe(data.length);
    expect(await cache.getHitCount('img')).toBe(0);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('returns false for an image that is already cached, and leaves it alone', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(10)]);
    expect(await cache.cacheImageIter('img', [bytes(20, 2)])).toBe(false);
    expect(await cache.getImageSize('img')).toBe(10);
  });

  it('a failing source rejects with its error and leaves only a quarantined file', async () => {
    const cache = await openCache();
    await expect(cache.cacheImageIter('img', failingAfter(bytes(10_000), 3))).rejects.toThrow(
      'origin connection reset',
    );
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
    expect(await listDir(cache.layout.imagesDir)).toEqual([]);
    expect((await listDir(cache.layout.invalidDir)).length).toBe(1);
    expect(await cache.isCacheable('img')).toBe(true);
  });

  it('a short stream fails the size check', async () => {
    const cache = await openCache();
    const error = await cache
      .cacheImageIter('img', [bytes(900)], null, { expectedSize: 1000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SizeMismatchError);
    expect((error as SizeMismatchError).actual).toBe(900);
    expect(await cache.isCached('img')).toBe(false);
  });

  it('an abort signal stops the fill and caches nothing', async () => {
    const cache = await openCache();
    const controller = new AbortController();
    const source = (async function* () {
      yield bytes(1000);
      controller.abort(new Error('client went away'));
      yield bytes(1000, 2);
    })();
    await expect(cache.cacheImageIter('img', source, null, { signal: controller.signal })).rejects.toThrow(
      FillAbortedError,
    );
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('refuses chunks that are not bytes', async () => {
    const cache = await openCache();
    await expect(cache.cacheImageIter('img', ['text' as unknown as Uint8Array])).rejects.toThrow(TypeError);
    expect(await cache.isCached('img')).toBe(false);
  });

  it('caches a local file, verifying its size and checksum', async () => {
    const cache = await openCache();
    const dir = await tempDir();
    const data = bytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'source.img');
    await writeFile(path, data);
    expect(await cache.cacheImageFile('img', path, digest('sha256', data))).toBe(true);
    expect((await cache.getCachedImages())[0]).toMatchObject({
      imageId: 'img',
      size: data.length,
      checksum: digest('sha256', data),
    });
    await expect(cache.cacheImageFile('missing', join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the queue marker when the image is committed', async () => {
    const cache = await openCache();
    expect(await cache.queueImage('img')).toBe(true);
    await cache.cacheImageIter('img', [bytes(10)]);
    expect(await cache.isQueued('img')).toBe(false);
  });
});

describe('one argument order: (imageId, source, checksum?)', () => {
  it('getCachingIter and cacheImageIter both take the source second and the checksum third', async () => {
    const cache = await openCache();
    const first = bytes(20_000, 7);
    const second = bytes(20_000, 8);
    await collect(cache.getCachingIter('teed', chunked(first, 5000), digest('sha256', first)));
    expect(await cache.cacheImageIter('stored', chunked(second, 5000), digest('sha256', second))).toBe(true);
    expect((await cache.getCachedImage('teed'))?.size).toBe(first.length);
    expect((await cache.getCachedImage('stored'))?.size).toBe(second.length);
  });

  it('refuses a checksum (or nothing) where the source goes, naming the order, before anything is read', async () => {
    const cache = await openCache();
    const data = bytes(100);
    const swapped = [
      () => cache.getCachingIter('img', digest('md5', data) as never, [data] as never),
      () => cache.getCachingIter('img', null as never, [data] as never),
    ];
    for (const call of swapped)
      expect(call).toThrow(/getCachingIter\(imageId, source, checksum\?\) takes the image source second/);
    await expect(cache.cacheImageIter('img', digest('md5', data) as never)).rejects.toThrow(TypeError);
    expect(await cache.isCached('img')).toBe(false);
  });
});

describe('getCachingIter', () => {
  it('yields the source unchanged while caching it', async () => {
    const cache = await openCache();
    const data = bytes(700_000, 5);
    const out = await collect(cache.getCachingIter('img', chunked(data, 50_000), digest('md5', data)));
    expect(digest('sha256', out)).toBe(digest('sha256', data));
    expect(await cache.isCached('img')).toBe(true);
  });

  it('passes an uncacheable image through untouched', async () => {
    const cache = await openCache();
    await cache.cacheImageIter('img', [bytes(10)]);
    const out = await collect(cache.getCachingIter('img', [bytes(30, 3)]));
    expect(out).toEqual(bytes(30, 3));
    expect(await cache.getImageSize('img')).toBe(10);
  });

  it('on a mismatch the consumer gets the error and never the last chunk', async () => {
    const cache = await openCache();
    const data = bytes(100_000);
    const received: Buffer[] = [];
    const run = async () => {
      for await (const chunk of cache.getCachingIter('img', chunked(data, 10_000), digest('sha256', bytes(10)))) {
        received.push(Buffer.from(chunk));
      }
    };
    await expect(run()).rejects.toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(Buffer.concat(received).length).toBe(90_000);
    expect(await cache.isCached('img')).toBe(false);
  });

  it('a failing source reaches the consumer (no silently short stream)', async () => {
    const cache = await openCache();
    await expect(collect(cache.getCachingIter('img', failingAfter(bytes(10_000), 4)))).rejects.toThrow(
      'origin connection reset',
    );
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('a consumer that stops early leaves nothing cached', async () => {
    const cache = await openCache();
    for await (const _chunk of cache.getCachingIter('img', chunked(bytes(100_000), 1000))) break;
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
    expect(await cache.isCacheable('img')).toBe(true);
  });

  it('deleting the image mid-stream cancels caching but the consumer still gets every byte', async () => {
    const cache = await openCache();
    const data = bytes(50_000);
    const parts: Buffer[] = [];
    let deleted = false;
    for await (const chunk of cache.getCachingIter('img', chunked(data, 5000))) {
      parts.push(Buffer.from(chunk));
      if (!deleted) {
        deleted = true;
        await cache.deleteCachedImage('img');
      }
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.imagesDir)).toEqual([]);
  });
});
