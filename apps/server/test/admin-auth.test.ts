import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

const ADMIN = 'admin-7f3a-secret';

/** Paths a client might send the admin token to: management routes, their near misses, and proxied ones. */
const PATHS = [
  '/v2/cache',
  '/v2/cache/',
  '/v2/cache/leak-img',
  '/v2/cache/leak-img/',
  '/v2/cache/leak-img?x=1',
  '/v2/cache/leak-img/extra',
  '/v2/cache//leak-img',
  '/v2//cache/leak-img',
  '//v2/cache/leak-img',
  '/V2/cache/leak-img',
  '/v2/CACHE/leak-img',
  '/v2/cache/%6Ceak-img',
  '/v2/./cache/leak-img',
  '/v2/cache/leak-img/..',
  '/v2/cached_images/',
  '/v2/cached_images/leak-img/',
  '/v2/queued_images/leak-img/',
  '/v2/images/leak-img/file',
  '/v2/images/leak-img/file/',
  '/v2/images/leak-img',
  '/v2/images?limit=1',
  '/versions',
  '/',
  '/healthz/',
  '/somewhere/else',
];
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'SEARCH'];
/** Ways a client presents the token: both headers the guard accepts, in odd spellings too. */
const PRESENTATIONS: Record<string, string>[] = [
  { 'x-auth-token': ADMIN },
  { authorization: `Bearer ${ADMIN}` },
  { authorization: `bearer   ${ADMIN} ` },
  { 'X-Auth-Token': ` ${ADMIN}` },
];

describe('the admin token never reaches the origin', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ adminToken: ADMIN, authTtl: 0 });
    h.origin.add('leak-img', { data: randomImage(5000) });
  });
  afterAll(() => h.stop());

  it('on any path, method or spelling', async () => {
    // A cached copy, so hits (and their authorisation requests) are exercised too.
    expect((await send(h.url('/v2/images/leak-img/file'))).headers['x-cache']).toBe('MISS');
    for (const path of PATHS) {
      for (const method of METHODS) {
        for (const headers of PRESENTATIONS) {
          await send(h.url(path), { method, headers });
        }
      }
    }
    // The origin was reached plenty (proxied paths, image data, metadata, lookups)...
    expect(h.origin.seen.length).toBeGreaterThan(200);
    // ...and never saw the token, in any header.
    const leaks = h.origin.seen.filter((request) => JSON.stringify(request.headers).includes(ADMIN));
    expect(leaks.map((request) => `${request.method} ${request.url}`)).toEqual([]);
    // Nothing of the cache API itself was forwarded.
    expect(
      h.origin.seen.filter((request) => /^\/v2\/(cache|cached_images|queued_images)(\/|$|\?)/.test(request.url)),
    ).toEqual([]);
  });

  it('answers the management routes with and without a trailing slash, as Glance names them', async () => {
    const admin = { 'x-auth-token': ADMIN };
    // The sweep above deleted it at the origin (DELETE /v2/images/leak-img is proxied).
    h.origin.add('leak-img', { data: randomImage(5000) });
    const listing = await send(h.url('/v2/cache/'), { headers: admin });
    expect(listing.status).toBe(200);
    expect(JSON.parse(listing.body.toString())).toHaveProperty('queued_images');
    await h.server.prefetcher.stop();
    expect((await send(h.url('/v2/cache/leak-img/'), { method: 'PUT', headers: admin })).status).toBe(202);
    expect((await send(h.url('/v2/cache/leak-img/'), { method: 'DELETE', headers: admin })).status).toBe(204);
    expect((await send(h.url('/v2/cache/'), { method: 'POST', headers: admin })).headers.allow).toBe('DELETE, GET');
    expect((await send(h.url('/v2/queued_images/'), { headers: admin })).status).toBe(200);
    expect((await send(h.url('/v2/cached_images/'), { headers: admin })).status).toBe(200);
    // Under the management prefixes, an unknown path is answered here, behind the guard.
    expect((await send(h.url('/v2/cache/leak-img/extra'))).status).toBe(401);
    const unknown = await send(h.url('/v2/cache/leak-img/extra'), { headers: admin });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString()).error.message).toMatch(/No cache management route/);
  });
});

describe('an admin token that is also the origin token', () => {
  it("is withheld from the server's own origin requests too (prefetch, readiness)", async () => {
    const h = await startHarness({ adminToken: 'shared-token', originToken: 'shared-token' });
    try {
      h.origin.add('shared-img', { data: randomImage(1000) });
      await h.server.cache.queueImage('shared-img');
      await h.server.prefetcher.runOnce();
      expect(await h.server.cache.isCached('shared-img')).toBe(true);
      expect((await send(h.url('/readyz'))).status).toBe(200);
      expect(h.origin.seen.length).toBeGreaterThanOrEqual(3);
      expect(h.origin.seen.filter((request) => JSON.stringify(request.headers).includes('shared-token'))).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});
