import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '../src/index.js';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/content.mjs';
import { tempDir } from './helpers.js';
import { pausedWriter } from './paused-writer.js';

const NEW_SIZE = 300_000;

const open = (dir: string, driver: string) => ImageCache.open({ dir, driver, fallback: false, logger: silentLogger });

/** Every maintenance step, run in this process while the other one is committing `imageId`. */
const steps: Record<string, (cache: ImageCache, imageId: string) => Promise<unknown>> = {
  verify: (cache) => cache.verify(),
  'verify by id': (cache, imageId) => cache.verify([imageId]),
  'clean with stall time 0': (cache) => cache.clean(0),
  prune: (cache) => cache.prune(0),
  deleteAll: (cache) => cache.deleteAllCachedImages(),
  delete: (cache, imageId) => cache.deleteCachedImage(imageId),
  'reconcile (a second open)': async (cache) => (await open(cache.layout.root, cache.driverName)).close(),
};

describe.each(['sqlite', 'xattr'])('maintenance while another process commits (%s driver)', (driver) => {
  describe.each(['fresh', 'replace'] as const)('%s image', (mode) => {
    it.each(Object.keys(steps))(
      '%s leaves the committing writer alone, and its image is cached intact',
      async (step) => {
        const dir = await tempDir();
        const imageId = 'img';
        let cache = await open(dir, driver);
        try {
          if (mode === 'replace') {
            const old = imageBytes(imageId, 1000) as Buffer;
            expect(await cache.cacheImageIter(imageId, [old], sha256(old))).toBe(true);
          }
          const writer = await pausedWriter(dir, driver, imageId, NEW_SIZE, mode);
          await steps[step]!(cache, imageId);
          // The placed file is untouched and still claimed.
          expect((await readFile(cache.layout.imagePath(imageId))).length).toBe(NEW_SIZE);
          expect((await readdir(cache.layout.incompleteDir)).filter((name) => name.endsWith('.lock'))).toHaveLength(1);
          expect(await writer.resume()).toContain('done true');
          await cache.close();

          cache = await open(dir, driver);
          expect(cache.reconcileReport.repairs).toEqual([]);
          const data = imageBytes(imageId, NEW_SIZE) as Buffer;
          expect(await cache.getCachedImage(imageId)).toMatchObject({ size: NEW_SIZE, checksum: sha256(data) });
          expect(sha256(await readFile(cache.layout.imagePath(imageId)))).toBe(sha256(data));
          expect(await cache.verify()).toEqual({ checked: 1, failed: [] });
          expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
        } finally {
          await cache.close();
        }
      },
    );
  });
});
