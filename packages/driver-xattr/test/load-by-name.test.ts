import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
import { scratchRoot } from './helpers.js';

// Loading by name goes through the built package (dist/ via its exports map): build first.
describe('loading the xattr driver by name', () => {
  let root: string;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    const scratch = await scratchRoot();
    root = scratch.layout.root;
    dispose = scratch.dispose;
  });

  afterEach(async () => {
    await dispose();
  });

  it('opens "xattr" with the application importer (the package resolves itself by name)', async () => {
    const cache = await ImageCache.open({
      dir: root,
      driver: 'xattr',
      importer: (specifier) => import(specifier),
      fallback: false,
      logger: silentLogger,
    });
    try {
      expect(cache.driverName).toBe('xattr');
      expect(await cache.cacheImageIter('by-name', [Buffer.from('hello')])).toBe(true);
      expect(await cache.getCachedImages()).toEqual([
        expect.objectContaining({ imageId: 'by-name', size: 5, hits: 0 }),
      ]);
    } finally {
      await cache.close();
    }
  });

  it('opens "@imgcache/driver-xattr" through core\'s own resolution and resolveFrom', async () => {
    for (const options of [{}, { resolveFrom: import.meta.url }]) {
      const cache = await ImageCache.open({
        dir: root,
        driver: '@imgcache/driver-xattr',
        fallback: false,
        logger: silentLogger,
        ...options,
      });
      expect(cache.driverName).toBe('xattr');
      await cache.close();
    }
  });
});
