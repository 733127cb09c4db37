import { afterEach, describe, expect, it } from 'vitest';
import { randomImage, startHarness, type Harness } from '../helpers/harness.js';
import { send, type ClientResponse } from '../helpers/http-client.js';

const TOKEN = 'dashboard-admin-token-0123456789';

/** Logs in with the admin token; returns the session cookie and the page's CSRF token. */
async function login(h: Harness, token = TOKEN): Promise<{ cookie: string; csrf: string; response: ClientResponse }> {
  const response = await send(h.url('/dashboard/login'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from(new URLSearchParams({ token }).toString()),
  });
  const setCookie = response.headers['set-cookie']?.[0] ?? '';
  const cookie = setCookie.split(';')[0]!;
  if (response.status !== 303) return { cookie, csrf: '', response };
  const status = await send(h.url('/dashboard/api/status'), { headers: { cookie } });
  return { cookie, csrf: JSON.parse(status.body.toString()).csrf, response };
}

function post(
  h: Harness,
  path: string,
  session: { cookie: string; csrf: string },
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return send(h.url(path), {
    method: 'POST',
    headers: {
      cookie: session.cookie,
      'x-csrf-token': session.csrf,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }),
  });
}

const json = (response: ClientResponse) => JSON.parse(response.body.toString());

