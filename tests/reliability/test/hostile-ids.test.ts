import fc from 'fast-check';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCache, ImgcacheError, isValidImageId, silentLogger } from '@imgcache/core';
import { tempDir } from './helpers.js';

/** Every path below `dir`, to compare before and after. */
async function snapshot(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

const hostileFragments = [
  '..',
  '../',
  '..\\',
  '%2e%2e%2f',
  '\0',
  '/',
  '\\',
  'images',
  'incomplete',
  'queue',
  'cache.sqlite',
  '.',
  '~',
  ' ',
  'é',
  '😀',
  '\n',
];
const hostileId = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.array(fc.constantFrom(...hostileFragments), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '.', '..', 'x'.repeat(256), '../../etc/passwd', 'a/../../b', 'C:\\Windows'),
);

describe('hostile image ids against the core API', () => {
  it('every id is either valid and confined to the cache, or refused with a clear error; nothing outside changes', async () => {
    const { dir: parent, dispose } = await tempDir('hostile');
    const root = join(parent, 'cache');
    const cache = await ImageCache.open({ dir: root, logger: silentLogger });
    const outsideBefore = (await readdir(parent)).sort();
    try {
      await fc.assert(
        fc.asyncProperty(hostileId, async (id) => {
          const operations = [
            () => cache.queueImage(id),
            () => cache.cacheImageIter(id, [Buffer.from('bytes')]),
            () => cache.isCached(id),
            () => cache.openForRead(id).then((stream) => stream.destroy()),
            () => cache.deleteCachedImage(id),
            () => cache.deleteQueuedImage(id),
          ];
          for (const operation of operations) {
            const outcome = await operation().then(
              () => 'ok',
              (error: unknown) => error,
            );
            if (isValidImageId(id)) {
              expect(outcome === 'ok' || ImgcacheError.is(outcome, 'ERR_IMGCACHE_NOT_CACHED')).toBe(true);
            } else {
              expect(ImgcacheError.is(outcome, 'ERR_IMGCACHE_INVALID_IMAGE_ID')).toBe(true);
              expect((outcome as Error).message).toMatch(/Invalid image id/);
            }
          }
          expect((await readdir(parent)).sort()).toEqual(outsideBefore);
          for (const name of await snapshot(root)) {
            expect(name.split('/').every((part) => part !== '..')).toBe(true);
          }
        }),
        { numRuns: 300, seed: 20261125 },
      );
    } finally {
      await cache.close();
      await dispose();
    }
  });
});
