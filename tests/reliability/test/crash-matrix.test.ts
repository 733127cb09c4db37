import { describe, expect, it } from 'vitest';
import type { ImageCache } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { killAfterReady, seededRandom, tempDir } from './helpers.js';
import { checkCacheAfterCrash } from './invariants.js';

const KILLS_PER_DRIVER = Number(process.env.IMGCACHE_CRASH_KILLS ?? 50);

/** The killed writer's image can be cached again at once. */
async function cachesAgain(cache: ImageCache): Promise<void> {
  const again = imageBytes('img-0') as Buffer;
  await cache.deleteCachedImage('img-0');
  expect(await cache.cacheImageIter('img-0', [again], sha256(again))).toBe(true);
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
        const { ids, report } = await checkCacheAfterCrash(dir, driver, cachesAgain);
        const listed = ids.length;
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
