import { unlink, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { forEachLimited } from '@imgcache/core';
import { collect, commitWithFiles, entry } from '../fixtures.js';
import type { SuiteScope } from '../options.js';

/** Files written or committed at once in the scale check: under any open-file limit. */
const SCALE_CONCURRENCY = 256;

/** Least-recently-used order to the millisecond, one pass under removals, and scale. */
export function lruOrderChecks(scope: SuiteScope): void {
  describe('LRU order', () => {
    it('orders least recently used by millisecond, ties by image id', async () => {
      const { driver } = scope;
      const t = Date.UTC(2026, 5, 1, 12, 0, 0);
      // All within one second: a driver with one-second granularity fails here.
      await commitWithFiles(driver, scope.imagePath, [
        entry('c', 1, { lastModified: t + 1 }),
        entry('a', 2, { lastModified: t + 2 }),
        entry('b', 3, { lastModified: t + 3 }),
        entry('d', 4, { lastModified: t + 4 }),
        entry('e', 5, { lastModified: t + 4 }),
      ]);
      await driver.recordHit('c', t + 7);
      await driver.recordHit('a', t + 5);
      const order = (await collect(driver.leastRecentlyUsed())).map((item) => item.imageId);
      expect(order).toEqual(['b', 'd', 'e', 'a', 'c']);
      const first = (await collect(driver.leastRecentlyUsed()))[0];
      expect(first).toEqual({ imageId: 'b', size: entry('b', 3).size, lastAccessed: t + 3 });
    });

    it('keeps one ordered pass while entries are removed during the scan', async () => {
      const { driver } = scope;
      const count = 2500;
      const entries = Array.from({ length: count }, (_, n) => entry(`img-${String(n).padStart(5, '0')}`, n));
      await commitWithFiles(driver, scope.imagePath, entries);
      const seen: string[] = [];
      for await (const item of driver.leastRecentlyUsed()) {
        seen.push(item.imageId);
        if (seen.length % 3 === 0) {
          await unlink(scope.imagePath(item.imageId));
          await driver.remove([item.imageId]);
        }
      }
      expect(seen).toEqual(entries.map((item) => item.imageId));
      expect((await driver.stats()).count).toBe(count - Math.floor(count / 3));
    });

    it(`handles ${scope.scale} entries: totals, listing and LRU scan agree`, async () => {
      const { driver, scale } = scope;
      const entries = Array.from({ length: scale }, (_, n) => entry(`s${String(n).padStart(6, '0')}`, n));
      await forEachLimited(entries, SCALE_CONCURRENCY, (item) =>
        writeFile(scope.imagePath(item.imageId), Buffer.alloc(item.size)),
      );
      await forEachLimited(entries, SCALE_CONCURRENCY, (item) => driver.commit(item));
      const stats = await driver.stats();
      expect(stats.count).toBe(scale);
      expect(stats.totalSize).toBe(entries.reduce((sum, item) => sum + item.size, 0));
      expect((await driver.list()).length).toBe(scale);
      expect((await collect(driver.leastRecentlyUsed())).map((item) => item.imageId)).toEqual(
        entries.map((item) => item.imageId),
      );
    });
  });
}
