import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImgcacheError, InvalidImageIdError, assertValidImageId, isValidImageId } from '../src/index.js';
import { openCache, tempDir } from './helpers.js';

const INVALID = [
  '',
  '.',
  '..',
  '../x',
  'a/b',
  'a\\b',
  'a\0b',
  'x'.repeat(256),
  'ümlaut',
  'a b',
  'a~1',
  '%2e%2e%2f',
  '/etc/passwd',
];

describe('image ids', () => {
  it('accepts 1-255 characters of A-Z a-z 0-9 . _ -', () => {
    for (const id of ['a', 'x'.repeat(255), '3f2a0c1e-uuid', 'name.with.dots', '...', '.hidden', 'under_score']) {
      expect(isValidImageId(id)).toBe(true);
    }
  });

  it('rejects everything else with a reason', () => {
    for (const id of INVALID) {
      expect(isValidImageId(id)).toBe(false);
      expect(() => assertValidImageId(id)).toThrow(InvalidImageIdError);
    }
    expect(() => assertValidImageId('../x')).toThrow(/path separator/);
    expect(() => assertValidImageId('x'.repeat(256))).toThrow(/256 characters/);
    expect(() => assertValidImageId(42)).toThrow(/not a string/);
  });

  it('is refused by every method before the filesystem is touched', async () => {
    // A parent of its own: the system temp directory changes under other tests running meanwhile.
    const parent = await tempDir();
    const dir = join(parent, 'cache');
    const cache = await openCache({ dir });
    const before = (await readdir(parent)).sort();
    const inside = (await readdir(dir)).sort();
    const calls: ((id: string) => Promise<unknown> | unknown)[] = [
      (id) => cache.isCached(id),
      (id) => cache.isQueued(id),
      (id) => cache.isCacheable(id),
      (id) => cache.getHitCount(id),
      (id) => cache.getImageSize(id),
      (id) => cache.queueImage(id),
      (id) => cache.deleteCachedImage(id),
      (id) => cache.deleteQueuedImage(id),
      (id) => cache.cacheImageIter(id, [Buffer.from('x')]),
      (id) => cache.cacheImageFile(id, '/etc/hostname'),
      (id) => cache.openForRead(id),
      (id) => cache.verify([id]),
      (id) => cache.getCachingIter(id, [Buffer.from('x')]),
      (id) => cache.followFill(id),
    ];
    for (const id of INVALID) {
      for (const call of calls) {
        const outcome = await Promise.resolve()
          .then(() => call(id))
          .then(
            () => null,
            (error: unknown) => error,
          );
        expect(ImgcacheError.is(outcome, 'ERR_IMGCACHE_INVALID_IMAGE_ID')).toBe(true);
      }
    }
    expect((await readdir(parent)).sort()).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(inside);
  });
});
