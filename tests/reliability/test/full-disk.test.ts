import { readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
import { bytesIn } from './helpers.js';
import { mountFilesystem } from './mounts.js';

const MiB = 1024 * 1024;
const mount = await mountFilesystem('tmpfs', ['size=12m']);
const mounted = 'dir' in mount ? mount : null;
if (!mounted) console.warn(`skipping the full-disk tests: ${'skipReason' in mount ? mount.skipReason : ''}`);

afterAll(async () => {
  await mounted?.unmount();
});

function image(size: number, seed: number): Buffer {
  return Buffer.alloc(size, seed);
}

function* chunks(data: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += 256 * 1024) yield data.subarray(offset, offset + 256 * 1024);
}

describe('full disk (a real 12 MiB tmpfs)', () => {
  // Skipped only where tmpfs cannot be mounted (not root); the reason is printed above.
  it.skipIf(!mounted)(
    'ENOSPC fails the fill cleanly, consumers still get every byte, and caching works again once space is freed',
    async () => {
      const cache = await ImageCache.open({ dir: `${mounted!.dir}/cache`, logger: silentLogger });
      try {
        // Fill most of the disk with cached images.
        let cached = 0;
        for (let n = 0; n < 3; n++) if (await cache.cacheImageIter(`fill-${n}`, chunks(image(3 * MiB, n)))) cached++;
        expect(cached).toBe(3);

        // A strict fill that does not fit rejects with ENOSPC and leaves nothing behind.
        const big = image(6 * MiB, 9);
        await expect(cache.cacheImageIter('too-big', chunks(big))).rejects.toMatchObject({ code: 'ENOSPC' });
        expect(await cache.isCached('too-big')).toBe(false);
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);

        // A tee keeps serving its consumer after the disk fills: every byte arrives, nothing is cached.
        const received: Buffer[] = [];
        for await (const chunk of cache.getCachingIter('teed', chunks(big))) received.push(Buffer.from(chunk));
        expect(Buffer.concat(received).equals(big)).toBe(true);
        expect(await cache.isCached('teed')).toBe(false);
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));

        // Free space (the failed writes sit in invalid/ until clean), then the same image caches.
        await cache.clean();
        await cache.prune(3 * MiB);
        expect(await cache.cacheImageIter('too-big', chunks(big))).toBe(true);
        expect(await cache.getImageSize('too-big')).toBe(big.length);
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
      } finally {
        await cache.close();
      }
    },
  );

  // Skipped only where tmpfs cannot be mounted (not root); the reason is printed above.
  it.skipIf(!mounted)(
    'a chunk larger than the free space is refused, never committed truncated (write(2) stores part of it without an error)',
    async () => {
      const dir = join(mounted!.dir, 'cache-short-write');
      const filler = join(mounted!.dir, 'filler-short-write');
      // Room for this test's own database and filler: the previous test's cache is done with.
      await rm(join(mounted!.dir, 'cache'), { recursive: true, force: true });
      let cache = await ImageCache.open({ dir, logger: silentLogger });
      try {
        const stats = await statfs(mounted!.dir);
        const leave = 1 * MiB;
        await writeFile(filler, Buffer.alloc(Math.max(0, stats.bavail * stats.bsize - leave), 1));
        const free = (await statfs(mounted!.dir)).bavail * (await statfs(mounted!.dir)).bsize;
        // One chunk, so the short write is the last one and no later write would report ENOSPC.
        const data = image(free + 256 * 1024, 5);
        await expect(cache.cacheImageIter('short', [data])).rejects.toMatchObject({ code: 'ENOSPC' });
        expect(await cache.isCached('short')).toBe(false);
        expect(await readdir(cache.layout.imagesDir)).not.toContain('short');
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
        // A restart (with room for the database again) has nothing to adopt.
        await cache.close();
        await rm(filler, { force: true });
        cache = await ImageCache.open({ dir, logger: silentLogger });
        expect(await cache.isCached('short')).toBe(false);
        expect(cache.reconcileReport.adoptedFiles).toBe(0);
      } finally {
        await cache.close();
        await rm(filler, { force: true });
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
