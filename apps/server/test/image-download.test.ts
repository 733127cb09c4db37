import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send, sha256 } from './helpers/http-client.js';

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

describe('GET/HEAD /v2/images/{id}/file', () => {
  let h: Harness;
  const data = randomImage(300 * 1024);
  // Glance clients send Content-Type on every request, GET included.
  const token = { 'x-auth-token': 'user-token', 'content-type': 'application/octet-stream' };

  beforeAll(async () => {
    h = await startHarness();
    h.origin.add('img-1', { data });
  });
  afterAll(() => h.stop());

  it('misses once, then serves hits from the cache with validators', async () => {
    const miss = await send(h.url('/v2/images/img-1/file'), { headers: token });
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['content-type']).toBe('application/octet-stream');
    expect(Number(miss.headers['content-length'])).toBe(data.length);
    expect(sha256(miss.body)).toBe(sha256(data));
    expect(await h.server.cache.isCached('img-1')).toBe(true);

    const hit = await send(h.url('/v2/images/img-1/file'), { headers: token });
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-type']).toBe('application/octet-stream');
    expect(hit.headers['accept-ranges']).toBe('bytes');
    // Recorded under the md5 the origin announced: a hit can send Glance's Content-MD5.
    expect(hit.headers.etag).toBe(`"md5:${md5(data)}"`);
    expect(hit.headers['content-md5']).toBe(md5(data));
    for (const name of ['etag', 'last-modified', 'accept-ranges', 'content-md5'])
      expect(miss.headers[name]).toBe(hit.headers[name]);
    expect(Number(hit.headers['content-length'])).toBe(data.length);
    expect(hit.body.equals(data)).toBe(true);
    expect(h.origin.count(h.origin.dataRequests, 'img-1')).toBe(1);
  });

  it('answers HEAD on a hit with headers only', async () => {
    const head = await send(h.url('/v2/images/img-1/file'), { method: 'HEAD', headers: token });
    expect(head.status).toBe(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(Number(head.headers['content-length'])).toBe(data.length);
    expect(head.body.length).toBe(0);
  });

  it('serves single ranges with 206 and refuses unsatisfiable ones with 416', async () => {
    const partial = await send(h.url('/v2/images/img-1/file'), { headers: { ...token, range: 'bytes=100-1099' } });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 100-1099/${data.length}`);
    expect(partial.body.equals(data.subarray(100, 1100))).toBe(true);

    const suffix = await send(h.url('/v2/images/img-1/file'), { headers: { ...token, range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(data.subarray(data.length - 10))).toBe(true);

    const open = await send(h.url('/v2/images/img-1/file'), {
      headers: { ...token, range: `bytes=${data.length - 5}-` },
    });
    expect(open.status).toBe(206);
    expect(open.body.equals(data.subarray(data.length - 5))).toBe(true);

    const beyond = await send(h.url('/v2/images/img-1/file'), {
      headers: { ...token, range: `bytes=${data.length}-` },
    });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${data.length}`);
  });

  it('honours If-None-Match with 304 and If-Range by entity tag', async () => {
    const etag = `"md5:${md5(data)}"`;
    const notModified = await send(h.url('/v2/images/img-1/file'), { headers: { ...token, 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);

    const other = await send(h.url('/v2/images/img-1/file'), { headers: { ...token, 'if-none-match': '"other"' } });
    expect(other.status).toBe(200);

    const current = await send(h.url('/v2/images/img-1/file'), {
      headers: { ...token, range: 'bytes=0-9', 'if-range': etag },
    });
    expect(current.status).toBe(206);
    expect(current.body.equals(data.subarray(0, 10))).toBe(true);

    const stale = await send(h.url('/v2/images/img-1/file'), {
      headers: { ...token, range: 'bytes=0-9', 'if-range': '"stale"' },
    });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(data.length);
  });

  it('answers a Range request on a miss from the fill it starts, and caches the whole image', async () => {
    const other = randomImage(64 * 1024);
    h.origin.add('img-range', { data: other });
    const partial = await send(h.url('/v2/images/img-range/file'), { headers: { ...token, range: 'bytes=10-19' } });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 10-19/${other.length}`);
    expect(partial.body.equals(other.subarray(10, 20))).toBe(true);
    expect(h.origin.count(h.origin.dataRequests, 'img-range')).toBe(1);
    expect(await h.server.cache.isCached('img-range')).toBe(true);
  });

  it('proxies HEAD on a miss without fetching the data', async () => {
    const other = randomImage(1000);
    h.origin.add('img-head', { data: other });
    const head = await send(h.url('/v2/images/img-head/file'), { method: 'HEAD', headers: token });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(1000);
    expect(h.origin.count(h.origin.dataRequests, 'img-head')).toBe(0);
    expect(await h.server.cache.isCached('img-head')).toBe(false);
  });

  it('passes an origin 404 through and caches nothing', async () => {
    const missing = await send(h.url('/v2/images/no-such-image/file'), { headers: token });
    expect(missing.status).toBe(404);
    expect(await h.server.cache.isCached('no-such-image')).toBe(false);
  });

  it('rejects invalid image ids with a JSON 400 before touching the origin', async () => {
    const before = h.origin.seen.length;
    const invalid = await send(h.url('/v2/images/bad%20id/file'), { headers: token });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body.toString()).error.code).toBe(400);
    const traversal = await send(h.url('/v2/images/..%2F..%2Fetc/file'), { headers: token });
    expect(traversal.status).toBe(400);
    expect(h.origin.seen.length).toBe(before);
  });

  it('sends Content-MD5 (hex) on hits when the cache records md5', async () => {
    const md5Harness = await startHarness({ checksumAlgorithm: 'md5' });
    try {
      const image = randomImage(10_000);
      md5Harness.origin.add('img-md5', { data: image });
      await send(md5Harness.url('/v2/images/img-md5/file'));
      const hit = await send(md5Harness.url('/v2/images/img-md5/file'));
      expect(hit.headers['x-cache']).toBe('HIT');
      // Hex, as Glance sends it (python-glanceclient compares the body's hexdigest with it).
      expect(hit.headers['content-md5']).toBe(md5(image));
    } finally {
      await md5Harness.stop();
    }
  });
});

describe('Range misses with --range-miss pass', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rangeMiss: 'pass', public: true });
  });
  afterAll(() => h.stop());

  it('proxies a Range request on a miss without creating an entry', async () => {
    const other = randomImage(64 * 1024);
    h.origin.add('img-range', { data: other });
    const partial = await send(h.url('/v2/images/img-range/file'), { headers: { range: 'bytes=10-19' } });
    expect(partial.status).toBe(206);
    expect(partial.body.equals(other.subarray(10, 20))).toBe(true);
    expect(await h.server.cache.isCached('img-range')).toBe(false);
  });
});
