import { describe, expect, it } from 'vitest';
import { ChecksumMismatchError, ImgcacheError, InvalidChecksumError, parseChecksum } from '../src/index.js';
import { bytes, digest, openCache } from './helpers.js';

describe('checksums', () => {
  it('parses bare md5 and algorithm:hex, case-insensitively', () => {
    expect(parseChecksum('D41D8CD98F00B204E9800998ECF8427E')).toEqual({
      algorithm: 'md5',
      hex: 'd41d8cd98f00b204e9800998ecf8427e',
    });
    expect(parseChecksum(`SHA256:${'A'.repeat(64)}`)).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(parseChecksum(`sha512:${'0'.repeat(128)}`).algorithm).toBe('sha512');
  });

  it('refuses malformed values', () => {
    for (const value of ['', 'abc', `sha1:${'0'.repeat(40)}`, `sha256:${'0'.repeat(63)}`, `md5:${'z'.repeat(32)}`]) {
      expect(() => parseChecksum(value)).toThrow(InvalidChecksumError);
    }
  });

  it.each(['md5', 'sha256', 'sha512'] as const)(
    'verifies %s while streaming and records the configured digest',
    async (algorithm) => {
      const cache = await openCache({ checksumAlgorithm: 'sha512' });
      const data = bytes(300_000, 3);
      expect(await cache.cacheImageIter('img', [data], digest(algorithm, data))).toBe(true);
      expect((await cache.getCachedImages())[0]?.checksum).toBe(digest('sha512', data));
    },
  );

  it('accepts the bare md5 form Glance stores', async () => {
    const cache = await openCache();
    const data = bytes(5000);
    expect(await cache.cacheImageIter('img', [data], digest('md5', data).slice(4))).toBe(true);
    expect(await cache.getImageSize('img')).toBe(5000);
  });

  it('rejects a mismatch with ChecksumMismatchError and caches nothing', async () => {
    const cache = await openCache();
    const data = bytes(5000);
    const error = await cache.cacheImageIter('img', [data], digest('sha256', bytes(5000, 2))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CHECKSUM_MISMATCH')).toBe(true);
    expect(await cache.isCached('img')).toBe(false);
    expect(await cache.getCacheSize()).toBe(0);
  });

  it('rejects a malformed checksum before reading the source', async () => {
    const cache = await openCache();
    let pulled = false;
    const source = (function* () {
      pulled = true;
      yield Buffer.from('x');
    })();
    await expect(cache.cacheImageIter('img', source, 'nope')).rejects.toThrow(InvalidChecksumError);
    expect(pulled).toBe(false);
  });
});
