import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originGate } from '@imgcache/test-origin';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { send, sha256 } from './helpers/http-client.js';

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(name.length + 1));
}

const ADMIN = 'admin-secret';
const admin = { 'x-auth-token': ADMIN };

describe('management API', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ adminToken: ADMIN });
    for (const id of ['m-1', 'm-2', 'm-3', 'm-4']) h.origin.add(id, { data: randomImage(20_000) });
  });
  afterAll(() => h.stop());

  const routes: [string, string][] = [
    ['GET', '/v2/cache'],
    ['DELETE', '/v2/cache'],
    ['PUT', '/v2/cache/m-1'],
    ['DELETE', '/v2/cache/m-1'],
    ['GET', '/v2/cached_images'],
    ['DELETE', '/v2/cached_images'],
    ['DELETE', '/v2/cached_images/m-1'],
    ['GET', '/v2/queued_images'],
    ['DELETE', '/v2/queued_images'],
    ['PUT', '/v2/queued_images/m-1'],
    ['DELETE', '/v2/queued_images/m-1'],
  ];

  it.each(routes)('%s %s needs the admin token: 401 without, 403 when wrong', async (method, path) => {
    // Each route's wrong tokens come from an address of their own: wrong tokens are limited per address.
    const localAddress = `127.0.0.${10 + routes.findIndex(([m, p]) => m === method && p === path)}`;
    const missing = await send(h.url(path), { method, localAddress });
    expect(missing.status).toBe(401);
    const wrong = await send(h.url(path), { method, headers: { 'x-auth-token': 'nope' }, localAddress });
    expect(wrong.status).toBe(403);
    const wrongBearer = await send(h.url(path), { method, headers: { authorization: 'Bearer nope' }, localAddress });
    expect(wrongBearer.status).toBe(403);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
  });

  it('lists the cache in Glance v2 shape with epoch-second times', async () => {
    await send(h.url('/v2/images/m-1/file'));
    const listing = await send(h.url('/v2/cache'), { headers: admin });
    expect(listing.status).toBe(200);
    expect(listing.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(listing.body.toString());
    expect(body.queued_images).toEqual([]);
    expect(body.cached_images).toHaveLength(1);
    const [entry] = body.cached_images;
    expect(entry).toMatchObject({ image_id: 'm-1', size: 20_000, hits: 0 });
    expect(typeof entry.last_modified).toBe('number');
    expect(Math.abs(entry.last_modified - Date.now() / 1000)).toBeLessThan(600);
    const bearer = await send(h.url('/v2/cache'), { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(bearer.status).toBe(200);
  });

  it('refuses a scope other than cluster, and the cluster view on a single node, with 400 and the reason', async () => {
    const bogus = await send(h.url('/v2/cache?scope=bogus'), { headers: admin });
    expect(bogus.status).toBe(400);
    expect(JSON.parse(bogus.body.toString()).error.message).toMatch(/scope must be "cluster"/);
    const cluster = await send(h.url('/v2/cache?scope=cluster'), { headers: admin });
    expect(cluster.status).toBe(400);
    expect(JSON.parse(cluster.body.toString()).error.message).toMatch(/not in a cluster/);
  });

  it('PUT /v2/cache/{id} answers 202 and the prefetcher caches the image', async () => {
    const queued = await send(h.url('/v2/cache/m-2'), { method: 'PUT', headers: admin });
    expect(queued.status).toBe(202);
    await waitFor(() => h.server.cache.isCached('m-2'));
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
    const again = await send(h.url('/v2/cache/m-2'), { method: 'PUT', headers: admin });
    expect(again.status).toBe(202);
    await h.server.prefetcher.runOnce();
    // Already cached: queueing it again does not download it again.
    expect(h.origin.count(h.origin.dataRequests, 'm-2')).toBe(1);
  });

  it('DELETE /v2/cache/{id} removes the cached copy and the queue entry with 204', async () => {
    const deleted = await send(h.url('/v2/cache/m-2'), { method: 'DELETE', headers: admin });
    expect(deleted.status).toBe(204);
    expect(deleted.body.length).toBe(0);
    expect(await h.server.cache.isCached('m-2')).toBe(false);
  });

  it('DELETE /v2/cache/{id} during a fill: every client of the fill gets the whole image, and it is not cached', async () => {
    const { spec: gate, release, arrived } = originGate(640 * 1024);
    const data = randomImage(2 * 1024 * 1024);
    h.origin.add('m-filling', {
      data,
      gate,
    });
    const clients = [send(h.url('/v2/images/m-filling/file')), send(h.url('/v2/images/m-filling/file'))];
    await arrived;
    await waitFor(() => h.server.cache.isBeingCachedHere('m-filling'));
    expect((await send(h.url('/v2/cache/m-filling'), { method: 'DELETE', headers: admin })).status).toBe(204);
    release();
    for (const response of await Promise.all(clients)) {
      expect(response.status).toBe(200);
      expect(response.body.length).toBe(2_097_152);
      expect(sha256(response.body)).toBe(sha256(data));
    }
    expect(await h.server.cache.isCached('m-filling')).toBe(false);
    expect(await h.server.cache.getCachedImages()).not.toContainEqual(
      expect.objectContaining({ imageId: 'm-filling' }),
    );
  });

  it('DELETE /v2/cache honours x-image-cache-clear-target and rejects other values', async () => {
    await h.server.cache.queueImage('m-3');
    const bad = await send(h.url('/v2/cache'), {
      method: 'DELETE',
      headers: { ...admin, 'x-image-cache-clear-target': 'everything' },
    });
    expect(bad.status).toBe(400);
    const queueOnly = await send(h.url('/v2/cache'), {
      method: 'DELETE',
      headers: { ...admin, 'x-image-cache-clear-target': 'QUEUE' },
    });
    expect(queueOnly.status).toBe(204);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
    expect(await h.server.cache.isCached('m-1')).toBe(true);
    const cacheOnly = await send(h.url('/v2/cache'), {
      method: 'DELETE',
      headers: { ...admin, 'x-image-cache-clear-target': 'cache' },
    });
    expect(cacheOnly.status).toBe(204);
    expect(await h.server.cache.isCached('m-1')).toBe(false);
    await h.server.cache.queueImage('m-3');
    await send(h.url('/v2/images/m-1/file'));
    const both = await send(h.url('/v2/cache'), { method: 'DELETE', headers: admin });
    expect(both.status).toBe(204);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
    expect(await h.server.cache.getCachedImages()).toEqual([]);
  });

  it('answers 405 with Allow for other methods', async () => {
    const onCache = await send(h.url('/v2/cache'), { method: 'POST', headers: admin });
    expect(onCache.status).toBe(405);
    expect(onCache.headers.allow).toBe('DELETE, GET');
    const onEntry = await send(h.url('/v2/cache/m-1'), { method: 'GET', headers: admin });
    expect(onEntry.status).toBe(405);
    expect(onEntry.headers.allow).toBe('DELETE, PUT');
  });

  it('serves the legacy cached_images and queued_images routes with Glance status codes and bodies', async () => {
    await send(h.url('/v2/images/m-1/file'));
    await send(h.url('/v2/images/m-3/file'));
    const cached = JSON.parse((await send(h.url('/v2/cached_images'), { headers: admin })).body.toString());
    expect(cached.cached_images.map((entry: { image_id: string }) => entry.image_id)).toEqual(['m-1', 'm-3']);

    const deleteOne = await send(h.url('/v2/cached_images/m-3'), { method: 'DELETE', headers: admin });
    expect(deleteOne.status).toBe(200);
    expect(deleteOne.body.toString()).toBe('null');

    const deleteAll = await send(h.url('/v2/cached_images'), { method: 'DELETE', headers: admin });
    expect(JSON.parse(deleteAll.body.toString())).toEqual({ num_deleted: 1 });

    // Stop the prefetcher from racing the queue checks below.
    await h.server.prefetcher.stop();
    const queue = await send(h.url('/v2/queued_images/m-4'), { method: 'PUT', headers: admin });
    expect(queue.status).toBe(200);
    expect(queue.body.toString()).toBe('null');
    await send(h.url('/v2/queued_images/m-3'), { method: 'PUT', headers: admin });
    const listed = JSON.parse((await send(h.url('/v2/queued_images'), { headers: admin })).body.toString());
    expect(listed.queued_images.sort()).toEqual(['m-3', 'm-4']);
    const dequeue = await send(h.url('/v2/queued_images/m-4'), { method: 'DELETE', headers: admin });
    expect(dequeue.status).toBe(200);
    expect(dequeue.body.toString()).toBe('null');
    const dequeueAll = await send(h.url('/v2/queued_images'), { method: 'DELETE', headers: admin });
    expect(JSON.parse(dequeueAll.body.toString())).toEqual({ num_deleted: 1 });
  });

  it('rejects invalid ids with 400 and touches nothing', async () => {
    const invalid = await send(h.url('/v2/cache/bad%20id'), { method: 'PUT', headers: admin });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body.toString()).error.message).toMatch(/Invalid image id/);
    const legacy = await send(h.url('/v2/queued_images/a%24b'), { method: 'PUT', headers: admin });
    expect(legacy.status).toBe(400);
  });
});

