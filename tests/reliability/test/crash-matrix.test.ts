import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { bytesIn, killAfterReady, seededRandom, tempDir } from './helpers.js';

const KILLS_PER_DRIVER = Number(process.env.IMGCACHE_CRASH_KILLS ?? 50);

/** What must hold after any crash: only complete, verified images; exact accounting; nothing left in flight. */
async function checkAfterCrash(dir: string, driver: string): Promise<{ listed: number; report: ImageCache['reconcileReport'] }> {
  const cache = await ImageCache.open({ dir, driver, fallback: false, logger: silentLogger, importer: (s) => import(s) });
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
    // The image a killed writer was caching can be cached again at once.
    const again = imageBytes('img-0') as Buffer;
    await cache.deleteCachedImage('img-0');
    expect(await cache.cacheImageIter('img-0', [again], sha256(again))).toBe(true);
    return { listed: listed.length, report: cache.reconcileReport };
  } finally {
    await cache.close();
  }
}

describe.each(['sqlite', 'xattr'])('crash matrix: %s driver, SIGKILL at random points', (driver) => {
  it(`${KILLS_PER_DRIVER} kills leave only complete, verified images and exact accounting`, async () => {
    const { dir, dispose } = await tempDir(`crash-${driver}`);
    const random = seededRandom(driver.length * 7919);
    let abandoned = 0;
    let listedTotal = 0;
    try {
      for (let kill = 0; kill < KILLS_PER_DRIVER; kill++) {
        await killAfterReady('crash-loop.mjs', [dir, driver, String(kill + 1)], 5 + Math.floor(random() * 250));
        const { listed, report } = await checkAfterCrash(dir, driver);
        abandoned += report.abandonedWrites;
        listedTotal += listed;
      }
      // The kills must really have landed mid-write some of the time, or the test proves nothing.
      expect(abandoned).toBeGreaterThan(0);
      expect(listedTotal).toBeGreaterThan(0);
      console.log(`${driver}: ${KILLS_PER_DRIVER} kills, ${abandoned} interrupted writes quarantined, ${listedTotal} images checked`);
    } finally {
      await dispose();
    }
  });
});