describe('dashboard API', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('with an admin token: shows a login form, never the token, and swaps a good token for an HttpOnly SameSite=Strict cookie', async () => {
    h = await startHarness({ adminToken: TOKEN });
    const page = await send(h.url('/dashboard'));
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('action="/dashboard/login"');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-store');
    expect((await send(h.url('/dashboard/api/status'))).status).toBe(401);

    const refused = await login(h, 'not-the-token');
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers['set-cookie']).toBeUndefined();
    expect(refused.response.body.toString()).toContain('That is not the admin token.');

    const session = await login(h);
    expect(session.response.status).toBe(303);
    expect(session.response.headers.location).toBe('/dashboard');
    const setCookie = session.response.headers['set-cookie']![0]!;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\/dashboard/);
    expect(setCookie).not.toContain(TOKEN);
    const status = await send(h.url('/dashboard/api/status'), { headers: { cookie: session.cookie } });
    expect(status.status).toBe(200);
    expect(status.body.toString()).not.toContain(TOKEN);
    expect(json(status).actions).toBe(true);
    expect(json(status).csrf).toMatch(/^[\w-]{40,}$/);
    const dashboard = await send(h.url('/dashboard'), { headers: { cookie: session.cookie } });
    expect(dashboard.body.toString()).toContain('dashboard.js');
    // A forged cookie is no session.
    expect(
      (await send(h.url('/dashboard/api/status'), { headers: { cookie: 'imgcache_dashboard=forged' } })).status,
    ).toBe(401);
  });

  it('refuses logins from an address after 10 failures, even with the right token, and says when to retry', async () => {
    h = await startHarness({ adminToken: TOKEN });
    for (let i = 0; i < 10; i++) expect((await login(h, `guess-${i}`)).response.status).toBe(401);
    const throttled = await login(h);
    expect(throttled.response.status).toBe(429);
    expect(throttled.response.headers['set-cookie']).toBeUndefined();
    expect(Number(throttled.response.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled.response.body.toString()).toContain('Too many failed logins');
  });

  it('refuses actions without the session CSRF token, from another site, or without a session', async () => {
    h = await startHarness({ adminToken: TOKEN });
    h.origin.add('keep-me', { data: randomImage(10_000) });
    await send(h.url('/v2/images/keep-me/file'));
    const session = await login(h);
    const cases: [string, Promise<ClientResponse>, number][] = [
      ['no csrf', post(h, '/dashboard/api/delete', { ...session, csrf: '' }, { imageId: 'keep-me' }), 403],
      [
        'wrong csrf',
        post(h, '/dashboard/api/delete', { ...session, csrf: 'x'.repeat(43) }, { imageId: 'keep-me' }),
        403,
      ],
      [
        'cross-site fetch',
        post(h, '/dashboard/api/delete', session, { imageId: 'keep-me' }, { 'sec-fetch-site': 'cross-site' }),
        403,
      ],
      [
        'foreign origin',
        post(h, '/dashboard/api/delete', session, { imageId: 'keep-me' }, { origin: 'http://evil.example' }),
        403,
      ],
      ['no session', post(h, '/dashboard/api/delete', { cookie: '', csrf: session.csrf }, { imageId: 'keep-me' }), 401],
    ];
    for (const [name, response, status] of cases) expect([name, (await response).status]).toEqual([name, status]);
    expect(await h.server.cache.isCached('keep-me')).toBe(true);
  });

  it('rejects a bad image id before touching the cache or the origin', async () => {
    h = await startHarness({ adminToken: TOKEN });
    const session = await login(h);
    const seen = h.origin.seen.length;
    for (const imageId of ['../etc', '', 'a/b', 'x'.repeat(256)]) {
      const response = await post(h, '/dashboard/api/queue', session, { imageId });
      expect(response.status).toBe(400);
      expect(json(response).error.message).toMatch(/Invalid image id/);
    }
    expect((await post(h, '/dashboard/api/delete', session, { nothing: 1 })).status).toBe(400);
    expect(h.origin.seen.length).toBe(seen);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
  });

  it("queues, deletes, prunes and cleans with the management API's answers", async () => {
    h = await startHarness({ adminToken: TOKEN });
    h.origin.add('cached-one', { data: randomImage(20_000) });
    h.origin.add('to-queue', { data: randomImage(5_000) });
    await send(h.url('/v2/images/cached-one/file'));
    const session = await login(h);
    const stopped = h.server.prefetcher.stop();
    await stopped;

    const queued = await post(h, '/dashboard/api/queue', session, { imageId: 'to-queue' });
    expect(queued.status).toBe(200);
    expect(await h.server.cache.getQueuedImages()).toEqual(['to-queue']);
    // As PUT /v2/cache/{id}: unknown to the origin is 404, and nothing is queued.
    const unknown = await post(h, '/dashboard/api/queue', session, { imageId: 'no-such-image' });
    expect(unknown.status).toBe(404);
    expect(json(unknown).error.message).toBe('Image no-such-image is not known to the origin.');

    expect((await post(h, '/dashboard/api/delete', session, { imageId: 'cached-one' })).status).toBe(200);
    expect(await h.server.cache.isCached('cached-one')).toBe(false);

    const pruned = await post(h, '/dashboard/api/prune', session);
    expect(pruned.status).toBe(200);
    expect(json(pruned).result).toMatchObject({
      step: 'prune',
      ok: true,
      trigger: 'operator',
      detail: { files: 0, bytes: 0 },
    });
    const cleaned = await post(h, '/dashboard/api/clean', session);
    expect(json(cleaned).result).toMatchObject({ step: 'clean', ok: true, detail: { incomplete: 0, invalid: 0 } });
    const status = json(await send(h.url('/dashboard/api/status'), { headers: { cookie: session.cookie } }));
    expect(status.maintenance.last.map((result: { step: string }) => result.step)).toEqual(['prune', 'clean']);

    expect((await post(h, '/dashboard/api/logout', session)).status).toBe(204);
    expect((await send(h.url('/dashboard/api/status'), { headers: { cookie: session.cookie } })).status).toBe(401);
  });

  it('without an admin token: the page is read-only and every action is refused', async () => {
    h = await startHarness();
    h.origin.add('open-img', { data: randomImage(3_000) });
    await send(h.url('/v2/images/open-img/file'));
    const status = await send(h.url('/dashboard/api/status'));
    expect(status.status).toBe(200);
    expect(json(status)).toMatchObject({ actions: false, csrf: null });
    for (const action of ['queue', 'delete', 'prune', 'clean', 'logout']) {
      const response = await post(
        h,
        `/dashboard/api/${action}`,
        { cookie: '', csrf: '' },
        action === 'queue' || action === 'delete' ? { imageId: 'open-img' } : undefined,
      );
      expect([action, response.status]).toEqual([action, 404]);
    }
    expect((await send(h.url('/dashboard/login'), { method: 'POST' })).status).toBe(404);
    expect(await h.server.cache.isCached('open-img')).toBe(true);
  });

  // Before: a hit served through an origin outage (--auth-stale) showed in no total.
  it('counts hits served on an earlier authorisation in the totals and the hit ratio figures', async () => {
    h = await startHarness({ adminToken: TOKEN, authTtl: 0, authStale: 3600 });
    h.origin.add('private', { data: randomImage(2_000), allowedTokens: ['good'] });
    expect(
      (await send(h.url('/v2/images/private/file'), { headers: { 'x-auth-token': 'good' } })).headers['x-cache'],
    ).toBe('MISS');
    await h.origin.stop();
    expect(
      (await send(h.url('/v2/images/private/file'), { headers: { 'x-auth-token': 'good' } })).headers['x-cache'],
    ).toBe('HIT-STALE');
    const session = await login(h);
    const status = json(await send(h.url('/dashboard/api/status'), { headers: { cookie: session.cookie } }));
    expect(status.traffic.totals).toMatchObject({ hit: 0, hitStale: 1, miss: 1, coalescedStale: 0, cacheBytes: 2_000 });
    const samples = status.traffic.samples as { hitStale: number }[];
    expect(samples.reduce((sum, sample) => sum + sample.hitStale, 0)).toBe(1);
  });

  it('reports usage, traffic totals, the largest and hottest images and the queue as /v2/cache and /metrics do', async () => {
    h = await startHarness({ adminToken: TOKEN, maxSize: 10_000_000 });
    h.origin.add('big', { data: randomImage(300_000) });
    h.origin.add('small', { data: randomImage(1_000) });
    await send(h.url('/v2/images/big/file'));
    for (let i = 0; i < 3; i++) await send(h.url('/v2/images/small/file'));
    await h.server.cache.queueImage('later');
    const session = await login(h);
    const status = json(await send(h.url('/dashboard/api/status'), { headers: { cookie: session.cookie } }));
    // A single node has no cluster section.
    expect(status.cluster).toBeNull();
    const cache = json(await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } }));
    expect(status.usage).toMatchObject({ cacheBytes: 301_000, images: 2, maxSize: 10_000_000, inFlightFills: 0 });
    expect(status.usage.disk.totalBytes).toBeGreaterThan(status.usage.disk.availableBytes);
    expect(status.traffic.totals).toEqual({
      hit: 2,
      hitStale: 0,
      miss: 2,
      coalesced: 0,
      coalescedStale: 0,
      bypass: 0,
      error: 0,
      cacheBytes: 2_000,
      originBytes: 301_000,
    });
    expect(status.largest.map((image: { imageId: string }) => image.imageId)).toEqual(['big', 'small']);
    expect(status.hottest[0]).toMatchObject({
      imageId: 'small',
      hits: cache.cached_images.find((image: { image_id: string }) => image.image_id === 'small').hits,
    });
    expect(status.queue.queued).toEqual(cache.queued_images);
    // Nothing under /dashboard reaches the origin, whatever the method.
    const seen = h.origin.seen.length;
    expect((await send(h.url('/dashboard/nothing-here'))).status).toBe(404);
    expect((await send(h.url('/dashboard/api/status'), { method: 'DELETE' })).status).toBe(404);
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE'])
      expect([method, (await send(h.url('/dashboard'), { method })).status]).toEqual([method, 405]);
    expect(h.origin.seen.length).toBe(seen);
  });
});
