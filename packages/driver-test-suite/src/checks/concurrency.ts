import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { commitWithFiles, entry } from '../fixtures.js';
import type { SuiteScope } from '../options.js';
import { runWorker } from '../workers/jobs.js';

/** Processes in the multi-process check, and entries each commits: bounded, so the check takes seconds. */
const PROCESSES = 3;
const PER_PROCESS = 60;

/** Concurrent calls in one process, two instances on one root, and (when declared) several processes. */
export function concurrencyChecks(scope: SuiteScope): void {
  describe('concurrency', () => {
    it('loses nothing under concurrent commits and hits', async () => {
      const { driver } = scope;
      const ids = Array.from({ length: 20 }, (_, n) => `c${n}`);
      await Promise.all(ids.map((id) => writeFile(scope.imagePath(id), '')));
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
      const { driver } = scope;
      const second = await scope.harness.openDriver();
      await commitWithFiles(driver, scope.imagePath, [entry('from-first', 1)]);
      await commitWithFiles(second, scope.imagePath, [entry('from-second', 2)]);
      await Promise.all([driver.recordHit('from-second', Date.now()), second.recordHit('from-first', Date.now())]);
      for (const instance of [driver, second]) {
        expect((await instance.list()).map((item) => [item.imageId, item.hits])).toEqual([
          ['from-first', 1],
          ['from-second', 1],
        ]);
      }
    });

    it(`lets ${PROCESSES} processes commit, count hits and remove on one root at once`, async ({ skip }) => {
      const { driver, harness, options } = scope;
      if (!driver.capabilities.multiProcess) return skip('the driver declares capabilities.multiProcess: false');
      if (!options.processes)
        throw new Error(
          'the driver declares capabilities.multiProcess: give the suite `processes` so it can check that',
        );
      await commitWithFiles(driver, scope.imagePath, [entry('shared', 0)]);
      await harness.closeDriver(driver);
      const names = Array.from({ length: PROCESSES }, (_, n) => `p${n}`);
      await Promise.all(
        names.map((name) =>
          runWorker(options.processes!, { root: harness.root, task: 'share', name, count: PER_PROCESS }),
        ),
      );
      const reopened = await harness.openDriver();
      // Each process removed its even-numbered entries: the odd ones of all of them remain.
      const kept = names.flatMap((name) =>
        Array.from({ length: PER_PROCESS }, (_, n) => `${name}-${n}`).filter((_, n) => n % 2 === 1),
      );
      expect((await reopened.list()).map((item) => item.imageId)).toEqual(['shared', ...kept].sort());
      const hits = (await reopened.get('shared'))!.hits;
      const recorded = PROCESSES * PER_PROCESS;
      if (reopened.capabilities.multiProcessHits) expect(hits).toBe(recorded);
      else {
        // Without multiProcessHits a concurrent hit may be lost, never invented.
        expect(hits).toBeGreaterThanOrEqual(1);
        expect(hits).toBeLessThanOrEqual(recorded);
      }
      expect((await reopened.stats()).count).toBe(1 + kept.length);
    });
  });
}
