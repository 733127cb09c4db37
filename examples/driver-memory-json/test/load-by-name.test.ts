import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageCache, ImgcacheError, silentLogger } from '@imgcache/core';

// Core loads the driver through this package's exports map (dist/): the package must be built.
const PACKAGE_NAME = 'imgcache-driver-memory-json';

describe('loading the driver by package name through core', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgcache-memory-json-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves it from the application with resolveFrom', async () => {
    const cache = await ImageCache.open({
      dir,
      driver: PACKAGE_NAME,
      resolveFrom: import.meta.url,
      fallback: false,
      logger: silentLogger,
    });
    try {
      expect(cache.driverName).toBe('memory-json');
      expect(await cache.cacheImageIter('by-name', [Buffer.from('hello')])).toBe(true);
    } finally {
      await cache.close();
    }
    const saved = JSON.parse(await readFile(join(dir, 'imgcache-metadata.json'), 'utf8'));
    expect(saved.entries).toEqual([expect.objectContaining({ imageId: 'by-name', size: 5, hits: 0 })]);
  });

  it('imports it with the application importer and keeps entries across a reopen', async () => {
    const open = () =>
      ImageCache.open({
        dir,
        driver: PACKAGE_NAME,
        importer: (specifier) => import(specifier),
        fallback: false,
        logger: silentLogger,
      });
    let cache = await open();
    await cache.cacheImageIter('kept', [Buffer.from('bytes')]);
    await cache.close();
    cache = await open();
    try {
      expect(cache.driverName).toBe('memory-json');
      expect((await cache.getCachedImages()).map((image) => image.imageId)).toEqual(['kept']);
    } finally {
      await cache.close();
    }
  });

  it('hands driverOptions to the create function, which refuses a bad one without falling back', async () => {
    const opening = ImageCache.open({
      dir,
      driver: PACKAGE_NAME,
      driverOptions: { fileName: '../outside.json' },
      resolveFrom: import.meta.url,
      fallback: false,
      logger: silentLogger,
    });
    await expect(opening).rejects.toSatisfy((error) => ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_OPTION'));
    // With fallback on too: a mistake in the options is reported, not papered over with SQLite.
    const fallingBack = ImageCache.open({
      dir,
      driver: PACKAGE_NAME,
      driverOptions: { fileName: 'images' },
      resolveFrom: import.meta.url,
      logger: silentLogger,
    });
    await expect(fallingBack).rejects.toSatisfy((error) => ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_OPTION'));
    const named = await ImageCache.open({
      dir,
      driver: PACKAGE_NAME,
      driverOptions: { fileName: 'named.json' },
      resolveFrom: import.meta.url,
      fallback: false,
      logger: silentLogger,
    });
    await named.cacheImageIter('named', [Buffer.from('x')]);
    await named.close();
    expect(await readdir(dir)).toContain('named.json');
  });
});