describe('cache API answers as Glance for images the origin does not serve', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ adminToken: ADMIN });
    h.origin.add('known', { data: randomImage(2000) });
    h.origin.add('not-yet', { data: randomImage(2000), imageStatus: 'queued' });
    h.origin.add('deactivated', { data: randomImage(2000), imageStatus: 'deactivated' });
    h.origin.add('killed', { data: randomImage(2000), imageStatus: 'killed' });
  });
  afterAll(() => h.stop());

  const listedQueue = async () =>
    JSON.parse((await send(h.url('/v2/cache'), { headers: admin })).body.toString()).queued_images;

  it('PUT /v2/cache/{id} of an id the origin does not know answers 404 and queues nothing', async () => {
    const response = await send(h.url('/v2/cache/no-such-image'), { method: 'PUT', headers: admin });
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body.toString()).error.message).toMatch(/no-such-image/);
    expect(await listedQueue()).toEqual([]);
    expect(h.origin.count(h.origin.dataRequests, 'no-such-image')).toBe(0);
  });

  it.each(['not-yet', 'deactivated', 'killed'])(
    'PUT /v2/cache/{id} of an image that is not active (%s) answers 400 and queues nothing',
    async (imageId) => {
      const response = await send(h.url(`/v2/cache/${imageId}`), { method: 'PUT', headers: admin });
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body.toString()).error.message).toMatch(/active/);
      expect(await listedQueue()).toEqual([]);
    },
  );

  it('DELETE /v2/cache/{id} answers 404 for an id neither the origin nor this cache knows, 204 otherwise', async () => {
    expect((await send(h.url('/v2/cache/no-such-image'), { method: 'DELETE', headers: admin })).status).toBe(404);
    // Known to the origin, not cached here: Glance answers 204.
    expect((await send(h.url('/v2/cache/known'), { method: 'DELETE', headers: admin })).status).toBe(204);
    // Unknown to the origin but queued here (legacy queueing does not check): removed, 204.
    await h.server.prefetcher.stop();
    expect((await send(h.url('/v2/queued_images/gone-at-origin'), { method: 'PUT', headers: admin })).status).toBe(200);
    expect((await send(h.url('/v2/cache/gone-at-origin'), { method: 'DELETE', headers: admin })).status).toBe(204);
    expect(await listedQueue()).toEqual([]);
  });

  it("reports an origin that refuses the server's own credentials instead of queueing blindly", async () => {
    h.origin.add('private', { data: randomImage(100), allowedTokens: ['someone-else'] });
    const response = await send(h.url('/v2/cache/private'), { method: 'PUT', headers: admin });
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body.toString()).error.message).toMatch(/403.*--origin-token/);
    expect(await listedQueue()).toEqual([]);
  });
});

