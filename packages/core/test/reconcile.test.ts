import { spawn, spawnSync } from 'node:child_process';
import { link, readdir, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workFileName } from '../src/names.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { bytes, capturingLogger, listDir, openCache, tempDir } from './helpers.js';

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('startup reconcile names every repair', () => {
  it('reports and logs each image with its cause, never blaming an unclean shutdown', async () => {
    const dir = await tempDir();
    const driver = createMemoryDriver();
    const cache = await openCache({ dir, driver });
    for (const id of ['kept', 'truncated', 'vanished']) await cache.cacheImageIter(id, [bytes(4096)]);
    await cache.close();
    await truncate(cache.layout.imagePath('truncated'), 100);
    await unlink(cache.layout.imagePath('vanished'));
    await writeFile(cache.layout.imagePath('unrecorded'), bytes(700));
    await writeFile(join(cache.layout.incompleteDir, workFileName('partial', deadPid())), bytes(10));

    const logger = capturingLogger();
    const reopened = await openCache({ dir, driver, logger });
    const { repairs, ...counts } = reopened.reconcileReport;
    expect(counts).toEqual({ abandonedWrites: 1, droppedEntries: 1, adoptedFiles: 1, quarantinedFiles: 1 });
    expect(repairs).toEqual(
      expect.arrayContaining([
        {
          action: 'quarantined',
          imageId: 'partial',
          cause: 'abandoned',
          reason: expect.stringMatching(/^unfinished write of process \d+, which is gone$/),
          movedTo: expect.stringMatching(/^invalid\/partial~abandoned-[0-9a-f]{12}$/),
        },
        {
          action: 'quarantined',
          imageId: 'truncated',
          cause: 'resized',
          reason: 'file is 100 bytes, its metadata says 4096',
          movedTo: expect.stringMatching(/^invalid\/truncated~resized-[0-9a-f]{12}$/),
        },
        {
          action: 'adopted',
          imageId: 'unrecorded',
          cause: 'unrecorded',
          reason: expect.stringContaining('without metadata'),
        },
        { action: 'dropped', imageId: 'vanished', cause: 'missing', reason: expect.stringContaining('without a file') },
      ]),
    );
    const warnings = logger.lines.filter((line) => line.level === 'warn').map((line) => line.text);
    expect(warnings).toHaveLength(4);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /^startup reconcile: quarantined image truncated \(file is 100 bytes, its metadata says 4096\): moved to invalid\/truncated~resized-/,
      ),
    );
    expect(warnings).toContainEqual(expect.stringMatching(/^startup reconcile: dropped image vanished \(/));
    expect(warnings).toContainEqual(expect.stringMatching(/^startup reconcile: adopted image unrecorded \(/));
    expect(warnings).toContainEqual(
      expect.stringMatching(/^startup reconcile: quarantined image partial \(unfinished write/),
    );
    expect(warnings.join('\n')).not.toContain('unclean shutdown');
    expect((await reopened.getCachedImages()).map((image) => image.imageId)).toEqual(['kept', 'unrecorded']);
  });

  it('reports nothing and logs nothing when there is nothing to repair', async () => {
    const dir = await tempDir();
    const driver = createMemoryDriver();
    const first = await openCache({ dir, driver });
    await first.cacheImageIter('img', [bytes(10)]);
    // The memory driver serves one process: the first cache lets go of the directory first.
    await first.close();
    const logger = capturingLogger();
    const reopened = await openCache({ dir, driver, logger });
    expect(reopened.reconcileReport.repairs).toEqual([]);
    expect(logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });
});

describe('startup reconcile after a crash inside the commit window', () => {
  /** A writer that died after linking its work file to its commit lock (and maybe after more steps). */
  async function crashedCommit(options: { placed: boolean }) {
    const dir = await tempDir();
    const driver = createMemoryDriver();
    const cache = await openCache({ dir, driver });
    const pid = deadPid();
    const work = join(cache.layout.incompleteDir, workFileName('img', pid));
    const lock = join(cache.layout.incompleteDir, workFileName('img', pid, undefined, true));
    await writeFile(work, bytes(5000, 3));
    await link(work, lock);
    if (options.placed) {
      await link(work, cache.layout.imagePath('img'));
      await unlink(work);
    }
    await cache.close();
    return { dir, driver };
  }

  it('work file and lock left before the rename: one abandoned write quarantined, nothing cached', async () => {
    const { dir, driver } = await crashedCommit({ placed: false });
    const cache = await openCache({ dir, driver });
    expect(cache.reconcileReport.repairs).toEqual([
      expect.objectContaining({ action: 'quarantined', imageId: 'img', cause: 'abandoned' }),
    ]);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
    expect(await listDir(cache.layout.imagesDir)).toEqual([]);
    expect(await listDir(cache.layout.invalidDir)).toEqual([expect.stringMatching(/^img~abandoned-/)]);
  });

  it('lock left after the rename, before the metadata: the placed file is adopted', async () => {
    const { dir, driver } = await crashedCommit({ placed: true });
    const cache = await openCache({ dir, driver });
    expect(cache.reconcileReport.repairs).toEqual([
      expect.objectContaining({ action: 'adopted', imageId: 'img', cause: 'unrecorded' }),
    ]);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
    expect(await listDir(cache.layout.invalidDir)).toEqual([]);
    expect(await cache.getImageSize('img')).toBe(5000);
  });

  it("leftovers named with this process id but not held by it are a former process's: reaped", async () => {
    const dir = await tempDir();
    const cache = await openCache({ dir });
    await writeFile(join(cache.layout.incompleteDir, workFileName('img', process.pid)), bytes(10));
    await writeFile(join(cache.layout.incompleteDir, workFileName('img', process.pid, undefined, true)), '');
    await cache.close();
    const reopened = await openCache({ dir });
    expect(reopened.reconcileReport.abandonedWrites).toBe(1);
    expect(await listDir(reopened.layout.incompleteDir)).toEqual([]);
  });
});

describe('a live claim of another process', () => {
  it('keeps reconcile, verify and clean away from the image until that process is gone', async () => {
    const dir = await tempDir();
    const driver = createMemoryDriver();
    let cache = await openCache({ dir, driver });
    await cache.cacheImageIter('img', [bytes(4096)]);
    await cache.close();
    await truncate(cache.layout.imagePath('img'), 100);
    await writeFile(cache.layout.imagePath('unrecorded'), bytes(10));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const locks = ['img', 'unrecorded'].map((id) =>
        join(cache.layout.incompleteDir, workFileName(id, other.pid!, undefined, true)),
      );
      for (const lock of locks) await writeFile(lock, '');
      cache = await openCache({ dir, driver });
      expect(cache.reconcileReport.repairs).toEqual([]);
      expect(await cache.verify()).toEqual({
        checked: 1,
        failed: [
          {
            imageId: 'img',
            reason: 'size is 100 bytes, expected 4096; left in place: another process holds this image now',
          },
        ],
      });
      expect(await cache.clean(0)).toEqual({ incomplete: 0, invalid: 0 });
      expect(await cache.deleteCachedImage('img')).toBe(false);
      expect(await cache.prune(0)).toEqual({ files: 0, bytes: 0 });
      expect((await readdir(cache.layout.imagesDir)).sort()).toEqual(['img', 'unrecorded']);
      expect((await readdir(cache.layout.incompleteDir)).sort()).toEqual(
        locks.map((lock) => lock.slice(cache.layout.incompleteDir.length + 1)).sort(),
      );
      await cache.close();
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
    cache = await openCache({ dir, driver });
    expect(cache.reconcileReport).toMatchObject({ quarantinedFiles: 1, adoptedFiles: 1 });
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('clean reaps a stalled work file of a live writer, but never a lock', async () => {
    const cache = await openCache();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const lock = workFileName('committing', other.pid!, undefined, true);
      await writeFile(join(cache.layout.incompleteDir, workFileName('img', other.pid!)), 'partial');
      await writeFile(join(cache.layout.incompleteDir, lock), '');
      expect(await cache.clean(3600)).toEqual({ incomplete: 0, invalid: 0 });
      expect(await cache.clean(0)).toEqual({ incomplete: 1, invalid: 0 });
      expect(await listDir(cache.layout.incompleteDir)).toEqual([lock]);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
