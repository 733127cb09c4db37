import { afterEach, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

/** Hop-by-hop headers a client may send, including one its Connection header names. */
const HOP_HEADERS = {
  connection: 'keep-alive, x-hop-private',
  'x-hop-private': 'only-for-the-next-hop',
  'keep-alive': 'timeout=5',
  te: 'trailers',
  'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
  'proxy-connection': 'keep-alive',
};
const HOP_NAMES = ['connection', 'x-hop-private', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection'];

/**
 * Every request the origin saw carries the origin's own host and none of the client's
 * hop-by-hop headers. Returns how many were checked.
 */
function expectCleanRequests(origin: FakeOrigin): number {
  const host = new URL(origin.url).host;
  for (const request of origin.seen) {
    const where = `${request.method} ${request.url}`;
    expect(request.headers.host, where).toBe(host);
    for (const name of HOP_NAMES) {
      // Node's client adds its own `connection` to each request; it must not be the client's.
      if (name === 'connection') expect(request.headers.connection ?? '', where).not.toContain('x-hop-private');
      else expect(request.headers[name], `${where}: ${name}`).toBeUndefined();
    }
  }
  return origin.seen.length;
}

describe('headers sent to the origin', () => {
  const harnesses: Harness[] = [];
  const origins: FakeOrigin[] = [];
  afterEach(async () => {
    for (const harness of harnesses.splice(0)) await harness.stop();
    for (const origin of origins.splice(0)) await origin.stop();
  });

  /** A fake origin that serves only its own name (a name-based virtual host). */
  async function virtualHostOrigin(): Promise<FakeOrigin> {
    const origin = await new FakeOrigin().start();
    origin.virtualHost = new URL(origin.url).host;
    origins.push(origin);
    return origin;
  }

  it('template origin routed by virtual host: data, authorisation, prefetch, readiness and proxied requests all carry its Host and no hop-by-hop header', async () => {
    const origin = await virtualHostOrigin();
    const h = await startHarness(
      { origin: `${origin.url}/v2/images/{id}/file`, authTtl: 0, originToken: 'prefetch-token' },
      origin,
    );
    harnesses.push(h);
    const data = randomImage(40_000);
    origin.add('vhost-img', { data });
    origin.add('vhost-queued', { data: randomImage(1000) });
    origin.add('vhost-ranged', { data: randomImage(1000) });

    const miss = await send(h.url('/v2/images/vhost-img/file'), { headers: { ...HOP_HEADERS, 'x-auth-token': 'a' } });
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.body.equals(data)).toBe(true);

    const hit = await send(h.url('/v2/images/vhost-img/file'), { headers: { ...HOP_HEADERS, 'x-auth-token': 'b' } });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(origin.count(origin.headRequests, 'vhost-img')).toBe(1);

    const ranged = await send(h.url('/v2/images/vhost-ranged/file'), {
      headers: { ...HOP_HEADERS, range: 'bytes=0-9' },
    });
    expect(ranged.status).toBe(206);

    await h.server.cache.queueImage('vhost-queued');
    await h.server.prefetcher.runOnce();
    expect(await h.server.cache.isCached('vhost-queued')).toBe(true);

    expect((await send(h.url('/readyz'))).status).toBe(200);
    const probe = origin.seen.find((request) => request.url === '/');
    expect(probe?.headers['x-auth-token']).toBe('prefetch-token');

    expect(expectCleanRequests(origin)).toBeGreaterThanOrEqual(5);
  });

  it('Glance origin routed by virtual host: metadata, data and proxied requests carry its Host; links still point back here', async () => {
    const origin = await virtualHostOrigin();
    const h = await startHarness({ authTtl: 0 }, origin);
    harnesses.push(h);
    const data = randomImage(20_000);
    origin.add('g-img', { data });

    expect((await send(h.url('/v2/images/g-img/file'), { headers: HOP_HEADERS })).headers['x-cache']).toBe('MISS');
    const hit = await send(h.url('/v2/images/g-img/file'), { headers: HOP_HEADERS });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(data)).toBe(true);

    const listing = await send(h.url('/v2/images'), { headers: HOP_HEADERS });
    expect(listing.status).toBe(200);
    expect(JSON.parse(listing.body.toString()).first).toBe(`http://${new URL(h.server.url).host}/v2/images`);
    const versions = await send(h.url('/versions'), { headers: HOP_HEADERS });
    expect(JSON.parse(versions.body.toString()).versions[0].links[0].href).toBe(
      `http://${new URL(h.server.url).host}/v2/`,
    );

    expect(expectCleanRequests(origin)).toBeGreaterThanOrEqual(5);
    // Client-initiated requests tell the origin which host the client used.
    for (const request of origin.seen) expect(request.headers['x-forwarded-host']).toBe(new URL(h.server.url).host);
  });

  it('keeps an X-Forwarded-Host set by a proxy in front of this server', async () => {
    const origin = await virtualHostOrigin();
    const h = await startHarness({}, origin);
    harnesses.push(h);
    const listing = await send(h.url('/v2/images'), {
      headers: { 'x-forwarded-host': 'images.example.com', 'x-forwarded-proto': 'https' },
    });
    expect(JSON.parse(listing.body.toString()).first).toBe('http://images.example.com/v2/images');
    expect(origin.seen.at(-1)!.headers['x-forwarded-proto']).toBe('https');
  });
});
