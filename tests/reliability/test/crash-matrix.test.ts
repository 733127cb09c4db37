import { describe, expect, it } from 'vitest';
import { nameKey, type ImageCache } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { killAfterReady, runUntilKilled, seededRandom, tempDir } from './helpers.js';
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
      console.log(
        `${driver}: ${KILLS_PER_DRIVER} kills, ${abandoned} interrupted writes quarantined, ${listedTotal} images checked`,
      );
    } finally {
      await dispose();
    }
  });
});

/** What reconcile must find and do after a kill right after each step of the commit protocol. */
const STEPS = [
  { step: 'write', cached: false, repair: { action: 'quarantined', cause: 'abandoned' } },
  { step: 'lock', cached: false, repair: { action: 'quarantined', cause: 'abandoned' } },
  { step: 'place', cached: true, repair: { action: 'adopted', cause: 'unrecorded' } },
  { step: 'commit', cached: true, repair: null },
] as const;
// The longest valid id: every name derived from it must still fit the file system.
const IDS = ['img-window', 'w'.repeat(255)];

describe.each(['sqlite', 'xattr'])('crash matrix: %s driver, SIGKILL right after each step of the commit', (driver) => {
  it.each(
    STEPS.flatMap((expected) =>
      IDS.map((imageId) => ({ ...expected, imageId, label: `${expected.step}, id of ${imageId.length} characters` })),
    ),
  )(
    'after $label: nothing partial is served, a placed file is adopted, no claim is left',
    async ({ step, cached, repair, imageId }) => {
      const { dir, dispose } = await tempDir(`crash-${step}-${driver}`);
      try {
        await runUntilKilled('crash-at.mjs', [dir, driver, imageId, step]);
        const { ids, report } = await checkCacheAfterCrash(dir, driver, async (cache) => {
          // No claim outlives its process, and the image caches again at once when it was lost.
          if (!cached) {
            const data = imageBytes(imageId) as Buffer;
            expect(await cache.cacheImageIter(imageId, [data], sha256(data))).toBe(true);
          }
        });
        expect(ids).toEqual(cached ? [imageId] : []);
        // An adopted file is named by its id; a leftover work file by the key in its name.
        const named = repair?.action === 'adopted' ? imageId : nameKey(imageId);
        if (repair) expect(report.repairs).toEqual([expect.objectContaining({ ...repair, imageId: named })]);
        else expect(report.repairs).toEqual([]);
      } finally {
        await dispose();
      }
    },
  );
});
