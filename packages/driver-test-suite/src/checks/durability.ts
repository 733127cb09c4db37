import { unlink } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { commitWithFiles, entry } from '../fixtures.js';
import type { SuiteScope } from '../options.js';
import { runWorker } from '../workers/jobs.js';

/** What a close and reopen, or a crash, leaves. */
export function durabilityChecks(scope: SuiteScope): void {
  describe('durability', () => {
    it('keeps everything across close and reopen', async () => {
      const { driver, harness } = scope;
      await commitWithFiles(driver, scope.imagePath, [entry('a', 1), entry('b', 2)]);
      await driver.recordHit('b', entry('b', 2).lastModified + 3);
      const before = await driver.list();
      await harness.closeDriver(driver);
      const reopened = await harness.openDriver();
      expect(await reopened.list()).toEqual(before);
      expect(await reopened.stats()).toEqual({ count: 2, totalSize: 2003, totalHits: 1 });
    });

    it('keeps removals across close and reopen', async () => {
      const { driver, harness } = scope;
      await commitWithFiles(driver, scope.imagePath, [entry('a', 1), entry('b', 2), entry('c', 3)]);
      await unlink(scope.imagePath('b'));
      await driver.remove(['b']);
      await harness.closeDriver(driver);
      let reopened = await harness.openDriver();
      expect((await reopened.list()).map((item) => item.imageId)).toEqual(['a', 'c']);
      for (const imageId of ['a', 'c']) await unlink(scope.imagePath(imageId));
      expect(await reopened.removeAll()).toBe(2);
      await harness.closeDriver(reopened);
      reopened = await harness.openDriver();
      expect(await reopened.stats()).toEqual({ count: 0, totalSize: 0, totalHits: 0 });
    });

    it('keeps every resolved commit of a process killed before close', async ({ skip }) => {
      const { processes } = scope.options;
      if (!processes) return skip('give the suite `processes` to check durability across a crash');
      await scope.harness.closeDriver(scope.driver);
      const ended = await runWorker(processes, { root: scope.harness.root, task: 'crash', name: 'crashed', count: 20 });
      expect(ended.signal).toBe('SIGKILL');
      const reopened = await scope.harness.openDriver();
      const ids = (await reopened.list()).map((item) => item.imageId);
      expect(ids).toEqual(Array.from({ length: 20 }, (_, n) => `crashed-${n}`).sort());
    });
  });
}
