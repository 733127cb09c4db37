import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '../src/index.js';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/content.mjs';
import { tempDir } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/paused-commit.mjs', import.meta.url));
const NEW_SIZE = 300_000;

/** A writer in another process, stopped between placing its file in images/ and committing its metadata. */
async function pausedWriter(dir: string, driver: string, imageId: string, mode: 'fresh' | 'replace'): Promise<{ resume: () => Promise<string> }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [fixture, dir, driver, imageId, String(NEW_SIZE), mode]);
  let out = '';
  let err = '';
  child.stderr.on('data', (data) => (err += data));
  const exited = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer exited ${code}: ${err}`))));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data) => {
      out += data;
      if (out.includes('paused\n')) resolve();
    });
    exited.catch(reject);
  });
  return {
    async resume() {
      child.stdin.end('go\n');
      return exited;
    },
  };
}

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
    it.each(Object.keys(steps))('%s leaves the committing writer alone, and its image is cached intact', async (step) => {
      const dir = await tempDir();
      const imageId = 'img';
      let cache = await open(dir, driver);
      try {
        if (mode === 'replace') {
          const old = imageBytes(imageId, 1000) as Buffer;
          expect(await cache.cacheImageIter(imageId, [old], sha256(old))).toBe(true);
        }
        const writer = await pausedWriter(dir, driver, imageId, mode);
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
    });
  });
});
