import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { CHECKSUM_ALGORITHMS } from '@imgcache/core';
import { FakeOrigin } from '@imgcache/test-origin';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

/**
 * python-glanceclient's check of a download when it uses the response header (its
 * `utils.integrity_iter`, reached from `images.data()` when the image document offers no
 * usable hash): the md5 hexdigest of the body must equal the `Content-MD5` value as a
 * string, else the download is "corrupt"; without the header nothing is checked.
 * @returns whether the header was there to check.
 */
function glanceclientIntegrity(body: Buffer, headers: IncomingHttpHeaders): boolean {
  const checksum = headers['content-md5'];
  if (checksum === undefined) return false;
  const md5sum = createHash('md5').update(body).digest('hex');
  if (md5sum !== checksum)
    throw new Error(`Corrupt image download. Checksum was ${md5sum} expected ${String(checksum)}`);
  return true;
}

describe('Content-MD5 as Glance sends it, on misses and hits, whatever --checksum-algorithm is', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it.each(CHECKSUM_ALGORITHMS)(
    'Glance origin, --checksum-algorithm %s: both pass the client check, and both carry the header',
    async (algorithm) => {
      h = await startHarness({ checksumAlgorithm: algorithm });
      const data = randomImage(256 * 1024);
      h.origin.add('glance-image', { data });
      const miss = await send(h.url('/v2/images/glance-image/file'));
      const hit = await send(h.url('/v2/images/glance-image/file'));
      expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      expect(glanceclientIntegrity(miss.body, miss.headers)).toBe(true);
      expect(glanceclientIntegrity(hit.body, hit.headers)).toBe(true);
    },
  );

  it.each(CHECKSUM_ALGORITHMS)(
    'store with an RFC 1864 base64 Content-MD5, --checksum-algorithm %s: hex on both',
    async (algorithm) => {
      const data = randomImage(100 * 1024);
      const store = await new FakeOrigin().start();
      store.add('stored', { data, contentMd5: 'base64' });
      try {
        h = await startHarness({ checksumAlgorithm: algorithm, origin: `${store.url}/blobs/{id}`, public: true });
        const miss = await send(h.url('/v2/images/stored/file'));
        const hit = await send(h.url('/v2/images/stored/file'));
        expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
        expect(glanceclientIntegrity(miss.body, miss.headers)).toBe(true);
        expect(glanceclientIntegrity(hit.body, hit.headers)).toBe(true);
      } finally {
        await store.stop();
      }
    },
  );
});
