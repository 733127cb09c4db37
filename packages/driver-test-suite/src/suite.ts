import { readdir, stat, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DRIVER_CONTRACT_VERSION,
  ImageCache,
  driverContractProblems,
  silentLogger,
  type Driver,
  type DriverFactory,
} from '@imgcache/core';
import { DriverHarness } from './context.js';
import { collect, commitWithFiles, deadPid, entry, inBatches } from './fixtures.js';

export interface ComplianceSuiteOptions {
  /** Shown in the test names. */
  name: string;
  /** Opens the driver under test; called several times per test to check reopening. */
  factory: DriverFactory;
  /** Driver-specific options passed as `context.options`. */
  options?: Record<string, unknown>;
  /** Parent directory for scratch cache roots (default: the OS temp dir). Use a path on the
   * filesystem the driver needs, e.g. one with extended attributes. */
  tmpDir?: string;
  /** Entries for the scale checks. Default 5000. */
  scale?: number;
}

/**
 * Registers the driver compliance suite with vitest. Call it once from a test file:
 *
 * ```ts
 * import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
 * import createMyDriver from '../src/index.js';
 * runDriverComplianceSuite({ name: 'my-driver', factory: createMyDriver });
 * ```
 */
export function runDriverComplianceSuite(options: ComplianceSuiteOptions): void {
  const scale = options.scale ?? 5000;

  describe(`driver compliance: ${options.name}`, () => {
    let harness: DriverHarness;
    let driver: Driver;
    const imagePath = (imageId: string) => harness.layout.imagePath(imageId);

    beforeEach(async () => {
      harness = await DriverHarness.create(options.factory, options.options ?? {}, options.tmpDir);
      driver = await harness.openDriver();
    });

    afterEach(async () => {
      await harness.dispose();
    });

    it('speaks this contract version and has every member', () => {
      expect(driver.contractVersion).toBe(DRIVER_CONTRACT_VERSION);
      expect(driverContractProblems(driver)).toEqual([]);
    });

    it('round-trips metadata exactly', async () => {
      const item = entry('image-1', 1, { size: 5 * 1024 ** 3 });
      await writeFile(imagePath(item.imageId), '');
      await driver.commit(item);
      expect(await driver.get('image-1')).toEqual({ ...item, hits: 0, lastAccessed: item.lastModified });
      expect(await driver.get('absent')).toBeNull();
    });

    it('replaces an entry on a second commit, resetting hits', async () => {
      await commitWithFiles(driver, imagePath, [entry('a', 1)]);
      await driver.recordHit('a', entry('a', 1).lastModified + 50);
      await commitWithFiles(driver, imagePath, [entry('a', 2)]);
      expect(await driver.get('a')).toEqual({ ...entry('a', 2), hits: 0, lastAccessed: entry('a', 2).lastModified });
      expect((await driver.stats()).count).toBe(1);
    });

    it('lists entries ordered by image id', async () => {
      const ids = ['b', 'A', 'a.b', 'a-b', 'a_b', '0', 'Z9', 'a'];
      await commitWithFiles(driver, imagePath, ids.map((id, n) => entry(id, n)));
      const listed = (await driver.list()).map((item) => item.imageId);
      expect(listed).toEqual([...ids].sort());
    });

    it('counts hits and moves last access forward only', async () => {
      const item = entry('a', 1);
      await commitWithFiles(driver, imagePath, [item]);
      expect(await driver.recordHit('a', item.lastModified + 10)).toBe(true);
      expect(await driver.recordHit('a', item.lastModified + 5)).toBe(true);
      const stored = await driver.get('a');
      expect(stored?.hits).toBe(2);
      expect(stored?.lastAccessed).toBe(item.lastModified + 10);
      expect(stored?.lastModified).toBe(item.lastModified);
      expect(await driver.recordHit('absent', item.lastModified)).toBe(false);
      expect(await driver.get('absent')).toBeNull();
    });

    it('orders least recently used by millisecond, ties by image id', async () => {
      const t = Date.UTC(2026, 5, 1, 12, 0, 0);
      // All within one second: a driver with one-second granularity fails here.
      await commitWithFiles(driver, imagePath, [
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
      const count = 2500;
      const entries = Array.from({ length: count }, (_, n) => entry(`img-${String(n).padStart(5, '0')}`, n));
      await commitWithFiles(driver, imagePath, entries);
      const seen: string[] = [];
      for await (const item of driver.leastRecentlyUsed()) {
        seen.push(item.imageId);
        if (seen.length % 3 === 0) {
          await unlink(imagePath(item.imageId));
          await driver.remove([item.imageId]);
        }
      }
      expect(seen).toEqual(entries.map((item) => item.imageId));
      expect((await driver.stats()).count).toBe(count - Math.floor(count / 3));
    });

    it('keeps totals in step with commits, hits and removals', async () => {
      await commitWithFiles(driver, imagePath, [entry('a', 1), entry('b', 2), entry('c', 3)]);
      await driver.recordHit('a', Date.now());
      await driver.recordHit('a', Date.now());
      await driver.recordHit('b', Date.now());
      expect(await driver.stats()).toEqual({ count: 3, totalSize: 3006, totalHits: 3 });
      await commitWithFiles(driver, imagePath, [entry('a', 10)]);
      expect(await driver.stats()).toEqual({ count: 3, totalSize: 3015, totalHits: 1 });
      await unlink(imagePath('b'));
      expect(await driver.remove(['b', 'absent'])).toBe(1);
      expect(await driver.stats()).toEqual({ count: 2, totalSize: 2013, totalHits: 0 });
      await unlink(imagePath('a'));
      await unlink(imagePath('c'));
      expect(await driver.removeAll()).toBe(2);
      expect(await driver.stats()).toEqual({ count: 0, totalSize: 0, totalHits: 0 });
      expect(await driver.list()).toEqual([]);
      expect(await collect(driver.leastRecentlyUsed())).toEqual([]);
    });

    it('keeps everything across close and reopen', async () => {
      await commitWithFiles(driver, imagePath, [entry('a', 1), entry('b', 2)]);
      await driver.recordHit('b', entry('b', 2).lastModified + 3);
      const before = await driver.list();
      await harness.closeDriver(driver);
      const reopened = await harness.openDriver();
      expect(await reopened.list()).toEqual(before);
      expect(await reopened.stats()).toEqual({ count: 2, totalSize: 2003, totalHits: 1 });
    });

    it('loses nothing under concurrent commits and hits', async () => {
      const ids = Array.from({ length: 20 }, (_, n) => `c${n}`);
      await Promise.all(ids.map((id) => writeFile(imagePath(id), '')));
      await Promise.all(ids.map((id, n) => driver.commit(entry(id, n))));
      const hitsPerImage = 25;
      await Promise.all(
        ids.flatMap((id) => Array.from({ length: hitsPerImage }, (_, k) => driver.recordHit(id, Date.now() + k))),
      );
      const stats = await driver.stats();
      expect(stats.count).toBe(ids.length);
      expect(stats.totalHits).toBe(ids.length * hitsPerImage);
      for (const item of await driver.list()) expect(item.hits).toBe(hitsPerImage);
    });

    it('lets two open instances on one root see each other', async () => {
      const second = await harness.openDriver();
      await commitWithFiles(driver, imagePath, [entry('from-first', 1)]);
      await commitWithFiles(second, imagePath, [entry('from-second', 2)]);
      await Promise.all([driver.recordHit('from-second', Date.now()), second.recordHit('from-first', Date.now())]);
      for (const instance of [driver, second]) {
        expect((await instance.list()).map((item) => [item.imageId, item.hits])).toEqual([
          ['from-first', 1],
          ['from-second', 1],
        ]);
      }
    });

    it(`handles ${scale} entries: totals, listing and LRU scan agree`, async () => {
      const entries = Array.from({ length: scale }, (_, n) => entry(`s${String(n).padStart(6, '0')}`, n));
      await inBatches(entries, 256, (item) => writeFile(imagePath(item.imageId), Buffer.alloc(item.size)));
      await inBatches(entries, 256, (item) => driver.commit(item));
      const stats = await driver.stats();
      expect(stats.count).toBe(scale);
      expect(stats.totalSize).toBe(entries.reduce((sum, item) => sum + item.size, 0));
      expect((await driver.list()).length).toBe(scale);
      expect((await collect(driver.leastRecentlyUsed())).map((item) => item.imageId)).toEqual(entries.map((item) => item.imageId));
    });

    it('reconciles with core after a simulated crash', async () => {
      await harness.closeDriver(driver);
      const open = () =>
        ImageCache.open({ dir: harness.root, driver: options.factory, driverOptions: options.options ?? {}, logger: silentLogger, fallback: false });
      let cache = await open();
      for (const id of ['kept', 'vanished', 'resized']) {
        expect(await cache.cacheImageIter(id, [Buffer.alloc(4096, id.length)])).toBe(true);
      }
      await cache.close();
      const layout = harness.layout;
      // A writer killed mid-write, a commit killed between rename and metadata, a file
      // deleted behind the cache's back, and a file changed behind its back.
      await writeFile(join(layout.incompleteDir, `partial~${deadPid()}-abc123`), Buffer.alloc(100, 1));
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
            expect.objectContaining({ action: 'quarantined', imageId: 'partial', cause: 'abandoned', movedTo: expect.stringMatching(/^invalid\/partial~abandoned-/) }),
            expect.objectContaining({ action: 'adopted', imageId: 'orphan', cause: 'unrecorded' }),
            expect.objectContaining({ action: 'dropped', imageId: 'vanished', cause: 'missing' }),
            expect.objectContaining({ action: 'quarantined', imageId: 'resized', cause: 'resized', reason: 'file is 10 bytes, its metadata says 4096' }),
          ]),
        );
        expect(await readdir(layout.incompleteDir)).toEqual([]);
        const listed = await cache.getCachedImages();
        expect(listed.map((item) => item.imageId)).toEqual(['kept', 'orphan']);
        const onDisk = await Promise.all((await readdir(layout.imagesDir)).map(async (name) => (await stat(join(layout.imagesDir, name))).size));
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
