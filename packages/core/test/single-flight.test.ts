import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytes, chunked, collect, digest, gatedCommit, listDir, openCache } from './helpers.js';

describe('single-flight fills', () => {
  it('two concurrent getCachingIter calls never write the same file', async () => {
    const cache = await openCache();
    const first = bytes(3 * 64 * 1024, 1);
    const second = bytes(3 * 64 * 1024, 1);
    // The interleaving that corrupted Glance's cache: A writes, B starts and writes, A commits.
    const a = cache.getCachingIter('img', chunked(first, 64 * 1024, 5), digest('md5', first))[Symbol.asyncIterator]();
    const b = cache.getCachingIter('img', chunked(second, 64 * 1024, 1), digest('md5', second))[Symbol.asyncIterator]();
    const outA: Uint8Array[] = [];
    const outB: Uint8Array[] = [];
    for (let step = 0; step < 2; step++) outA.push((await a.next()).value!);
    for (let step = 0; step < 3; step++) outB.push((await b.next()).value!);
    for (let r = await a.next(); !r.done; r = await a.next()) outA.push(r.value);
    for (let r = await b.next(); !r.done; r = await b.next()) outB.push(r.value);
    expect(Buffer.concat(outA).equals(first)).toBe(true);
    expect(Buffer.concat(outB).equals(second)).toBe(true);
    expect(digest('md5', await readFile(cache.layout.imagePath('img')))).toBe(digest('md5', first));
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('of many concurrent cacheImageIter calls exactly one caches', async () => {
    const cache = await openCache();
    const data = bytes(200_000);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => cache.cacheImageIter('img', chunked(data, 10_000, 1))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await cache.isCached('img')).toBe(true);
    expect(digest('sha256', await readFile(cache.layout.imagePath('img')))).toBe(digest('sha256', data));
  });

  it('reports an image as being cached while a fill runs', async () => {
    const cache = await openCache();
    const iterator = cache.getCachingIter('img', chunked(bytes(100_000), 10_000))[Symbol.asyncIterator]();
    await iterator.next();
    expect(cache.isBeingCachedHere('img')).toBe(true);
    // The deprecated name answers the same until 1.0.
    expect(cache.isFilling('img')).toBe(true);
    expect(await cache.isBeingCached('img')).toBe(true);
    expect(await cache.isCacheable('img')).toBe(false);
    expect(await cache.queueImage('img')).toBe(false);
    while (!(await iterator.next()).done);
    expect(cache.isBeingCachedHere('img')).toBe(false);
    expect(cache.isFilling('img')).toBe(false);
    expect(await cache.isCacheable('img')).toBe(false);
    expect(await cache.isCached('img')).toBe(true);
  });

  it('backs off when a live process in another pid holds a claim on the image', async () => {
    const cache = await openCache();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const claim = join(cache.layout.incompleteDir, `img~${other.pid}-abc123`);
      await writeFile(claim, 'partial');
      expect(await cache.isBeingCached('img')).toBe(true);
      expect(await cache.cacheImageIter('img', [bytes(100)])).toBe(false);
      const passed = await collect(cache.getCachingIter('img', [bytes(100, 4)]));
      expect(passed.equals(bytes(100, 4))).toBe(true);
      expect(await cache.isCached('img')).toBe(false);
      expect(await cache.clean(3600)).toEqual({ incomplete: 0, invalid: 0 });
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
      expect(await cache.isBeingCached('img')).toBe(false);
      expect(await cache.cacheImageIter('img', [bytes(100)])).toBe(true);
      expect(await cache.clean(3600)).toEqual({ incomplete: 1, invalid: 0 });
    } finally {
      other.kill('SIGKILL');
    }
  });
});

describe('followFill', () => {
  it('streams a fill to followers as it is written, identical bytes for each', async () => {
    const cache = await openCache();
    const data = bytes(2 * 1024 * 1024 + 5, 9);
    const filling = cache.cacheImageIter('img', chunked(data, 128 * 1024, 2), digest('sha256', data));
    const followers = Array.from({ length: 5 }, () => collect(cache.followFill('img')!));
    expect(await filling).toBe(true);
    for (const body of await Promise.all(followers)) expect(digest('sha256', body)).toBe(digest('sha256', data));
  });

  it('hands followers the fill error instead of a short body', async () => {
    const cache = await openCache();
    const data = bytes(500_000);
    const filling = cache
      .cacheImageIter('img', chunked(data, 50_000, 1), digest('sha256', bytes(10)))
      .catch((e: unknown) => e);
    const follower = collect(cache.followFill('img')!).catch((e: unknown) => e);
    expect(await filling).toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(await follower).toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
  });

  it('a follower that joins after the file was moved into place, before its metadata is committed, gets every byte', async () => {
    // A driver whose metadata commit is slow (the xattr driver writes several files there).
    const slowCommit = gatedCommit();
    const cache = await openCache({ driver: slowCommit.factory });
    const data = bytes(300_000, 4);
    const filling = cache.cacheImageIter('img', chunked(data, 50_000, 1), digest('sha256', data));
    await slowCommit.reached;
    // The file is in place; the writer's claim lives on as a lock until the metadata is committed.
    expect(await listDir(cache.layout.imagesDir)).toEqual(['img']);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([
      expect.stringMatching(new RegExp(`^img~${process.pid}-[0-9a-f]{12}\\.lock$`)),
    ]);
    const follower = collect(cache.followFill('img')!);
    setTimeout(slowCommit.release, 20);
    expect(digest('sha256', await follower)).toBe(digest('sha256', data));
    expect(await filling).toBe(true);
  });

  it('returns null when nothing is being filled', async () => {
    const cache = await openCache();
    expect(cache.followFill('img')).toBeNull();
  });

  it('a follower that stops early does not disturb the fill', async () => {
    const cache = await openCache();
    const data = bytes(400_000);
    const filling = cache.cacheImageIter('img', chunked(data, 20_000, 1));
    for await (const _chunk of cache.followFill('img')!) break;
    expect(await filling).toBe(true);
    expect(await cache.getImageSize('img')).toBe(data.length);
  });
});
