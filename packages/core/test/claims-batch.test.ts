import { spawn, spawnSync } from 'node:child_process';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isClaimed, releaseClaim, takeLock, takeLocks } from '../src/claims.js';
import { ImageCache, silentLogger } from '../src/index.js';
import { workFileName } from '../src/names.js';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/content.mjs';
import { bytes, listDir, openCache, tempDir } from './helpers.js';
import { mountSmallTmpfs } from './mount.js';
import { pausedWriter } from './paused-writer.js';

/** A live process that is not this one, to own hand-made claim files. */
const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
afterAll(() => void sleeper.kill('SIGKILL'));
/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

/** Name of another process's batch lock (claims.ts): `#batch~<pid>-<rand>.lock`. */
const batchLockName = (pid: number) => workFileName('#batch', pid, undefined, true);

describe('batch locks', () => {
  it('one file claims every image of a batch, and goes with the last of its claims', async () => {
    const cache = await openCache();
    const locks = await takeLocks(cache.layout, ['a', 'b', 'c']);
    expect(locks.map((lock) => lock.imageId)).toEqual(['a', 'b', 'c']);
    expect(await listDir(cache.layout.incompleteDir)).toHaveLength(1);
    expect(await takeLock(cache.layout, 'b')).toBeNull();
    await releaseClaim(locks[0]!);
    await releaseClaim(locks[1]!);
    expect(await isClaimed(cache.layout, 'c')).toBe(true);
    expect(await listDir(cache.layout.incompleteDir)).toHaveLength(1);
    await releaseClaim(locks[2]!);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
    expect(await isClaimed(cache.layout, 'a')).toBe(false);
  });

  it("a writer backs off from the images another process's batch lock names, even one still being written", async () => {
    const cache = await openCache();
    const pid = sleeper.pid!;
    await writeFile(join(cache.layout.incompleteDir, batchLockName(pid)), 'named\n#end\n');
    // Still being written: whole lines count, the cut-off last one does not.
    await writeFile(join(cache.layout.incompleteDir, batchLockName(pid)), 'partial\npart');
    expect(await cache.cacheImageIter('named', [bytes(100)])).toBe(false);
    expect(await cache.cacheImageIter('partial', [bytes(100)])).toBe(false);
    expect(await cache.cacheImageIter('part', [bytes(100)])).toBe(true);
    expect(await cache.cacheImageIter('other', [bytes(100)])).toBe(true);
    const locks = await takeLocks(cache.layout, ['named', 'free']);
    expect(locks.map((lock) => lock.imageId)).toEqual(['free']);
    await releaseClaim(locks[0]!);
  });

  it("reconcile removes a dead process's batch lock; clean and reconcile leave a live one", async () => {
    const cache = await openCache();
    const live = batchLockName(sleeper.pid!);
    await writeFile(join(cache.layout.incompleteDir, live), 'img\n#end\n');
    await writeFile(join(cache.layout.incompleteDir, batchLockName(deadPid())), 'img\n#end\n');
    await cache.close();
    const reopened = await openCache({ dir: cache.layout.root });
    expect(reopened.reconcileReport.repairs).toEqual([]);
    expect(await reopened.clean(0)).toEqual({ incomplete: 0, invalid: 0 });
    expect(await listDir(cache.layout.incompleteDir)).toEqual([live]);
  });

  it('on a full disk, where a batch lock cannot be written, prune still evicts and leaves no lock behind', async (context) => {
    const mount = await mountSmallTmpfs('1m');
    if ('skipReason' in mount) return context.skip(mount.skipReason);
    try {
      const cache = await openCache({ dir: join(mount.dir, 'cache') });
      for (let n = 0; n < 8; n++) expect(await cache.cacheImageIter(`img-${n}`, [bytes(64 * 1024, n + 1)])).toBe(true);
      await fillUp(join(mount.dir, 'filler'));
      expect(await cache.prune(0)).toEqual({ files: 8, bytes: 8 * 64 * 1024 });
      expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
      await cache.close();
    } finally {
      await mount.unmount();
    }
  });
});

/** Appends to `path` until the filesystem refuses even one more byte. */
async function fillUp(path: string): Promise<void> {
  for (const size of [64 * 1024, 1024, 1]) {
    for (;;) {
      try {
        await appendFile(path, Buffer.alloc(size));
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOSPC') throw error;
        break;
      }
    }
  }
}

const open = (dir: string, driver: string) => ImageCache.open({ dir, driver, fallback: false, logger: silentLogger });
const NEW_SIZE = 300_000;

/** Bulk maintenance whose victims, taken under one batch lock, include the image another process is committing. */
const bulk: Record<string, (cache: ImageCache) => Promise<number>> = {
  prune: async (cache) => (await cache.prune(0)).files,
  deleteAll: (cache) => cache.deleteAllCachedImages(),
};

describe.each(['sqlite', 'xattr'])('a batch with a victim another process is committing (%s driver)', (driver) => {
  it.each(Object.keys(bulk))('%s removes the rest of the batch and leaves that image to its writer', async (step) => {
    const dir = await tempDir();
    let cache = await open(dir, driver);
    try {
      // 'img' sits in the middle of the least-recently-used order.
      const ids = [
        ...Array.from({ length: 10 }, (_, n) => `old-${n}`),
        'img',
        ...Array.from({ length: 10 }, (_, n) => `new-${n}`),
      ];
      for (const id of ids) {
        const data = imageBytes(id, 1000) as Buffer;
        expect(await cache.cacheImageIter(id, [data], sha256(data))).toBe(true);
      }
      const writer = await pausedWriter(dir, driver, 'img', NEW_SIZE, 'replace');
      expect(await bulk[step]!(cache)).toBe(ids.length - 1);
      expect((await readFile(cache.layout.imagePath('img'))).length).toBe(NEW_SIZE);
      expect(await readdir(cache.layout.imagesDir)).toEqual(['img']);
      expect(await writer.resume()).toContain('done true');
      await cache.close();

      cache = await open(dir, driver);
      expect(cache.reconcileReport.repairs).toEqual([]);
      expect(await cache.getCachedImage('img')).toMatchObject({
        size: NEW_SIZE,
        checksum: sha256(imageBytes('img', NEW_SIZE)),
      });
      expect(await cache.verify()).toEqual({ checked: 1, failed: [] });
      expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
    } finally {
      await cache.close();
    }
  });
});
