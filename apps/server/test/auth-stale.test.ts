import { afterEach, describe, expect, it } from 'vitest';
import { AuthorisationMemory, MAX_REMEMBERED } from '../src/authorisation-memory.js';
import { Authorizer } from '../src/authorizer.js';
import { Origin } from '../src/origin.js';
import { STALE_WARNING } from '../src/stale-serving.js';
import { FakeOrigin } from '@imgcache/test-origin';
import { logCollector, randomImage, startHarness, waitFor, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

const good = { 'x-auth-token': 'good' };
const other = { 'x-auth-token': 'other' };

async function metric(h: Harness, name: string): Promise<number> {
  const text = (await send(h.url('/metrics'))).body.toString();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('--auth-stale: serving cached images through an origin outage', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** A server with `private` cached for `good` (authorised on the miss), then an origin outage. */
  async function cachedThenOutage(
    authStale: number,
    outage: number | 'silent' | 'down',
  ): Promise<{ data: Buffer; lines: Record<string, unknown>[] }> {
    const collector = logCollector();
    h = await startHarness({ authTtl: 0, authStale, originHeaderTimeout: 1 }, undefined, {
      logger: { level: 'info', stream: collector.stream },
    });
    const data = randomImage(30_000);
    h.origin.add('private', { data, allowedTokens: ['good', 'other'] });
    expect((await send(h.url('/v2/images/private/file'), { headers: good })).headers['x-cache']).toBe('MISS');
    if (outage === 'down') await h.origin.stop();
    else h.origin.outage = outage;
    return { data, lines: collector.lines };
  }

  for (const [outage, reason] of [
    ['down', 'unreachable'],
    [503, 'server_error'],
    [500, 'server_error'],
    ['silent', 'timeout'],
  ] as const) {
    it(`serves a client authorised within the window as HIT-STALE with a Warning, a metric and a log line (origin ${outage})`, async () => {
      const { data, lines } = await cachedThenOutage(3600, outage);
      const response = await send(h!.url('/v2/images/private/file'), { headers: good });
      expect(response.status).toBe(200);
      expect(response.headers['x-cache']).toBe('HIT-STALE');
      expect(response.headers.warning).toBe(STALE_WARNING);
      expect(response.body.equals(data)).toBe(true);
      expect(await metric(h!, `imgcache_stale_auth_serves_total{reason="${reason}"}`)).toBe(1);
      expect(await metric(h!, 'imgcache_requests_total{result="hit_stale"}')).toBe(1);
      expect(await metric(h!, 'imgcache_requests_total{result="hit"}')).toBe(0);
      await waitFor(() => lines.some((line) => line.msg === 'request' && line.xCache === 'HIT-STALE'));
      const warning = lines.find((line) => String(line.msg).includes('earlier authorisation'));
      expect(warning).toMatchObject({ level: 40, imageId: 'private', reason });
      // A client the origin never authorised for the image gets the outage, not the bytes.
      const stranger = await send(h!.url('/v2/images/private/file'), { headers: other });
      expect(stranger.status).toBeGreaterThanOrEqual(500);
      expect(stranger.headers['x-cache']).toBeUndefined();
    });
  }

  it("keeps today's behaviour by default (0): the outage is passed on", async () => {
    await cachedThenOutage(0, 503);
    const response = await send(h!.url('/v2/images/private/file'), { headers: good });
    expect(response.status).toBe(503);
    expect(response.headers['x-cache']).toBeUndefined();
    expect(await metric(h!, 'imgcache_stale_auth_serves_total{reason="server_error"}')).toBe(0);
  });

  it('never overrides a refusal: 403 and 404 are passed on, and erase the earlier authorisation', async () => {
    await cachedThenOutage(3600, 403);
    expect((await send(h!.url('/v2/images/private/file'), { headers: good })).status).toBe(403);
    h!.origin.outage = 404;
    expect((await send(h!.url('/v2/images/private/file'), { headers: good })).status).toBe(404);
    // After a refusal, a later outage does not bring the old authorisation back.
    h!.origin.outage = 503;
    const response = await send(h!.url('/v2/images/private/file'), { headers: good });
    expect(response.status).toBe(503);
    expect(response.headers['x-cache']).toBeUndefined();
  });

  it('serves stale only within the window since the last authorisation (a clock the test moves)', async () => {
    const origin = await new FakeOrigin().start();
    const client = new Origin(origin.url, {
      withheldTokens: [],
      timeouts: { connect: 1000, headers: 1000, idle: 1000 },
    });
    let now = 1_000_000;
    const authorizer = new Authorizer(client, { ttlSeconds: 0, staleSeconds: 600 }, () => now);
    try {
      origin.add('img', { data: randomImage(100), allowedTokens: ['good'] });
      expect(await authorizer.check('img', good)).toEqual({ allowed: true });
      origin.outage = 502;
      now += 599_999;
      expect(await authorizer.check('img', good)).toMatchObject({
        allowed: true,
        stale: { reason: 'server_error', ageSeconds: 599 },
      });
      now += 1;
      expect(await authorizer.check('img', good)).toMatchObject({ allowed: false, status: 502 });
      // A fresh authorisation opens a new window.
      origin.outage = undefined;
      expect(await authorizer.check('img', good)).toEqual({ allowed: true });
      await origin.stop();
      expect(await authorizer.check('img', good)).toMatchObject({
        allowed: true,
        stale: { reason: 'unreachable', ageSeconds: 0 },
      });
      // Other credentials were never authorised: the outage surfaces as the origin error.
      await expect(authorizer.check('img', other)).rejects.toMatchObject({ code: 'ERR_IMGCACHE_ORIGIN' });
    } finally {
      await client.close();
      await origin.stop().catch(() => undefined);
    }
  });
});

describe('AuthorisationMemory', () => {
  it('is bounded, dropping the least recently authorised pairs first', () => {
    const memory = new AuthorisationMemory(() => 0);
    memory.record('first', good);
    for (let index = 0; index < MAX_REMEMBERED; index++) memory.record(`img-${index}`, good);
    expect(memory.size).toBe(MAX_REMEMBERED);
    expect(memory.age('first', good)).toBeUndefined();
    expect(memory.age(`img-${MAX_REMEMBERED - 1}`, good)).toBe(0);
  });

  it('keys on a digest of the credentials, never on the credentials in clear', () => {
    const memory = new AuthorisationMemory(() => 0);
    const secret = 'a-very-secret-token';
    memory.record('img', { 'x-auth-token': secret, authorization: 'Bearer another-secret' });
    const kept = JSON.stringify([...(memory as unknown as { authorisedAt: Map<string, number> }).authorisedAt.keys()]);
    expect(kept).not.toContain(secret);
    expect(kept).not.toContain('another-secret');
    expect(memory.age('img', { 'x-auth-token': secret, authorization: 'Bearer another-secret' })).toBe(0);
    expect(memory.age('img', { 'x-auth-token': secret })).toBeUndefined();
  });
});
