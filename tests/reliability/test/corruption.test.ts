import Database from 'better-sqlite3';
import { open, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
import { removeAttribute } from 'fs-xattr';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { bytesIn, tempDir } from './helpers.js';

/** Removes an image's metadata behind the cache's back, the way each driver stores it. */
async function dropMetadata(driver: string, cache: ImageCache, imageId: string): Promise<void> {
  if (driver === 'sqlite') {
    const db = new Database(join(cache.layout.root, 'cache.sqlite'));
    db.prepare('DELETE FROM entries WHERE image_id = ?').run(imageId);
    db.close();
  } else {
    await removeAttribute(cache.layout.imagePath(imageId), 'user.imgcache.entry');
    await unlink(join(cache.layout.root, 'xattr-entries', imageId));
  }
}

describe.each(['sqlite', 'xattr'])('corruption behind the cache: %s driver', (driver) => {
  it('verify finds and quarantines every case, and flagged images are never read', async () => {
    const { dir, dispose } = await tempDir(`corrupt-${driver}`);
    const ids = ['good', 'flipped', 'truncated', 'deleted', 'no-metadata'];
    let cache = await ImageCache.open({
      dir,
      driver,
      fallback: false,
      logger: silentLogger,
      importer: (s) => import(s),
    });
    try {
      for (const id of ids) {
        const data = imageBytes(id) as Buffer;
        expect(await cache.cacheImageIter(id, [data], sha256(data))).toBe(true);
      }
      const handle = await open(cache.layout.imagePath('flipped'), 'r+');
      const [original] = (await readFile(cache.layout.imagePath('flipped'))).subarray(1000, 1001);
      await handle.write(Buffer.from([original! ^ 0x01]), 0, 1, 1000);
      await handle.close();
      await truncate(cache.layout.imagePath('truncated'), 100);
      await unlink(cache.layout.imagePath('deleted'));
      await dropMetadata(driver, cache, 'no-metadata');

      const result = await cache.verify();
      expect(result.failed.map((failure) => failure.imageId).sort()).toEqual([
        'deleted',
        'flipped',
        'no-metadata',
        'truncated',
      ]);
      for (const id of ['flipped', 'truncated', 'deleted', 'no-metadata']) {
        await expect(cache.openForRead(id)).rejects.toMatchObject({ code: 'ERR_IMGCACHE_NOT_CACHED' });
      }
      const good = imageBytes('good') as Buffer;
      const parts: Buffer[] = [];
      for await (const chunk of await cache.openForRead('good')) parts.push(chunk as Buffer);
      expect(sha256(Buffer.concat(parts))).toBe(sha256(good));
      expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));

      // A restart agrees, and the quarantined images cache again.
      await cache.close();
      cache = await ImageCache.open({ dir, driver, fallback: false, logger: silentLogger, importer: (s) => import(s) });
      expect((await cache.getCachedImages()).map((image) => image.imageId)).toEqual(['good']);
      const again = imageBytes('flipped') as Buffer;
      expect(await cache.cacheImageIter('flipped', [again], sha256(again))).toBe(true);
      expect((await cache.verify()).failed).toEqual([]);
    } finally {
      await cache.close();
      await dispose();
    }
  });
});