describe('cache API with a template origin', () => {
  let h: Harness;
  let glance: Harness;
  beforeAll(async () => {
    glance = await startHarness();
    await glance.server.close();
    h = await startHarness({ adminToken: ADMIN, origin: `${glance.origin.url}/v2/images/{id}/file` }, glance.origin);
    h.origin.add('tpl-known', { data: randomImage(2000) });
  });
  afterAll(async () => {
    await h.stop();
    await glance.stop();
  });

  it('asks the data URL: 404 for an unknown id, 202 for a known one', async () => {
    expect((await send(h.url('/v2/cache/tpl-unknown'), { method: 'PUT', headers: admin })).status).toBe(404);
    expect((await send(h.url('/v2/cache/tpl-unknown'), { method: 'DELETE', headers: admin })).status).toBe(404);
    expect((await send(h.url('/v2/cache/tpl-known'), { method: 'PUT', headers: admin })).status).toBe(202);
    await waitFor(() => h.server.cache.isCached('tpl-known'));
  });
});

describe('prefetch retries of a queued image that keeps failing', () => {
  let h: Harness;
  let clock = 0;
  beforeAll(async () => {
    h = await startHarness({ adminToken: ADMIN }, undefined, {
      prefetchRetry: { policy: { maxAttempts: 4, baseDelayMs: 1000 }, now: () => clock },
    });
  });
  afterAll(() => h.stop());

  const originRequests = (imageId: string) =>
    h.origin.seen.filter((request) => request.url.startsWith(`/v2/images/${imageId}`)).length;

  it('backs off exponentially, then gives up with a metric and drops the image from the queue', async () => {
    // Glance's legacy API queues without checking that the image exists.
    expect((await send(h.url('/v2/queued_images/ghost'), { method: 'PUT', headers: admin })).status).toBe(200);
    const attemptsAt: number[] = [];
    let seen = 0;
    for (clock = 0; clock <= 20_000; clock += 500) {
      await h.server.maintenance.run();
      const now = originRequests('ghost');
      if (now > seen) attemptsAt.push(clock);
      seen = now;
    }
    // Waits of 1, 2 and 4 s after the failures; the fourth failure is the last.
    expect(attemptsAt).toEqual([0, 1000, 3000, 7000]);
    expect(JSON.parse((await send(h.url('/v2/cache'), { headers: admin })).body.toString()).queued_images).toEqual([]);
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metricValue(metrics, 'imgcache_prefetch_abandoned_total')).toBe(1);
    expect(metricValue(metrics, 'imgcache_prefetches_total{result="failed"}')).toBe(4);
  });

  it('tries an image an operator queues again at once, with its attempts counted afresh', async () => {
    const before = originRequests('ghost');
    expect((await send(h.url('/v2/queued_images/ghost'), { method: 'PUT', headers: admin })).status).toBe(200);
    await h.server.maintenance.run();
    expect(originRequests('ghost')).toBeGreaterThan(before);
    expect(await h.server.cache.getQueuedImages()).toEqual(['ghost']);
    // The image appears at the origin: the next due attempt caches it and leaves the queue.
    h.origin.add('ghost', { data: randomImage(3000) });
    clock += 1000;
    await h.server.maintenance.run();
    expect(await h.server.cache.isCached('ghost')).toBe(true);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
  });
});

describe('management API without an admin token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it.each(['/v2/cache', '/v2/cached_images', '/v2/queued_images'])('GET %s is disabled with 404', async (path) => {
    const response = await send(h.url(path), { headers: admin });
    expect(response.status).toBe(404);
    expect(h.origin.seen).toEqual([]);
  });
});
