import { unlink, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DRIVER_CONTRACT_VERSION, driverContractProblems } from '@imgcache/core';
import { collect, commitWithFiles, entry } from '../fixtures.js';
import type { SuiteScope } from '../options.js';

/** The contract's members, exact round-trips, ordering, hits and totals. */
export function metadataChecks(scope: SuiteScope): void {
  describe('metadata', () => {
    it('speaks this contract version, has every member and declares its capabilities', () => {
      const { driver } = scope;
      expect(driver.contractVersion).toBe(DRIVER_CONTRACT_VERSION);
      expect(driverContractProblems(driver)).toEqual([]);
      expect(driver.capabilities).toEqual({ multiProcess: expect.any(Boolean), multiProcessHits: expect.any(Boolean) });
      // Hits shared between processes only make sense when processes may share the root.
      if (driver.capabilities.multiProcessHits) expect(driver.capabilities.multiProcess).toBe(true);
    });

    it('round-trips metadata exactly', async () => {
      const item = entry('image-1', 1, { size: 5 * 1024 ** 3 });
      await writeFile(scope.imagePath(item.imageId), '');
      await scope.driver.commit(item);
      expect(await scope.driver.get('image-1')).toEqual({ ...item, hits: 0, lastAccessed: item.lastModified });
      expect(await scope.driver.get('absent')).toBeNull();
    });

    it('replaces an entry on a second commit, resetting hits', async () => {
      const { driver } = scope;
      await commitWithFiles(driver, scope.imagePath, [entry('a', 1)]);
      await driver.recordHit('a', entry('a', 1).lastModified + 50);
      await commitWithFiles(driver, scope.imagePath, [entry('a', 2)]);
      expect(await driver.get('a')).toEqual({ ...entry('a', 2), hits: 0, lastAccessed: entry('a', 2).lastModified });
      expect((await driver.stats()).count).toBe(1);
    });

    it('lists entries ordered by image id', async () => {
      const ids = ['b', 'A', 'a.b', 'a-b', 'a_b', '0', 'Z9', 'a'];
      await commitWithFiles(
        scope.driver,
        scope.imagePath,
        ids.map((id, n) => entry(id, n)),
      );
      const listed = (await scope.driver.list()).map((item) => item.imageId);
      expect(listed).toEqual([...ids].sort());
    });

    it('counts hits and moves last access forward only', async () => {
      const { driver } = scope;
      const item = entry('a', 1);
      await commitWithFiles(driver, scope.imagePath, [item]);
      expect(await driver.recordHit('a', item.lastModified + 10)).toBe(true);
      expect(await driver.recordHit('a', item.lastModified + 5)).toBe(true);
      const stored = await driver.get('a');
      expect(stored?.hits).toBe(2);
      expect(stored?.lastAccessed).toBe(item.lastModified + 10);
      expect(stored?.lastModified).toBe(item.lastModified);
      expect(await driver.recordHit('absent', item.lastModified)).toBe(false);
      expect(await driver.get('absent')).toBeNull();
    });

    it('records batches of hits like single hits, when it offers recordHits', async ({ skip }) => {
      const { driver } = scope;
      if (!driver.recordHits) return skip('the driver has no recordHits (core calls recordHit once per hit)');
      const item = entry('a', 1);
      await commitWithFiles(driver, scope.imagePath, [item, entry('b', 2)]);
      await driver.recordHits([
        { imageId: 'a', hits: 3, accessedAt: item.lastModified + 20 },
        { imageId: 'absent', hits: 2, accessedAt: item.lastModified + 30 },
        { imageId: 'b', hits: 1, accessedAt: 1 },
      ]);
      expect(await driver.get('a')).toMatchObject({ hits: 3, lastAccessed: item.lastModified + 20 });
      // An access time older than the entry's never moves it back.
      expect(await driver.get('b')).toMatchObject({ hits: 1, lastAccessed: entry('b', 2).lastModified });
      expect(await driver.get('absent')).toBeNull();
      expect((await driver.stats()).totalHits).toBe(4);
    });

    it('keeps totals in step with commits, hits and removals', async () => {
      const { driver } = scope;
      await commitWithFiles(driver, scope.imagePath, [entry('a', 1), entry('b', 2), entry('c', 3)]);
      await driver.recordHit('a', Date.now());
      await driver.recordHit('a', Date.now());
      await driver.recordHit('b', Date.now());
      expect(await driver.stats()).toEqual({ count: 3, totalSize: 3006, totalHits: 3 });
      await commitWithFiles(driver, scope.imagePath, [entry('a', 10)]);
      expect(await driver.stats()).toEqual({ count: 3, totalSize: 3015, totalHits: 1 });
      await unlink(scope.imagePath('b'));
      expect(await driver.remove(['b', 'absent'])).toBe(1);
      expect(await driver.stats()).toEqual({ count: 2, totalSize: 2013, totalHits: 0 });
      await unlink(scope.imagePath('a'));
      await unlink(scope.imagePath('c'));
      expect(await driver.removeAll()).toBe(2);
      expect(await driver.stats()).toEqual({ count: 0, totalSize: 0, totalHits: 0 });
      expect(await driver.list()).toEqual([]);
      expect(await collect(driver.leastRecentlyUsed())).toEqual([]);
    });
  });
}
