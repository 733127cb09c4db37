import { readdir, readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { ImageCache, silentLogger, type ReconcileReport } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { bytesIn } from './helpers.js';

/**
 * What must hold after any crash, checked on a freshly opened cache: only complete, verified
 * images are listed, every file in images/ is listed, the accounting equals the bytes on disk
 * and nothing is left in flight. `afterChecks` runs on the open cache before it closes.
 */
export async function checkCacheAfterCrash(
  dir: string,
  driver: string,
  afterChecks?: (cache: ImageCache) => Promise<void>,
): Promise<{ ids: string[]; report: ReconcileReport }> {
  const cache = await ImageCache.open({
    dir,
    driver,
    fallback: false,
    logger: silentLogger,
    importer: (s) => import(s),
  });
  try {
    expect(cache.driverName).toBe(driver);
    expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
    const listed = await cache.getCachedImages();
    for (const image of listed) {
      const expected = imageBytes(image.imageId) as Buffer;
      expect(image.size).toBe(expected.length);
      expect(sha256(await readFile(cache.layout.imagePath(image.imageId)))).toBe(sha256(expected));
    }
    expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
    expect((await readdir(cache.layout.imagesDir)).sort()).toEqual(listed.map((image) => image.imageId).sort());
    await afterChecks?.(cache);
    return { ids: listed.map((image) => image.imageId), report: cache.reconcileReport };
  } finally {
    await cache.close();
  }
}
