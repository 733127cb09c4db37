import { gunzipSync } from 'node:zlib';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawOrigin } from '@imgcache/test-origin';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

describe('origin bodies the cache cannot store as they are', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('relays a gzip-encoded body uncached with its Content-Encoding, on every request, never as the image itself', async () => {
    const data = randomImage(200 * 1024);
    h.origin.add('gzipped', { data, gzip: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await send(h.url('/v2/images/gzipped/file'), { headers: { 'accept-encoding': 'gzip' } });
      expect(response.status).toBe(200);
      expect(response.headers['x-cache']).toBe('BYPASS');
      expect(response.headers['content-encoding']).toBe('gzip');
      expect(Number(response.headers['content-length'])).toBe(response.body.length);
      expect(gunzipSync(response.body).equals(data)).toBe(true);
    }
    expect(await h.server.cache.isCached('gzipped')).toBe(false);
    expect(await readdir(join(h.dir, 'images'))).not.toContain('gzipped');
    expect(h.origin.count(h.origin.dataRequests, 'gzipped')).toBe(2);
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metrics).toMatch(/imgcache_bypassed_total\{reason="encoded"\} 2/);
  });

  it('answers 502 for a body sent with a transfer coding other than chunked, and caches nothing', async () => {
    const raw = await new RawOrigin().start();
    const server = await startHarness({ origin: `${raw.url}/blobs/{id}`, public: true });
    try {
      raw.images.set('coded', {
        data: randomImage(10_000),
        contentLength: false,
        checksum: false,
        transferEncoding: 'gzip, chunked',
      });
      const response = await send(server.url('/v2/images/coded/file'));
      expect(response.status).toBe(502);
      expect(JSON.parse(response.body.toString()).error.message).toMatch(/Transfer-Encoding gzip/);
      expect(await server.server.cache.isCached('coded')).toBe(false);
    } finally {
      await server.stop();
      await raw.stop();
    }
  });
});
