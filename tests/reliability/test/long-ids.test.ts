import { open as openFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCache, MAX_NAME_BYTES, nameKey, silentLogger } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256, streamed } from './fixtures/images.mjs';
import { fixtureOrigin, runUntilKilled, tempDir } from './helpers.js';
import { download, startServerProcess } from './server-process.js';

/** 255 characters: the longest valid id. Two of them differ only in their last character. */
const LONGEST = 'img.long-id_'.repeat(22).slice(0, 254);
const ID = `${LONGEST}a`;
const TWIN = `${LONGEST}b`;

const openCache = (dir: string, driver: string) =>
  ImageCache.open({ dir, driver, fallback: false, logger: silentLogger, importer: (s) => import(s) });

/** Every name under `dir`, recursively. */
async function allNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    names.push(entry.name);
    if (entry.isDirectory()) names.push(...(await allNames(join(dir, entry.name))));
  }
  return names;
}

async function readAll(cache: ImageCache, imageId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await cache.openForRead(imageId)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe.each(['sqlite', 'xattr'])('the longest valid id (255 characters), %s driver', (driver) => {
  it('is queued, cached, read, verified, quarantined, cleaned, pruned and deleted; every derived name fits', async () => {
    const { dir, dispose } = await tempDir(`long-${driver}`);
    const cache = await openCache(dir, driver);
    const namesSeen = new Set<string>();
    const note = async () => {
      for (const name of await allNames(dir)) namesSeen.add(name);
    };
    try {
      expect(ID).toHaveLength(255);
      const data = imageBytes(ID) as Buffer;
      expect(await cache.queueImage(ID)).toBe(true);
      expect(await cache.getQueuedImages()).toEqual([ID]);

      // A failed write is quarantined under a name that fits.
      await expect(cache.cacheImageIter(ID, streamed(data), `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({
        code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH',
      });
      expect(await readdir(cache.layout.invalidDir)).toEqual([
        expect.stringMatching(new RegExp(`^${nameKey(ID).replace(/[.#]/g, '\\$&')}~failed-`)),
      ]);
      await note();

      // Cached through both caching calls; the twin id gets its own claim and file.
      expect(await cache.cacheImageIter(ID, streamed(data), sha256(data))).toBe(true);
      const twin = imageBytes(TWIN) as Buffer;
      const teed: Buffer[] = [];
      for await (const chunk of cache.getCachingIter(TWIN, streamed(twin), sha256(twin))) teed.push(Buffer.from(chunk));
      expect(sha256(Buffer.concat(teed))).toBe(sha256(twin));
      expect(await cache.isQueued(ID)).toBe(false);
      expect(sha256(await readAll(cache, ID))).toBe(sha256(data));
      expect(sha256(await readAll(cache, TWIN))).toBe(sha256(twin));
      expect(await cache.verify()).toEqual({ checked: 2, failed: [] });
      await note();

      // A corrupted file is quarantined by verify.
      const handle = await openFile(cache.layout.imagePath(ID), 'r+');
      await handle.write(Buffer.from([data[10]! ^ 0xff]), 0, 1, 10);
      await handle.close();
      const verified = await cache.verify();
      expect(verified.failed).toEqual([
        {
          imageId: ID,
          reason: expect.stringContaining('checksum is'),
          movedTo: expect.stringMatching(/^invalid\/.+~corrupt-[0-9a-f]{12}$/),
        },
      ]);
      await note();
      expect(await cache.clean(0)).toEqual({ incomplete: 0, invalid: 2 });

      // Cached again, then pruned and deleted.
      expect(await cache.cacheImageIter(ID, [data], sha256(data))).toBe(true);
      expect(await cache.prune(0)).toEqual({ files: 2, bytes: data.length + twin.length });
      expect(await cache.cacheImageIter(ID, [data], sha256(data))).toBe(true);
      expect(await cache.deleteAllCachedImages()).toBe(1);
      expect(await cache.cacheImageIter(ID, [data], sha256(data))).toBe(true);
      expect(await cache.deleteCachedImage(ID)).toBe(true);
      await note();
      expect(await readdir(cache.layout.imagesDir)).toEqual([]);
      expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
      for (const name of namesSeen) expect(Buffer.byteLength(name), name).toBeLessThanOrEqual(MAX_NAME_BYTES);
    } finally {
      await cache.close();
      await dispose();
    }
  });

  it('is reconciled after a crash mid-write and after a crash between placing the file and its metadata', async () => {
    const { dir, dispose } = await tempDir(`long-crash-${driver}`);
    try {
      await runUntilKilled('crash-at.mjs', [dir, driver, ID, 'write']);
      let cache = await openCache(dir, driver);
      expect(cache.reconcileReport.repairs).toEqual([
        expect.objectContaining({ action: 'quarantined', imageId: nameKey(ID), cause: 'abandoned' }),
      ]);
      expect(await cache.isCached(ID)).toBe(false);
      await cache.close();

      await runUntilKilled('crash-at.mjs', [dir, driver, ID, 'place']);
      cache = await openCache(dir, driver);
      try {
        expect(cache.reconcileReport.repairs).toEqual([expect.objectContaining({ action: 'adopted', imageId: ID })]);
        expect(sha256(await readFile(cache.layout.imagePath(ID)))).toBe(sha256(imageBytes(ID)));
        expect(await cache.verify()).toEqual({ checked: 1, failed: [] });
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
      } finally {
        await cache.close();
      }
    } finally {
      await dispose();
    }
  });
});

describe('the server with a 250-character id', () => {
  it('serves it from the origin, caches it, then serves it from the cache', async () => {
    const { dir, dispose } = await tempDir('long-server');
    const origin = await fixtureOrigin().start();
    const server = await startServerProcess([
      '--origin',
      origin.url,
      '--dir',
      join(dir, 'cache'),
      '--public',
      '--maintenance-interval',
      '0',
    ]);
    try {
      const id = ID.slice(0, 250);
      const expected = sha256(imageBytes(id));
      const miss = await download(`${server.url}/v2/images/${id}/file`);
      expect(miss).toMatchObject({ status: 200, sha256: expected });
      expect(miss.headers['x-cache']).toBe('MISS');
      const hit = await download(`${server.url}/v2/images/${id}/file`);
      expect(hit).toMatchObject({ status: 200, sha256: expected });
      expect(hit.headers['x-cache']).toBe('HIT');
    } finally {
      await server.stop('SIGTERM');
      await origin.stop();
      await dispose();
    }
  });
});
