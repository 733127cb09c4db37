import { readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCache, parseQuarantineName, silentLogger, workFileName } from '@imgcache/core';
import { deadPid } from '../fixtures.js';
import type { SuiteScope } from '../options.js';

/** Core's startup reconcile over this driver after a simulated crash. */
export function reconcileChecks(scope: SuiteScope): void {
  describe('reconcile', () => {
    it('reconciles with core after a simulated crash', async () => {
      const { harness } = scope;
      await harness.closeDriver(scope.driver);
      const open = () =>
        ImageCache.open({ dir: harness.root, driver: scope.options.factory, logger: silentLogger, fallback: false });
      let cache = await open();
      for (const id of ['kept', 'vanished', 'resized']) {
        expect(await cache.cacheImageIter(id, [Buffer.alloc(4096, id.length)])).toBe(true);
      }
      await cache.close();
      const layout = harness.layout;
      // A writer killed mid-write, a commit killed between rename and metadata, a file
      // deleted behind the cache's back, and a file changed behind its back.
      await writeFile(join(layout.incompleteDir, workFileName('partial', deadPid())), Buffer.alloc(100, 1));
      await writeFile(layout.imagePath('orphan'), Buffer.alloc(2048, 9));
      await unlink(layout.imagePath('vanished'));
      await writeFile(layout.imagePath('resized'), Buffer.alloc(10, 1));

      cache = await open();
      try {
        const { repairs, ...counts } = cache.reconcileReport;
        expect(counts).toEqual({ abandonedWrites: 1, droppedEntries: 1, adoptedFiles: 1, quarantinedFiles: 1 });
        // Each repair names the image and the cause.
        expect(repairs).toHaveLength(4);
        expect(repairs).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ action: 'quarantined', imageId: 'partial', cause: 'abandoned' }),
            expect.objectContaining({ action: 'adopted', imageId: 'orphan', cause: 'unrecorded' }),
            expect.objectContaining({ action: 'dropped', imageId: 'vanished', cause: 'missing' }),
            expect.objectContaining({
              action: 'quarantined',
              imageId: 'resized',
              cause: 'resized',
              reason: 'file is 10 bytes, its metadata says 4096',
            }),
          ]),
        );
        // Moved files are named by core's quarantine scheme, for the image and cause they were moved for.
        const moved = (await readdir(layout.invalidDir)).map((name) => parseQuarantineName(name));
        expect(moved).toEqual(
          expect.arrayContaining([
            { key: 'partial', cause: 'abandoned' },
            { key: 'resized', cause: 'resized' },
          ]),
        );
        expect(await readdir(layout.incompleteDir)).toEqual([]);
        const listed = await cache.getCachedImages();
        expect(listed.map((item) => item.imageId)).toEqual(['kept', 'orphan']);
        const onDisk = await Promise.all(
          (await readdir(layout.imagesDir)).map(async (name) => (await stat(join(layout.imagesDir, name))).size),
        );
        expect(await cache.getCacheSize()).toBe(onDisk.reduce((sum, size) => sum + size, 0));
        expect(await cache.verify()).toEqual({ checked: 2, failed: [] });
        expect(await cache.cacheImageIter('resized', [Buffer.alloc(4096, 2)])).toBe(true);
        expect(await cache.getImageSize('resized')).toBe(4096);
      } finally {
        await cache.close();
      }
    });
  });
}
